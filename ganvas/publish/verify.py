"""`ganvas verify`: is this file what ganvas made, unchanged, and who made it from what?

Each check answers one question, and the verdict needs all of those that can fail: a manifest is
present; its signature is valid; its key is one this install trusts (its own, or added with
``ganvas keys trust``); the content still matches the hash the manifest signed. The watermark and C2PA
credentials are reported beside the verdict: the watermark is what survives when a file is re-encoded
and its manifest stripped, so it says "made by ganvas, key K" when nothing else can.

A file that cannot be read (missing, truncated, damaged, of a format ganvas does not know) is an error,
not a verdict: ``status`` is "verified", "not verified" or "error" (exit codes 0, 1, 2).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganvas.errors import GanvasError
from ganvas.publish import containers, manifest
from ganvas.publish.keys import PublicKey, key_dir, key_number, trusted_keys

VERIFIED, NOT_VERIFIED, ERROR = "verified", "not verified", "error"
EXIT = {VERIFIED: 0, NOT_VERIFIED: 1, ERROR: 2}
PICTURES = ("png", "jpeg", "webp", "gif")
SUPPORTED = "PNG, JPEG, WebP, GIF, WAV or MIDI, or a text/JSON file with its .ganvas.json sidecar"


@dataclass
class Verification:
    """What `verify_file` found (``to_record`` for --json)."""

    path: str
    status: str = NOT_VERIFIED
    format: str | None = None
    manifest: str = "absent"            # absent | embedded | sidecar | malformed
    signature: str | None = None        # valid | invalid | None (no manifest)
    signer: str | None = None           # key id
    signer_trusted: bool | None = None
    content: str | None = None          # matches | changed | None
    watermark: dict[str, Any] | None = None
    c2pa: dict[str, Any] | None = None
    made_by: dict[str, Any] = field(default_factory=dict)   # model, dataset, licence, recipe, when
    problems: list[str] = field(default_factory=list)       # why not verified, or the error

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """The verdict for a person: a headline and one line per check."""
        out = [f"{self.path}: {self.status.upper()}" + (f" — {'; '.join(self.problems)}" if self.problems else "")]
        if self.status == ERROR:
            return out
        if self.manifest in ("embedded", "sidecar"):
            who = "this install's or a trusted key" if self.signer_trusted else "a key this install does not trust"
            out.append(f"  manifest: {self.manifest}, signature {self.signature}, signed by {self.signer} ({who});"
                       f" content {self.content or 'not checked'}")
        else:
            out.append(f"  manifest: {self.manifest}")
        if self.watermark is not None:
            w = self.watermark
            out.append("  watermark: " + (f"found, payload {w['payload']} (key {w['key']}, output {w['output']})"
                                          + (f", {w['agrees']}" if w.get("agrees") else "")
                                          if w.get("found") else "not found"))
        if self.c2pa is not None:
            c = self.c2pa
            out.append("  C2PA: " + ("absent" if not c.get("present") else
                                     f"{'valid' if c.get('valid') else 'INVALID'}"
                                     f"{', trusted' if c.get('trusted') else ', untrusted signer'}"
                                     + (f", {c.get('digital_source_type').rsplit('/', 1)[-1]}"
                                        if c.get("digital_source_type") else "")
                                     + (f" ({', '.join(c['status'])})" if c.get("status") and not c.get("valid")
                                        else "")))
        if self.made_by:
            m = self.made_by
            out.append(f"  made by: {m.get('model')} ({m.get('architecture')}, step {m.get('step')}) on "
                       f"{m.get('made')}; recipe {m.get('recipe')}")
            out.append(f"  dataset: {m.get('dataset')} — licence: {m.get('licence')}")
        return out


def _made_by(claim: dict[str, Any]) -> dict[str, Any]:
    record = claim.get("provenance") or {}
    model, data = record.get("model") or {}, record.get("dataset") or {}
    recipe = {k: v for k, v in (record.get("recipe") or {}).items() if v is not None}
    return {"model": model.get("name"), "architecture": model.get("model"), "step": model.get("step"),
            "checkpoint_sha256": model.get("sha256"), "made": record.get("made"), "recipe": recipe,
            "dataset": data.get("name"), "fingerprint": data.get("fingerprint"),
            "licence": data.get("licence"), "versions": record.get("versions")}


def _pixels(data: bytes, fmt: str) -> Any:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.seek(0)
            im.load()
            frame = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
    except (OSError, UnidentifiedImageError, ValueError, EOFError) as exc:
        raise containers.CorruptFile(f"the {fmt.upper()} picture cannot be decoded "
                                     f"({' '.join(str(exc).split())[:100]})") from None
    return np.asarray(frame)


def _watermark(data: bytes, fmt: str, claim: dict[str, Any] | None, signer: str | None) -> dict[str, Any]:
    from ganvas.publish.output import output_number
    from ganvas.publish.watermark import detect

    found = detect(_pixels(data, fmt))
    out = found.to_record()
    if found.found and found.payload is not None:
        key, number = found.payload >> 16, found.payload & 0xFFFF
        out.update(payload=f"{found.payload:08x}", key=f"{key:04x}", output=f"{number:04x}")
        if claim is not None and signer:
            same = key == key_number(signer) and number == output_number(claim.get("provenance") or {})
            out["agrees"] = "matches the manifest" if same else "does NOT match the manifest's key and output"
    return out


def _c2pa(data: bytes, fmt: str, key_folder: Path | None) -> dict[str, Any]:
    from ganvas.publish.c2pa_credentials import read

    mime = {"png": "image/png", "jpeg": "image/jpeg", "wav": "audio/wav"}[fmt]
    creds = read(data, mime, key_folder)
    return {"present": False} if creds is None else {"present": True, **creds.to_record()}


def verify_bytes(data: bytes, name: str, sidecar: bytes | None = None, *, trusted: dict[str, PublicKey] | None = None,
                 key_folder: Path | None = None) -> Verification:
    """Verify a file's bytes (`name` for messages and to guess text formats; `sidecar`: its .ganvas.json)."""
    v = Verification(name)
    key_folder = key_folder if key_folder is not None else key_dir()     # its C2PA root is the trust anchor
    trusted = trusted_keys(key_folder) if trusted is None else trusted
    if not data:
        v.status, v.problems = ERROR, ["the file is empty"]
        return v
    fmt = containers.sniff(data)
    if fmt is None:
        suffix = Path(name).suffix.lower().lstrip(".")
        if suffix in ("txt", "json") or sidecar is not None:
            fmt = suffix if suffix in containers.MEDIA_TYPES else "txt"
        else:
            v.status, v.problems = ERROR, [f"unsupported format: expected {SUPPORTED}"]
            return v
    v.format = fmt
    try:
        blob = containers.extract(data, fmt, name) if fmt in containers.EMBEDDED else None
        if blob is not None:
            v.manifest = "embedded"
        elif sidecar is not None:
            blob, v.manifest = sidecar, "sidecar"
        claim = None
        if blob is not None:
            try:
                signed = manifest.parse(blob, name)
            except GanvasError as exc:
                v.manifest = "malformed"
                v.problems.append(f"the manifest is malformed ({str(exc).split(': ', 1)[-1]})")
                signed = None
            if signed is not None:
                claim = signed["claim"]
                checked = manifest.check(signed, trusted)
                v.signature, v.signer, v.signer_trusted = ("valid" if checked.valid else "invalid"), checked.key_id, \
                    checked.trusted
                if not checked.valid:
                    v.problems.append(f"the manifest's signature is invalid: {checked.problem}")
                elif not checked.trusted:
                    v.problems.append(f"signed by an unknown key {checked.key_id} (add it with `ganvas keys trust`)")
                digest, _ = containers.content_hash(data, fmt, name)
                v.content = "matches" if digest == (claim.get("content") or {}).get("sha256") else "changed"
                if v.content == "changed":
                    v.problems.append("the content was changed after signing")
                v.made_by = _made_by(claim)
        else:
            v.problems.append("no ganvas manifest (never signed, or stripped by an editor or re-encoding)")
        if fmt in PICTURES:
            v.watermark = _watermark(data, fmt, claim, v.signer)
        if fmt in ("png", "jpeg", "wav"):
            v.c2pa = _c2pa(data, fmt, key_folder)
    except containers.CorruptFile as exc:
        v.status, v.problems = ERROR, [str(exc).replace(f"{name}: ", "")]
        return v
    v.status = VERIFIED if not v.problems else NOT_VERIFIED
    return v


def verify_file(path: str | Path, *, trusted: dict[str, PublicKey] | None = None,
                key_folder: Path | None = None) -> Verification:
    """Verify the file at `path` (its sidecar manifest is read when there is one)."""
    from ganvas.publish.output import sidecar_path

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Verification(str(path), ERROR, problems=[f"cannot read it ({exc.strerror or exc})"])
    side = sidecar_path(path)
    sidecar = side.read_bytes() if side.is_file() else None
    return verify_bytes(data, str(path), sidecar, trusted=trusted, key_folder=key_folder)
