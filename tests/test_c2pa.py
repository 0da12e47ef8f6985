"""C2PA content credentials: a local chain is made once and reused; PNG, JPEG and WAV outputs signed with it
read back through c2pa's own reader as valid trainedAlgorithmicMedia by ganvas with our claim intact;
trusted only with the local root as anchor; an edit after signing is caught as a hash mismatch."""

from __future__ import annotations

import io
import stat
import struct
import wave

import numpy as np
import pytest
from PIL import Image

from ganvas.errors import GanvasError
from ganvas.publish import c2pa_credentials as cc
from ganvas.version import __version__

CLAIM = {"model": "toy-dcgan", "checkpoint": "sha256:" + "ab" * 32, "dataset": "toy-shapes",
         "licence": "CC-BY-SA-4.0", "seed": 1234, "truncation": 0.7, "edits": [], "class": None}


def _picture() -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))


def png_bytes() -> bytes:
    out = io.BytesIO()
    _picture().save(out, format="PNG")
    return out.getvalue()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    _picture().save(out, format="JPEG", quality=90)
    return out.getvalue()


def wav_bytes(seconds: float = 2.0, rate: int = 22050) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return out.getvalue()


@pytest.fixture()
def keys(tmp_path):
    return tmp_path / "keys"


def test_chain_is_created_private_and_reused(keys):
    chain = cc.ensure_chain(keys)
    assert stat.S_IMODE(chain.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(chain.key_path.stat().st_mode) == 0o600
    assert {p.name for p in chain.folder.iterdir()} == {"root.pem", "signer.pem", "signer.key"}
    assert "PRIVATE KEY" in chain.key_pem and "PRIVATE" not in repr(chain)
    again = cc.ensure_chain(keys)
    assert (again.root_pem, again.signer_pem, again.key_pem) == (chain.root_pem, chain.signer_pem, chain.key_pem)
    assert len(chain.root_sha256) == 64


def test_signer_certificate_has_the_c2pa_signer_profile(keys):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    chain = cc.ensure_chain(keys)
    signer = x509.load_pem_x509_certificate(chain.signer_pem.encode())
    root = x509.load_pem_x509_certificate(chain.root_pem.encode())
    assert signer.issuer == root.subject != signer.subject
    assert signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    usages = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in usages
    aki = signer.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    signer.verify_directly_issued_by(root)


def test_a_loose_key_or_a_half_chain_is_refused(keys):
    chain = cc.ensure_chain(keys)
    chain.key_path.chmod(0o644)
    with pytest.raises(GanvasError, match="readable by others.*chmod 600"):
        cc.ensure_chain(keys)
    chain.key_path.chmod(0o600)
    chain.root_path.unlink()
    with pytest.raises(GanvasError, match="incomplete.*root.pem"):
        cc.ensure_chain(keys)


@pytest.mark.parametrize("mime, make", [("image/png", png_bytes), ("image/jpeg", jpeg_bytes),
                                        ("audio/wav", wav_bytes), ("audio/x-wav", wav_bytes)])
def test_signed_output_reads_back_valid_and_trusted(keys, mime, make):
    data = make()
    signed = cc.sign(data, mime, CLAIM, keys, title="sample-0001")
    assert len(signed) > len(data)
    found = cc.read(signed, mime, keys)
    assert found is not None
    assert found.valid and found.trusted and found.state == "Trusted" and found.status == []
    assert found.digital_source_type == cc.TRAINED
    assert found.generator == f"ganvas/{__version__}"
    assert found.claim == CLAIM
    assert found.signer == "ganvas C2PA signer" and found.title == "sample-0001"
    assert found.to_record()["claim"] == CLAIM
    # without the local root as anchor: intact and well-formed, but not trusted
    untrusted = cc.read(signed, mime)
    assert untrusted.valid and not untrusted.trusted and untrusted.state == "Valid"
    assert untrusted.status == ["signingCredential.untrusted"]


def test_other_chunks_survive_signing(keys):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_itxt("ganvas", '{"manifest": 1}')
    out = io.BytesIO()
    _picture().save(out, format="PNG", pnginfo=info)
    signed = cc.sign(out.getvalue(), "image/png", CLAIM, keys)
    assert Image.open(io.BytesIO(signed)).text == {"ganvas": '{"manifest": 1}'}
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(signed))), np.asarray(_picture()))


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, chunks = 8, []
    while pos < len(data):
        (size,) = struct.unpack(">I", data[pos:pos + 4])
        chunks.append((data[pos + 4:pos + 8], data[pos:pos + 12 + size]))
        pos += 12 + size
    return chunks


def test_a_pixel_changed_after_signing_is_a_hash_mismatch(keys):
    signed = cc.sign(png_bytes(), "image/png", CLAIM, keys)
    pixels = np.asarray(Image.open(io.BytesIO(signed))).copy()
    pixels[5, 5, 0] ^= 1
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    new_idat = b"".join(raw for kind, raw in _png_chunks(out.getvalue()) if kind == b"IDAT")
    chunks = _png_chunks(signed)
    assert b"caBX" in [kind for kind, _ in chunks]
    edited, done = signed[:8], False            # the signed file with its image data re-encoded, C2PA kept
    for kind, raw in chunks:
        if kind != b"IDAT":
            edited += raw
        elif not done:
            edited, done = edited + new_idat, True
    assert edited != signed
    found = cc.read(edited, "image/png", keys)
    assert found is not None and not found.valid and not found.trusted
    assert "assertion.dataHash.mismatch" in found.status
    assert found.claim == CLAIM                 # the record is still there to show, marked invalid


def test_audio_edited_after_signing_is_a_hash_mismatch(keys):
    signed = bytearray(cc.sign(wav_bytes(), "audio/wav", CLAIM, keys))
    at = signed.find(b"data") + 8 + 20000
    signed[at] ^= 0xFF
    found = cc.read(bytes(signed), "audio/wav", keys)
    assert not found.valid and "assertion.dataHash.mismatch" in found.status


def test_jpeg_edited_after_signing_is_a_hash_mismatch(keys):
    signed = bytearray(cc.sign(jpeg_bytes(), "image/jpeg", CLAIM, keys))
    signed[-100] ^= 0x01                        # inside the entropy-coded picture data, before EOI
    found = cc.read(bytes(signed), "image/jpeg", keys)
    assert not found.valid and "assertion.dataHash.mismatch" in found.status


def test_another_installs_root_does_not_trust_our_outputs(keys, tmp_path):
    signed = cc.sign(png_bytes(), "image/png", CLAIM, keys)
    cc.ensure_chain(tmp_path / "other")
    found = cc.read(signed, "image/png", tmp_path / "other")
    assert found.valid and not found.trusted and "signingCredential.untrusted" in found.status
    nowhere = cc.read(signed, "image/png", tmp_path / "nowhere")        # no chain made there: no anchor
    assert nowhere.valid and not nowhere.trusted
    assert not (tmp_path / "nowhere").exists()                          # reading creates nothing


def test_unsigned_files_have_no_credentials(keys):
    assert cc.read(png_bytes(), "image/png", keys) is None
    assert cc.read(wav_bytes(0.1), "audio/wav") is None


def test_bad_input_is_one_line(keys, tmp_path):
    with pytest.raises(GanvasError, match="not 'audio/midi'"):
        cc.sign(b"MThd", "audio/midi", CLAIM, keys)
    with pytest.raises(GanvasError, match="not 'text/plain'"):
        cc.read(b"hello", "text/plain")
    with pytest.raises(GanvasError, match="cannot sign this image/png"):
        cc.sign(b"not a png", "image/png", CLAIM, keys)
    with pytest.raises(GanvasError, match="not plain JSON"):
        cc.sign(png_bytes(), "image/png", {"x": float("nan")}, keys)
    signed = cc.sign(png_bytes(), "image/png", CLAIM, keys)
    with pytest.raises(GanvasError, match="cannot read C2PA credentials from this image/png") as err:
        cc.read(signed[: len(signed) // 2], "image/png")
    assert "\n" not in str(err.value)


def test_signing_again_replaces_the_manifest(keys):
    once = cc.sign(png_bytes(), "image/png", CLAIM, keys)
    twice = cc.sign(once, "image/png", {**CLAIM, "seed": 99}, keys)
    found = cc.read(twice, "image/png", keys)
    assert found.valid and found.claim["seed"] == 99


def test_two_processes_creating_the_chain_at_once_share_the_first(keys):
    first = cc.ensure_chain(keys)
    cc._create_chain(keys, keys / cc.FOLDER)        # a second creator that lost the race
    assert cc.ensure_chain(keys).root_pem == first.root_pem
    assert [p.name for p in keys.iterdir()] == [cc.FOLDER]       # its temporary folder is gone


def test_c2pa_that_cannot_load_is_one_line(keys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "c2pa", None)      # import c2pa now raises ImportError
    with pytest.raises(GanvasError, match="need c2pa-python, which cannot be loaded here"):
        cc.sign(png_bytes(), "image/png", CLAIM, keys)
    with pytest.raises(GanvasError, match="need c2pa-python"):
        cc.read(png_bytes(), "image/png")
