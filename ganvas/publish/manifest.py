"""The signed provenance manifest of one output.

A manifest is a claim and its signature. The claim holds the provenance record (model, checkpoint,
recipe, dataset, licence, versions, time: ``ganvas.explore.provenance``), what the content is (its
media type and a SHA-256 of the content itself: pixels, audio frames or file bytes, so re-compressing a
PNG keeps it valid while changing one pixel does not) and the watermark it carries (or that it was
turned off). The signature is Ed25519 over the claim's canonical JSON (sorted keys, no spaces, UTF-8),
so any program can check it without ganvas's code.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from ganvas.errors import GanvasError
from ganvas.publish.keys import PublicKey, SigningKey

FORMAT = "ganvas-manifest"
VERSION = 1


def canonical(claim: dict[str, Any]) -> bytes:
    """The bytes a signature covers: `claim` as sorted, compact UTF-8 JSON."""
    return json.dumps(claim, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def make_claim(record: dict[str, Any], media_type: str, content_hash: str, hash_of: str,
               watermark: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "provenance": record,
            "content": {"media_type": media_type, "sha256": content_hash, "of": hash_of},
            "watermark": watermark}


def sign(claim: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The manifest: `claim` with its Ed25519 signature and the signer's public key."""
    sig = key.sign(canonical(claim))
    return {"claim": claim, "signature": {"alg": "Ed25519", "key_id": key.id, "public_key": key.public.b64,
                                          "value": base64.b64encode(sig).decode()}}


def to_bytes(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Checked:
    """What a manifest's signature says: `valid` (the claim is what its key signed) and who signed it."""

    valid: bool
    key_id: str | None
    trusted: bool                   # the key is this install's own or one it trusts
    problem: str = ""               # why not valid, in a few words


def parse(data: bytes, where: str) -> dict[str, Any]:
    """A manifest from its JSON bytes; a malformed one is a one-line error naming `where`."""
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GanvasError(f"{where}: the ganvas manifest is not valid JSON ({exc.__class__.__name__})") from None
    if (not isinstance(manifest, dict) or not isinstance(manifest.get("claim"), dict)
            or manifest["claim"].get("format") != FORMAT or not isinstance(manifest.get("signature"), dict)):
        raise GanvasError(f"{where}: not a {FORMAT} (expected an object with 'claim' and 'signature')")
    return manifest


def check(manifest: dict[str, Any], trusted: dict[str, PublicKey]) -> Checked:
    """Check `manifest`'s signature with the public key it carries, and whether that key is trusted."""
    sig = manifest.get("signature", {})
    try:
        public = PublicKey(base64.b64decode(sig["public_key"], validate=True))
        value = base64.b64decode(sig["value"], validate=True)
    except (KeyError, TypeError, ValueError):
        return Checked(False, sig.get("key_id") if isinstance(sig, dict) else None, False,
                       "signature fields missing or malformed")
    if sig.get("alg") != "Ed25519" or len(public.raw) != 32:
        return Checked(False, sig.get("key_id"), False, f"unsupported signature algorithm {sig.get('alg')!r}")
    if sig.get("key_id") != public.id:
        return Checked(False, sig.get("key_id"), False, "the key id does not match the public key")
    if not public.verifies(value, canonical(manifest["claim"])):
        return Checked(False, public.id, public.id in trusted, "the signature does not match the claim (tampered)")
    return Checked(True, public.id, public.id in trusted)
