"""Domains: what a kind of data is (image, music, text), independent of any model.

A domain turns stored samples into tensors and back, renders outputs for people (PNG, MIDI, text)
and names the metrics that judge it. The training loop only talks to a domain, never to pixels.
"""

from ganvas import registry

DOMAINS = registry.DOMAINS   # the table lives in ganvas/registry.py (the one catalogue)


def get_domain(name: str, args: dict | None = None):
    """An instance of the domain registered as `name`, laid out by `args` (a dataset's domain_args)."""
    return DOMAINS.get(name)(**(args or {}))
