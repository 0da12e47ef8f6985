"""The install's Ed25519 signing key, and the public keys it trusts.

Every output's manifest is signed, so a signature must be possible the first time a person samples:
the key is created on first use, in a folder only its owner can read (``$GANVAS_KEY_DIR``, else
``$XDG_CONFIG_HOME/ganvas/keys``, else ``~/.config/ganvas/keys``), never in the data cache, which people
delete. A manifest names its key by id and carries the public key, so anyone can check the signature;
whether the *signer* is one you trust is a separate question: your own key, and the public keys you
added with ``ganvas keys trust FILE`` (kept in ``trusted/``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ganvas.errors import GanvasError

PRIVATE = "signing-key.pem"
PUBLIC = "signing-key.pub.pem"
TRUSTED = "trusted"
CREATE_HINT = "`ganvas keys create` makes one (so does any command that writes outputs)"


def key_dir() -> Path:
    """Where the signing key lives (see the module docstring)."""
    env = os.environ.get("GANVAS_KEY_DIR")
    if env:
        return Path(env).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "ganvas" / "keys"


def key_id(public_raw: bytes) -> str:
    """A short, stable name for a public key: ``ed25519:`` and 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def key_number(kid: str) -> int:
    """The 16-bit number of a key id that an output's watermark carries (its first four hex digits)."""
    return int(kid.split(":")[-1][:4], 16)


@dataclass(frozen=True)
class PublicKey:
    raw: bytes                      # the 32-byte Ed25519 public key

    @property
    def id(self) -> str:
        return key_id(self.raw)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode()

    def pem(self) -> str:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def verifies(self, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    folder: Path                    # where the key files are
    private_pem: bytes              # PKCS#8 PEM of the private key (never leaves the folder)
    public: PublicKey

    @property
    def id(self) -> str:
        return self.public.id

    def sign(self, message: bytes) -> bytes:
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(self.private_pem, password=None)
        return key.sign(message)


def _private_path(folder: Path) -> Path:
    return folder / PRIVATE


def load_key(folder: Path | None = None) -> SigningKey:
    """The signing key in `folder` (default `key_dir()`); a missing or unreadable one is a one-line error."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = Path(folder) if folder is not None else key_dir()
    path = _private_path(folder)
    if not path.exists():
        raise GanvasError(f"no signing key at {path}: {CREATE_HINT}")
    try:
        pem = path.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        why = " ".join(str(exc).split())[:120]
        raise GanvasError(f"cannot read the signing key {path} ({type(exc).__name__}: {why}); restore it, or move it "
                          f"away and {CREATE_HINT}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise GanvasError(f"the signing key {path} is not an Ed25519 key; move it away and {CREATE_HINT}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise GanvasError(f"the signing key {path} can be read by others (mode {mode:o}): run chmod 600 {path}")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return SigningKey(folder, pem, PublicKey(raw))


def create_key(folder: Path | None = None) -> SigningKey:
    """A new key in `folder` (0700), the private half 0600; refuses to replace an existing one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ganvas.files import write_bytes

    folder = Path(folder) if folder is not None else key_dir()
    path = _private_path(folder)
    if path.exists():
        raise GanvasError(f"a signing key already exists at {path}: ganvas never replaces it (move it away first)")
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
    except OSError as exc:
        raise GanvasError(f"cannot create the key folder {folder} ({exc.strerror or exc})") from None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    old = os.umask(0o077)                  # the temporary file is owner-only from its first byte
    try:
        write_bytes(path, pem)
    finally:
        os.umask(old)
    path.chmod(0o600)
    signing = load_key(folder)
    write_bytes(folder / PUBLIC, signing.public.pem().encode())
    return signing


def signing_key(folder: Path | None = None) -> SigningKey:
    """The signing key, created on first use."""
    folder = Path(folder) if folder is not None else key_dir()
    if not _private_path(folder).exists():
        return create_key(folder)
    return load_key(folder)


def read_public(path: Path) -> PublicKey:
    """A public key file (PEM, as `ganvas keys export` writes) — one-line error if it is not one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise GanvasError(f"cannot read a public key from {path}: expected a PEM file as `ganvas keys export` "
                          f"writes ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise GanvasError(f"{path} holds a public key that is not Ed25519")
    return PublicKey(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def trusted_keys(folder: Path | None = None) -> dict[str, PublicKey]:
    """Key id → public key of every key this install trusts: its own (when it has one) and those added."""
    from ganvas.console import warning

    folder = Path(folder) if folder is not None else key_dir()
    out: dict[str, PublicKey] = {}
    own = folder / PUBLIC
    for path in ([own] if own.exists() else []) + sorted((folder / TRUSTED).glob("*.pem")):
        try:
            key = read_public(path)
        except GanvasError as exc:
            warning(f"skipping a trusted key: {exc}")
            continue
        out[key.id] = key
    return out


def trust(path: Path, folder: Path | None = None) -> PublicKey:
    """Add another install's public key (from `ganvas keys export`) to the trusted ones."""
    from ganvas.files import write_bytes

    key = read_public(path)
    folder = Path(folder) if folder is not None else key_dir()
    (folder / TRUSTED).mkdir(parents=True, exist_ok=True, mode=0o700)
    write_bytes(folder / TRUSTED / f"{key.id.split(':')[-1]}.pem", key.pem().encode())
    return key
