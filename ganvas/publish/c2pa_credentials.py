"""C2PA content credentials on PNG, JPEG and WAV outputs, signed offline by a local certificate chain.

ganvas's own signed manifest says what made an output to anyone who runs `ganvas verify`; C2PA content
credentials say it to every other tool that reads the standard (c2pa readers, browsers' extensions,
image sites): the output is `trainedAlgorithmicMedia`, made by ganvas, with ganvas's provenance record
carried as a custom assertion. Everything runs offline: no timestamp authority, no OCSP, no remote
manifests. The certificates come from a chain this install creates on first use (`ensure_chain`): a
local root that issues one signer certificate. A reader elsewhere sees the credentials as valid (the
signature and the content hashes check out) but not trusted, unless it adds this install's root as a
trust anchor (`read(..., key_dir)` does that here).

c2pa-python loads a large native library, so it is imported on first use: `import ganvas` stays fast, and
a machine where it cannot load says so in one line when credentials are asked for.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ganvas import files
from ganvas.errors import GanvasError
from ganvas.version import __version__

FOLDER = "c2pa"                              # the chain's folder inside the caller's key folder
ROOT_FILE = "root.pem"                       # the local root certificate: the trust anchor to share
SIGNER_FILE = "signer.pem"                   # the signer certificate the root issued (embedded in each asset)
KEY_FILE = "signer.key"                      # the signer's Ed25519 private key (owner-only)
LABEL = "org.ganvas.provenance"              # the custom assertion holding ganvas's provenance record
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MIMES = {"image/png": "image/png", "image/jpeg": "image/jpeg",    # what ganvas signs → c2pa's name
         "audio/wav": "audio/wav", "audio/x-wav": "audio/wav"}
ROOT_YEARS = 20                              # validity of the root certificate
SIGNER_YEARS = 10                            # validity of the signer certificate (no timestamp authority:
                                             # readers check the signature against it at reading time)
# offline everywhere: never fetch a remote manifest or an OCSP response; no thumbnail (a 64×64 PNG
# would grow by a 32 KB JPEG of itself)
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_SIGNING = {**_OFFLINE, "builder": {"thumbnail": {"enabled": False}}}


@dataclass(frozen=True)
class Chain:
    """The local certificate chain: root → signer, as files and as PEM text."""

    folder: Path                             # key_dir/c2pa (0700)
    root_path: Path                          # root.pem
    signer_path: Path                        # signer.pem
    key_path: Path                           # signer.key (0600)
    root_pem: str                            # the trust anchor
    signer_pem: str                          # the certificate chain c2pa embeds (the signer's certificate)
    key_pem: str = field(repr=False)         # never printed

    @property
    def root_sha256(self) -> str:
        """The root certificate's SHA-256 fingerprint (hex, of its DER): what a person compares by eye."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        der = x509.load_pem_x509_certificate(self.root_pem.encode()).public_bytes(serialization.Encoding.DER)
        return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """What c2pa's reader found in an asset's C2PA manifest."""

    valid: bool                              # signature and content hashes check out (trusted or not)
    trusted: bool                            # ... and the signer chains up to a configured trust anchor
    state: str                               # c2pa's validation state: Invalid, Valid or Trusted
    status: list[str]                        # c2pa's failure codes, e.g. assertion.dataHash.mismatch
    claim: dict[str, Any] | None             # ganvas's provenance record (the org.ganvas.provenance assertion)
    digital_source_type: str | None          # of the c2pa.created action
    generator: str | None                    # "name/version" of the claim generator, e.g. ganvas/0.1.0
    signer: str | None                       # the signing certificate's common name
    title: str | None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


def _c2pa() -> ModuleType:
    """c2pa-python, or a one-line error saying it cannot be loaded on this machine."""
    try:
        import c2pa
    except (ImportError, OSError) as exc:    # OSError: the native library failed to load
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GanvasError(f"C2PA content credentials need c2pa-python, which cannot be loaded here: {first}") from exc
    return c2pa


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --- the local certificate chain -------------------------------------------------------------------

def ensure_chain(key_dir: Path) -> Chain:
    """The chain in `key_dir/c2pa/`, created on first use and reused afterwards.

    The folder is built under a temporary name (private from the start) and renamed into place: a crash
    leaves no half-made chain, and of two processes creating it at once the first one's chain wins and
    the other reuses it. The root's private key is discarded once it has issued the signer certificate:
    nothing can issue another signer under this root, so the signer key is the one secret to guard."""
    key_dir = Path(key_dir)
    folder = key_dir / FOLDER
    if not folder.exists():
        _create_chain(key_dir, folder)
    return _load_chain(folder)


def _create_chain(key_dir: Path, folder: Path) -> None:
    try:
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.", suffix=".tmp", dir=key_dir))   # 0700
    except OSError as exc:
        raise files.write_error(folder, exc) from exc
    try:
        root_pem, signer_pem, key_pem = _issue()
        files.write_text(tmp / KEY_FILE, key_pem)
        os.chmod(tmp / KEY_FILE, 0o600)       # no one else could reach it: the folder is 0700
        files.write_text(tmp / SIGNER_FILE, signer_pem)
        files.write_text(tmp / ROOT_FILE, root_pem)
        try:
            os.rename(tmp, folder)           # fails when another process made the folder meanwhile
        except OSError:
            if not folder.is_dir():
                raise
    except OSError as exc:
        raise files.write_error(folder, exc) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)     # gone already when the rename succeeded


def _issue() -> tuple[str, str, str]:
    """A new root certificate and a signer certificate issued by it, with the profile C2PA requires of a
    signer: not a CA, digitalSignature, the emailProtection and documentSigning extended key usages,
    subject and authority key identifiers. Ed25519 throughout (c2pa signs it without OpenSSL)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(hours=1)            # tolerate a reader's clock a little behind
    root_key = ed25519.Ed25519PrivateKey.generate()
    signer_key = ed25519.Ed25519PrivateKey.generate()
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ganvas local C2PA root"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ganvas")])
    signer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ganvas C2PA signer"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ganvas")])

    def usage(sign: bool, certs: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=certs,
                             crl_sign=certs, encipher_only=False, decipher_only=False)

    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=365 * ROOT_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage(sign=False, certs=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, None))
    signer = (x509.CertificateBuilder().subject_name(signer_name).issuer_name(root_name)
              .public_key(signer_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(start).not_valid_after(now + datetime.timedelta(days=365 * SIGNER_YEARS))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(sign=True, certs=False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION,
                                                    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]),  # documentSigning
                             critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                             critical=False)
              .sign(root_key, None))
    pem = serialization.Encoding.PEM
    key_pem = signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return root.public_bytes(pem).decode(), signer.public_bytes(pem).decode(), key_pem.decode()


def _load_chain(folder: Path) -> Chain:
    """The chain's files, checked: all present, the key owner-only, the signer certificate not expired."""
    paths = {name: folder / name for name in (ROOT_FILE, SIGNER_FILE, KEY_FILE)}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise GanvasError(f"the C2PA chain in '{folder}' is incomplete (no {', '.join(missing)}); remove the "
                          f"folder to create a new chain (outputs signed by the old one then stop being trusted)")
    mode = stat.S_IMODE(paths[KEY_FILE].stat().st_mode)
    if mode & 0o077:
        raise GanvasError(f"the C2PA signer key '{paths[KEY_FILE]}' is readable by others (mode {mode:04o}); "
                          f"run: chmod 600 '{paths[KEY_FILE]}'")
    try:
        texts = {name: path.read_text("ascii") for name, path in paths.items()}
    except (OSError, UnicodeDecodeError) as exc:
        raise GanvasError(f"cannot read the C2PA chain in '{folder}': {_one_line(exc)}") from exc
    _check_signer(paths[SIGNER_FILE], texts[SIGNER_FILE])
    return Chain(folder=folder, root_path=paths[ROOT_FILE], signer_path=paths[SIGNER_FILE],
                 key_path=paths[KEY_FILE], root_pem=texts[ROOT_FILE], signer_pem=texts[SIGNER_FILE],
                 key_pem=texts[KEY_FILE])


def _check_signer(path: Path, pem: str) -> None:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise GanvasError(f"'{path}' is not a PEM certificate: {_one_line(exc)}") from exc
    if cert.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
        raise GanvasError(f"the C2PA signer certificate '{path}' expired on {cert.not_valid_after_utc:%Y-%m-%d}; "
                          f"remove the folder '{path.parent}' to create a new chain")


# --- signing and reading ---------------------------------------------------------------------------

def _format(mime: str, c2pa: ModuleType, kind: type) -> str:
    fmt = MIMES.get(mime.lower().strip())
    if fmt is None:
        raise GanvasError(f"C2PA content credentials cover {', '.join(sorted(MIMES))}, not '{mime}'")
    if fmt not in kind.get_supported_mime_types():
        raise GanvasError(f"c2pa-python {c2pa.__version__} on this machine cannot handle '{mime}' "
                          f"({kind.__name__.lower()})")
    return fmt


def manifest_definition(claim: dict[str, Any], title: str | None = None) -> dict[str, Any]:
    """The manifest ganvas signs: claim generator ganvas/<version>, a c2pa.created action of trained
    algorithmic media, and `claim` (ganvas's provenance record) as the org.ganvas.provenance assertion."""
    definition: dict[str, Any] = {
        "claim_generator_info": [{"name": "ganvas", "version": __version__}],
        "assertions": [
            {"label": "c2pa.actions",
             "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED}]}},
            {"label": LABEL, "data": claim},
        ],
    }
    if title is not None:
        definition["title"] = title
    return definition


def sign(data: bytes, mime: str, claim: dict[str, Any], key_dir: Path, title: str | None = None) -> bytes:
    """`data` (a PNG, JPEG or WAV file's bytes) with C2PA content credentials embedded, signed by the local
    chain in `key_dir` (created on first use). Signing again replaces any C2PA manifest already there."""
    c2pa = _c2pa()
    fmt = _format(mime, c2pa, c2pa.Builder)
    if not isinstance(claim, dict):
        raise GanvasError(f"the C2PA provenance claim must be a JSON object, got {type(claim).__name__}")
    try:
        json.dumps(claim, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise GanvasError(f"the C2PA provenance claim is not plain JSON: {_one_line(exc)}") from exc
    chain = ensure_chain(key_dir)
    try:
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ED25519, chain.signer_pem.encode(), chain.key_pem.encode(),
                                   None)     # None: no timestamp authority (offline)
        with c2pa.Signer.from_info(info) as signer, c2pa.Context.from_dict(_SIGNING) as context:
            out = io.BytesIO()
            c2pa.Builder(manifest_definition(claim, title), context=context).sign(signer, fmt, io.BytesIO(data), out)
    except c2pa.C2paError as exc:
        raise GanvasError(f"cannot sign this {mime} with C2PA credentials: {_one_line(exc)}") from exc
    return out.getvalue()


def read(data: bytes, mime: str, key_dir: Path | None = None) -> Credentials | None:
    """The C2PA credentials in `data` as c2pa's own reader validates them, or None when it has none.

    With `key_dir`, that install's local root (if it made one) is the trust anchor, so `trusted` can be
    True; otherwise no anchor is configured and a well-formed, intact manifest reads as valid but not
    trusted. A file c2pa cannot parse (truncated, corrupt) is a one-line error."""
    c2pa = _c2pa()
    fmt = _format(mime, c2pa, c2pa.Reader)
    settings: dict[str, Any] = dict(_OFFLINE)
    if key_dir is not None:
        root = Path(key_dir) / FOLDER / ROOT_FILE
        try:
            settings["trust"] = {"trust_anchors": root.read_text("ascii")}
        except FileNotFoundError:
            pass                             # no chain made here yet: nothing this install signed to trust
        except (OSError, UnicodeDecodeError) as exc:
            raise GanvasError(f"cannot read the C2PA root certificate '{root}': {_one_line(exc)}") from exc
    try:
        with c2pa.Context.from_dict(settings) as context:
            reader = c2pa.Reader.try_create(fmt, io.BytesIO(data), None, context)
            if reader is None:
                return None
            with reader:
                store = json.loads(reader.json())
                state = reader.get_validation_state() or "Invalid"
    except c2pa.C2paError as exc:
        raise GanvasError(f"cannot read C2PA credentials from this {mime}: {_one_line(exc)}") from exc
    return _credentials(store, state)


def _credentials(store: dict[str, Any], state: str) -> Credentials:
    manifest = store.get("manifests", {}).get(store.get("active_manifest") or "", {})
    claim = source = None
    for assertion in manifest.get("assertions", []):
        label, content = assertion.get("label", ""), assertion.get("data")
        if label == LABEL and isinstance(content, dict):
            claim = content
        elif label.split(".v")[0] == "c2pa.actions" and isinstance(content, dict):   # c2pa.actions(.v2)
            for action in content.get("actions", []):
                if action.get("action") == "c2pa.created":
                    source = action.get("digitalSourceType", source)
    info = (manifest.get("claim_generator_info") or [{}])[0]
    generator = manifest.get("claim_generator") or (
        f"{info['name']}/{info['version']}" if "name" in info and "version" in info else info.get("name"))
    return Credentials(
        valid=state in ("Valid", "Trusted"), trusted=state == "Trusted", state=state,
        status=[entry.get("code", "") for entry in store.get("validation_status", [])],
        claim=claim, digital_source_type=source, generator=generator,
        signer=manifest.get("signature_info", {}).get("common_name"), title=manifest.get("title"))
