"""Domains: what a kind of data is (image, music, text), independent of any model.

A domain turns stored samples into tensors and back, renders outputs for people (PNG, MIDI, text)
and names the metrics that judge it. The training loop only talks to a domain, never to pixels.
"""

from ganvas.registry import Registry

DOMAINS = Registry("domain", {
    "image": "ganvas.domains.image:ImageDomain",
    "music": "ganvas.domains.music:MusicDomain",
})


def get_domain(name: str, args: dict | None = None):
    """An instance of the domain registered as `name`, laid out by `args` (a dataset's domain_args)."""
    return DOMAINS.get(name)(**(args or {}))
