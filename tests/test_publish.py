"""Signed manifests: keys, the manifest inside each kind of file, and `ganvas verify` on good and bad files."""

from __future__ import annotations

import io
import json
import os
import stat
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from ganvas.errors import GanvasError
from ganvas.publish import containers, keys, manifest
from ganvas.publish.output import publish_bytes, sidecar_path
from ganvas.publish.verify import ERROR, NOT_VERIFIED, VERIFIED, verify_bytes, verify_file

RECORD = {"format": "ganvas-provenance", "model": {"name": "emoji-dcgan", "model": "dcgan", "step": 7},
          "recipe": {"seed": 3, "truncation": 0.7},
          "dataset": {"name": "emoji", "licence": "SIL Open Font License 1.1 (Noto Color Emoji)"}}


@pytest.fixture
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "keys"
    monkeypatch.setenv("GANVAS_KEY_DIR", str(folder))
    return folder


def png_bytes(seed: int = 0, side: int = 64) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] / side
    img = np.stack([np.sin(6 * x + seed), np.cos(5 * y), x * y], -1) * 100 + 120 + rng.normal(0, 8, (side, side, 3))
    buf = io.BytesIO()
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def wav_bytes(frames: int = 4000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(frames) / 5) * 8000).astype("<i2").tobytes())
    return buf.getvalue()


def midi_bytes() -> bytes:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes += [pretty_midi.Note(90, 60 + i, i * 0.5, i * 0.5 + 0.4) for i in range(6)]
    pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


# --- keys ------------------------------------------------------------------------------------------------
def test_a_key_is_created_on_first_use_owner_only_and_never_replaced(key_dir: Path) -> None:
    key = keys.signing_key()
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((key_dir / keys.PRIVATE).stat().st_mode) == 0o600
    assert keys.signing_key().id == key.id                      # loaded, not made again
    with pytest.raises(GanvasError, match="never replaces"):
        keys.create_key()
    assert keys.trusted_keys() == {key.id: key.public}


def test_missing_unreadable_or_exposed_keys_are_one_line_errors(key_dir: Path) -> None:
    with pytest.raises(GanvasError, match="no signing key at .*`ganvas keys create`"):
        keys.load_key()
    keys.create_key()
    path = key_dir / keys.PRIVATE
    path.chmod(0o644)
    with pytest.raises(GanvasError, match="can be read by others .*chmod 600"):
        keys.load_key()
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    with pytest.raises(GanvasError, match="cannot read the signing key") as err:
        keys.load_key()
    assert "\n" not in str(err.value)


def test_keys_command_shows_exports_and_trusts(key_dir: Path, tmp_path: Path) -> None:
    proc = run_cli("keys", env={"GANVAS_KEY_DIR": str(key_dir)})
    assert proc.returncode == 1 and "ganvas keys create" in proc.stderr
    assert run_cli("keys", "create", env={"GANVAS_KEY_DIR": str(key_dir)}).returncode == 0
    shown = run_cli("keys", env={"GANVAS_KEY_DIR": str(key_dir)})
    assert shown.returncode == 0 and keys.load_key().id in shown.stdout
    assert run_cli("keys", "export", str(tmp_path / "me.pem"), env={"GANVAS_KEY_DIR": str(key_dir)}).returncode == 0
    other = tmp_path / "other"
    assert run_cli("keys", "trust", str(tmp_path / "me.pem"), env={"GANVAS_KEY_DIR": str(other)}).returncode == 0
    assert keys.load_key().id in keys.trusted_keys(other)


# --- manifests inside files --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, make", [("png", png_bytes), ("wav", wav_bytes), ("mid", midi_bytes)])
def test_each_container_carries_its_manifest_and_stays_readable(fmt, make, key_dir: Path) -> None:
    raw = make()
    out = publish_bytes(raw, fmt, RECORD, c2pa=False, watermark=False)
    assert out.sidecar is None and containers.extract(out.data, fmt) is not None
    again = containers.embed(out.data, fmt, containers.extract(out.data, fmt))     # re-embedding replaces
    assert again == out.data
    v = verify_bytes(out.data, f"x.{fmt}")
    assert v.status == VERIFIED, v.problems
    assert v.made_by["dataset"] == "emoji" and v.made_by["recipe"]["seed"] == 3
    if fmt == "wav":
        with wave.open(io.BytesIO(out.data)) as w, wave.open(io.BytesIO(raw)) as r:
            assert w.readframes(w.getnframes()) == r.readframes(r.getnframes())
    if fmt == "mid":
        import pretty_midi

        notes = pretty_midi.PrettyMIDI(io.BytesIO(out.data)).instruments[0].notes
        assert [n.pitch for n in notes] == list(range(60, 66))
        assert containers.midi_strip(out.data, "x") == raw


def test_text_files_carry_a_sidecar(key_dir: Path, tmp_path: Path) -> None:
    out = publish_bytes("床前明月光\n".encode(), "txt", RECORD)
    path = tmp_path / "poem.txt"
    path.write_bytes(out.data)
    sidecar_path(path).write_bytes(out.sidecar)
    assert verify_file(path).status == VERIFIED
    path.write_text("床前明月光!\n", encoding="utf-8")
    v = verify_file(path)
    assert v.status == NOT_VERIFIED and v.content == "changed"


def test_an_edited_pixel_a_tampered_claim_and_a_foreign_key_are_caught(key_dir: Path, tmp_path: Path) -> None:
    signed = publish_bytes(png_bytes(), "png", RECORD, c2pa=False, watermark=False).data
    im = Image.open(io.BytesIO(signed))
    pixels = np.array(im)
    pixels[10, 10, 0] ^= 4
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("ganvas:manifest", im.text["ganvas:manifest"])
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", pnginfo=info)
    v = verify_bytes(buf.getvalue(), "edited.png")
    assert v.status == NOT_VERIFIED and v.signature == "valid" and v.content == "changed"

    blob = json.loads(containers.extract(signed, "png"))
    blob["claim"]["provenance"]["dataset"]["licence"] = "CC0-1.0"        # a licence laundered
    forged = containers.embed(signed, "png", json.dumps(blob).encode())
    v = verify_bytes(forged, "forged.png")
    assert v.status == NOT_VERIFIED and v.signature == "invalid" and "tampered" in v.problems[0]

    stranger = keys.create_key(tmp_path / "stranger")
    foreign = publish_bytes(png_bytes(), "png", RECORD, c2pa=False, watermark=False, key=stranger).data
    v = verify_bytes(foreign, "foreign.png")
    assert v.status == NOT_VERIFIED and v.signature == "valid" and "unknown key" in v.problems[0]


def test_a_lossless_resave_keeps_the_verdict_and_a_stripped_reencode_loses_it(key_dir: Path) -> None:
    signed = publish_bytes(png_bytes(), "png", RECORD, c2pa=False, watermark=False).data
    im = Image.open(io.BytesIO(signed))
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("ganvas:manifest", im.text["ganvas:manifest"])
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=info, compress_level=9)                   # other bytes, same pixels
    assert buf.getvalue() != signed and verify_bytes(buf.getvalue(), "resaved.png").status == VERIFIED
    stripped = io.BytesIO()
    Image.open(io.BytesIO(signed)).save(stripped, "PNG")
    v = verify_bytes(stripped.getvalue(), "stripped.png")
    assert v.status == NOT_VERIFIED and v.manifest == "absent"


@pytest.mark.parametrize("data, name, needle", [
    (b"", "empty.png", "empty"),
    (b"just some bytes", "notes.bin", "unsupported format"),
    (None, "truncated.png", "truncated PNG"),
    (None, "crc.png", "bad CRC"),
    (b"MThd\x00\x00\x00\x06\x00\x01", "short.mid", "truncated MIDI"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt \x40\x00\x00\x00", "short.wav", "truncated WAV"),
])
def test_unreadable_files_are_errors_not_verdicts(data, name, needle, key_dir: Path) -> None:
    if name == "truncated.png":
        data = publish_bytes(png_bytes(), "png", RECORD, c2pa=False, watermark=False).data[:300]
    if name == "crc.png":
        good = bytearray(publish_bytes(png_bytes(), "png", RECORD, c2pa=False, watermark=False).data)
        good[60] ^= 0xFF
        data = bytes(good)
    v = verify_bytes(data, name)
    assert v.status == ERROR and needle in v.problems[0], v.problems


def test_a_malformed_manifest_is_reported(key_dir: Path) -> None:
    data = containers.embed(png_bytes(), "png", b"{not json")
    v = verify_bytes(data, "bad.png")
    assert v.status == NOT_VERIFIED and v.manifest == "malformed"


def test_verify_command_exit_codes_and_json(key_dir: Path, tmp_path: Path) -> None:
    good, plain, broken = tmp_path / "good.png", tmp_path / "plain.png", tmp_path / "broken.png"
    good.write_bytes(publish_bytes(png_bytes(), "png", RECORD, c2pa=False, watermark=False).data)
    plain.write_bytes(png_bytes())
    broken.write_bytes(good.read_bytes()[:100])
    env = {"GANVAS_KEY_DIR": str(key_dir)}
    assert run_cli("verify", str(good), env=env).returncode == 0
    assert run_cli("verify", str(good), str(plain), env=env).returncode == 1
    proc = run_cli("verify", str(good), str(plain), str(broken), str(tmp_path / "missing.png"), "--json", env=env)
    assert proc.returncode == 2
    rows = json.loads(proc.stdout)
    assert [r["status"] for r in rows] == [VERIFIED, NOT_VERIFIED, ERROR, ERROR]
    assert rows[0]["made_by"]["licence"].startswith("SIL Open Font")
    assert "cannot read it" in rows[3]["problems"][0]


def test_manifest_signature_covers_the_canonical_claim(key_dir: Path) -> None:
    key = keys.signing_key()
    claim = manifest.make_claim(RECORD, "image/png", "sha256:00", "pixels", {"embedded": False})
    signed = manifest.sign(claim, key)
    assert manifest.check(signed, keys.trusted_keys()).valid
    reordered = json.loads(json.dumps(signed, sort_keys=True))          # key order does not matter
    assert manifest.check(reordered, keys.trusted_keys()).valid
    signed["signature"]["key_id"] = "ed25519:0000000000000000"
    assert not manifest.check(signed, {}).valid
    assert os.environ["GANVAS_KEY_DIR"] == str(key_dir)
