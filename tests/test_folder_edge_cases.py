"""A user's folder can hold anything: odd names, 16-bit and rotated images, FIFOs, loops, very few files."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from ganvas.data.dataset import load_dataset
from ganvas.data.folder import load_folder, read_file_list
from ganvas.data.imageprep import SkipFile, fit_square, open_image
from ganvas.data.listing import FolderListing, shown
from ganvas.data.translation_folder import load_translation_folder
from ganvas.errors import GanvasError

LATIN1 = b"caf\xe9.png"          # "café.png" written by a Latin-1 system: not UTF-8


def bytes_path(folder: Path, name: bytes) -> Path:
    """`folder`/`name` for a name that is not UTF-8 (Python holds such bytes as surrogate escapes);
    the test is skipped on a file system that refuses such names (macOS, some network mounts)."""
    path = Path(os.fsdecode(os.path.join(os.fsencode(folder), name)))
    try:
        Image.new("RGB", (8, 8)).save(path, format="PNG")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    return path


def images(folder: Path, n: int, side: int = 12) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (side, side), (10 * i % 256, 90, 200)).save(folder / f"{i:03d}.png")
    return folder


def cache_of(folder: Path, variant: str) -> Path:
    return FolderListing.open(folder, "", variant).cache


# --- names that are not UTF-8, or that hold newlines ------------------------------------------------

def test_a_name_that_is_not_utf8_imports_and_is_listed_exactly(tmp_path: Path) -> None:
    folder = images(tmp_path / "imgs", 2)
    odd = bytes_path(folder, LATIN1)
    Image.new("RGB", (8, 8), "red").save(odd, format="PNG")
    bad = bytes_path(folder, b"r\xe9sum\xe9.txt")
    bad.write_text("no image")
    ds = load_folder(folder, 8, progress=False)
    assert len(ds) == 3 and ds.card["skipped"] == {"not an image": 1}
    names = read_file_list(cache_of(folder, "8-crop"))
    assert os.fsencode(names[-1]) == LATIN1 and (folder / names[-1]).read_bytes() == odd.read_bytes()
    assert (ds.arrays["x"][-1] == (255, 0, 0)).all()                  # the red one, in file order
    listed = (cache_of(folder, "8-crop") / "skipped.txt").read_text(encoding="utf-8")
    assert listed == "r\\xe9sum\\xe9.txt\tnot an image: suffix .txt\n"


def test_a_folder_whose_own_name_is_not_utf8_imports(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"d\xe9j\xe0")))
    try:
        folder.mkdir()
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    images(folder, 3, side=32)
    assert len(load_folder(folder, 8, progress=False)) == 3
    assert len(load_folder(folder, 8, progress=False)) == 3            # and its cache is read back
    from ganvas.cli import main  # and a run on it records its name
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--model", "dcgan", "--resolution", "32", "--dry-run",
                 "--set", "model_args.ngf=8", "--set", "model_args.ndf=8", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text(encoding="ascii"))["config"]["data"] == str(folder)


def test_newlines_and_control_characters_in_names_survive_the_lists(tmp_path: Path) -> None:
    folder = images(tmp_path / "imgs", 1)
    tricky = ["two\nlines.png", "tab\there.png", "bell\x07.png", "sep\u2028.png"]
    for name in tricky:
        Image.new("RGB", (8, 8), "blue").save(folder / name, format="PNG")
    (folder / "notes\n.txt").write_text("no image")
    (folder / "x\r\ny.txt").write_text("no image")
    ds = load_folder(folder, 8, progress=False)
    assert len(ds) == 5
    assert sorted(read_file_list(cache_of(folder, "8-crop"))) == sorted(["000.png", *tricky])
    lines = (cache_of(folder, "8-crop") / "skipped.txt").read_text(encoding="utf-8").splitlines()
    assert lines == ["notes\\n.txt\tnot an image: suffix .txt", "x\\r\\ny.txt\tnot an image: suffix .txt"]
    assert shown("a\nb\udce9") == "a\\nb\\xe9" and shown("café ok") == "café ok"


def test_errors_stay_one_line_whatever_the_folder_holds(tmp_path: Path) -> None:
    folder = tmp_path / "two\nlines"
    folder.mkdir()
    os.mkfifo(folder / "only.png")
    with pytest.raises(GanvasError) as caught:
        load_in_thread(lambda: load_folder(folder, 8), folder / "only.png")
    message = str(caught.value)
    assert "\n" not in message and "two\\nlines' holds no usable images" in message
    assert message.endswith("skipped 1 of 1 files in " + shown(str(folder)) + ": 1 not a regular file (FIFO))")


def test_an_old_cache_is_rebuilt(tmp_path: Path) -> None:
    folder = images(tmp_path / "imgs", 2)
    load_folder(folder, 8, progress=False)
    cache = cache_of(folder, "8-crop")
    card = json.loads((cache / "card.json").read_text())
    del card["format"]                                       # as version 1 wrote it (with files.txt)
    (cache / "card.json").write_text(json.dumps(card))
    (cache / "files.json").unlink()
    load_folder(folder, 8, progress=False)
    assert read_file_list(cache) == ["000.png", "001.png"]


def test_translation_and_midi_folders_take_names_that_are_not_utf8(tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    for side in "AB":
        images(root / side, 2)
        bytes_path(root / side, LATIN1)
    ds = load_translation_folder(root, 8, "paired", progress=False)
    assert len(ds.arrays["a"]) == len(ds.arrays["b"]) == 3 and ds.card["skipped"] == {}

    from ganvas.music.midi import TrackSpec, notes_to_midi, write_midi
    from ganvas.music.pianoroll import Note

    music = tmp_path / "music"
    music.mkdir()
    song = [[Note(60 + i % 5, 4 * i, 4 * i + 4) for i in range(16)]]
    write_midi(notes_to_midi(song, [TrackSpec("Piano", 0)], 120.0), music / "song.mid")
    name = os.fsdecode(os.path.join(os.fsencode(music), b"chanson fran\xe7aise.mid"))
    try:
        os.rename(music / "song.mid", name)
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    ds = load_dataset(str(music), 0, domain="music", progress=False)
    assert len(ds) == 1
    keys = json.loads((ds_cache(music) / "keys.json").read_text())
    assert os.fsencode(keys[0][0]) == b"chanson fran\xe7aise.mid" and keys[0][1] == 0


def ds_cache(folder: Path) -> Path:
    return next((FolderListing.open(folder, "", "x").cache.parent).glob("music-*"))


# --- what Pillow decodes: 16-bit, transparency, CMYK, EXIF orientation ------------------------------

GRADIENT = np.arange(256 * 256, dtype=np.uint16).reshape(256, 256)        # 0..65535, mean 32767.5


def png(path: Path, colour_type: int, channels: list[np.ndarray], extra: bytes = b"") -> Path:
    """A 16-bit PNG written byte by byte (Pillow writes 16 bits for greyscale only)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = channels[0].shape
    pixels = np.stack(channels, -1).astype(">u2")
    body = zlib.compress(b"".join(b"\x00" + pixels[y].tobytes() for y in range(h)))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_16_bit_pngs_are_scaled_to_8_bits_not_clipped(tmp_path: Path) -> None:
    opaque = np.full_like(GRADIENT, 65535)
    files = [png(tmp_path / "grey.png", 0, [GRADIENT]),                  # Pillow opens this as I;16
             png(tmp_path / "grey-alpha.png", 4, [GRADIENT, opaque]),
             png(tmp_path / "rgb.png", 2, [GRADIENT] * 3),
             png(tmp_path / "rgba.png", 6, [GRADIENT] * 3 + [opaque])]
    decoded = [open_image(path) for path in files]
    decoded.append(Image.fromarray(GRADIENT.astype(np.int32), "I"))      # older Pillows open 16-bit grey as I
    for im in decoded:
        square = np.asarray(fit_square(im, 64)).astype(float)
        assert abs(square.mean() - 127.5) < 2, (im.mode, square.mean())     # clipped, it was 254
        assert square[0].mean() < 10 and square[-1].mean() > 245, im.mode   # dark top, light bottom
    ds = load_folder(tmp_path, 32, progress=False)
    assert len(ds) == 4 and np.abs(ds.arrays["x"].mean(axis=(1, 2, 3)) - 127.5).max() < 2


def test_transparency_of_every_kind_is_composited_on_white(tmp_path: Path) -> None:
    top_clear = np.zeros((16, 16), np.uint16)
    top_clear[8:] = 1000                                                  # 16-bit dark grey below, 0 above
    trns_grey = png(tmp_path / "trns16.png", 0, [top_clear],               # grey level 0 is transparent
                    extra=b"\x00\x00\x00\x02tRNS\x00\x00" + struct.pack(">I", zlib.crc32(b"tRNS\x00\x00")))
    square = np.asarray(fit_square(open_image(trns_grey), 16))
    assert (square[:6] == 255).all() and (square[10:] < 10).all()         # white above, near black below
    grey = Image.new("L", (16, 16), 0)
    grey.save(tmp_path / "l.png", transparency=0)                         # every pixel the transparent grey
    pal = Image.new("P", (16, 16), 3)
    pal.putpalette([0, 0, 0] * 256)
    pal.save(tmp_path / "p.png", transparency=3)
    la = Image.merge("LA", [Image.new("L", (16, 16), 0), Image.new("L", (16, 16), 0)])
    la.save(tmp_path / "la.png")
    rgb = Image.new("RGB", (16, 16), (9, 9, 9))
    rgb.save(tmp_path / "rgb.png", transparency=(9, 9, 9))
    for name in ("l.png", "p.png", "la.png", "rgb.png"):
        assert (np.asarray(fit_square(open_image(tmp_path / name), 8)) == 255).all(), name


def test_cmyk_jpegs_and_exif_orientation(tmp_path: Path) -> None:
    Image.new("RGB", (16, 16), (220, 30, 30)).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    r, g, b = np.asarray(fit_square(open_image(tmp_path / "cmyk.jpg"), 8)).reshape(-1, 3).mean(axis=0)
    assert r > 180 and g < 80 and b < 80                                  # still red, not inverted
    wide = Image.new("RGB", (40, 20), "white")
    wide.paste(Image.new("RGB", (20, 20), "black"), (0, 0))               # black on the left
    exif = Image.Exif()
    exif[0x0112] = 6                                                      # "rotate 90° clockwise to view"
    for name in ("turned.jpg", "turned.webp"):
        wide.save(tmp_path / name, exif=exif.tobytes(), quality=95)
        upright = open_image(tmp_path / name)
        assert upright.size == (20, 40), name                             # shown as a portrait
        top, bottom = (np.asarray(upright.convert("L"))[rows].mean() for rows in (slice(0, 15), slice(25, 40)))
        assert top < 60 < 200 < bottom, name                              # the left half is now on top


# --- entries that are no file: FIFOs, sockets, loops, folders named like images ---------------------

def load_in_thread(fn, fifo: Path):
    """`fn()` in a thread; if it is still running after a minute it blocked (on the FIFO): release it, fail."""
    result: dict = {}

    def work() -> None:
        try:
            result["value"] = fn()
        except Exception as exc:  # noqa: BLE001 -- raised again in the test's thread
            result["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)          # lets a reader blocked in open() go on
        os.close(fd)
        pytest.fail("reading the folder blocked on a FIFO")
    if "error" in result:
        raise result["error"]
    return result["value"]


def odd_entries(folder: Path) -> Path:
    """A FIFO, a socket, a self-looping symlink, a symlink to a folder above, a dangling symlink and an
    empty folder named like an image, beside good images and a symlinked folder of images."""
    os.mkfifo(folder / "pipe.png")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(folder / "sock.png"))
    except OSError:
        pass                                        # some file systems take no sockets: the rest still counts
    finally:
        sock.close()
    os.symlink("self.png", folder / "self.png")
    os.symlink("..", folder / "up")
    os.symlink("nowhere.png", folder / "gone.png")
    (folder / "folder.png").mkdir()
    return folder


def test_fifos_loops_and_folders_are_counted_and_never_block(tmp_path: Path, capsys) -> None:
    folder = odd_entries(images(tmp_path / "imgs", 3))
    elsewhere = images(tmp_path / "elsewhere", 2)
    os.symlink(elsewhere, folder / "linked")
    ds = load_in_thread(lambda: load_folder(folder, 8, progress=False), folder / "pipe.png")
    assert len(ds) == 5                                                   # 3 here, 2 through the link
    sockets = int((folder / "sock.png").exists())
    assert ds.card["skipped"] == {"not a regular file (FIFO)": 1, "symlink loop": 2, "broken symlink": 1,
                                  "is a folder": 1, **({"not a regular file (socket)": 1} if sockets else {})}
    total = 5 + 5 + sockets
    assert f"skipped {5 + sockets} of {total} files" in capsys.readouterr().err
    lines = (cache_of(folder, "8-crop") / "skipped.txt").read_text().splitlines()
    assert "pipe.png\tnot a regular file (FIFO)" in lines and "folder.png\tis a folder: named like a file; its " \
        "files are read as a sub-folder's" in lines and any(ln.startswith("up\tsymlink loop") for ln in lines)
    with pytest.raises(SkipFile, match=r"not a regular file \(FIFO\)"):
        open_image(folder / "pipe.png")                                   # checked before opening


def test_translation_and_midi_folders_count_odd_entries_too(tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    for side in "AB":
        images(root / side, 3)
    odd_entries(root / "A")
    ds = load_in_thread(lambda: load_translation_folder(root, 8, "unpaired", progress=False), root / "A" / "pipe.png")
    assert ds.card["skipped"]["not a regular file (FIFO)"] == 1 and ds.card["skipped"]["symlink loop"] == 2
    assert ds.card["skipped"]["is a folder"] == 1 and len(ds.arrays["a"]) == 3

    from ganvas.music.midi import TrackSpec, notes_to_midi, write_midi
    from ganvas.music.pianoroll import Note

    music = tmp_path / "music"
    music.mkdir()
    write_midi(notes_to_midi([[Note(60, 4 * i, 4 * i + 4) for i in range(16)]], [TrackSpec("Piano", 0)], 120.0),
               music / "song.mid")
    os.mkfifo(music / "pipe.mid")
    (music / "folder.mid").mkdir()
    os.symlink("loop.mid", music / "loop.mid")
    ds = load_in_thread(lambda: load_dataset(str(music), 0, domain="music", progress=False), music / "pipe.mid")
    assert ds.card["skipped"] == {"not a regular file (FIFO)": 1, "is a folder": 1, "symlink loop": 1}


# --- very few images: a plain warning, on the CLI too -----------------------------------------------

def test_few_images_get_a_warning_saying_what_to_do(tmp_path: Path, capsys) -> None:
    load_folder(images(tmp_path / "three", 3), 8, progress=False)
    err = capsys.readouterr().err
    assert "warning: the data folder" in err and "only 3 images, far too few" in err
    assert "augment=diffaugment" in err and "--resolution" in err
    load_folder(images(tmp_path / "twenty", 20), 8, progress=False)
    err = capsys.readouterr().err
    assert "only 20 images, few for a GAN (under 100" in err and "far too few" not in err
    load_folder(images(tmp_path / "hundred", 100, side=4), 8, progress=False)
    assert "warning" not in capsys.readouterr().err
    shutil.rmtree(tmp_path / "hundred")


def test_few_pairs_and_phrases_get_the_warning_too(tmp_path: Path, capsys) -> None:
    root = tmp_path / "pairs"
    for side in "AB":
        images(root / side, 4)
    load_translation_folder(root, 8, "paired", progress=False)
    assert "only 4 pairs, far too few" in capsys.readouterr().err

    from ganvas.music.midi import TrackSpec, notes_to_midi, write_midi
    from ganvas.music.pianoroll import Note

    (tmp_path / "music").mkdir()
    write_midi(notes_to_midi([[Note(60, 4 * i, 4 * i + 4) for i in range(16)]], [TrackSpec("Piano", 0)], 120.0),
               tmp_path / "music" / "song.mid")
    load_dataset(str(tmp_path / "music"), 0, domain="music", progress=False)
    err = capsys.readouterr().err
    assert "only 1 4-bar phrase, far too few" in err and "data_args.bars" in err


def test_training_on_three_images_warns_on_the_command_line(tmp_path: Path) -> None:
    folder = images(tmp_path / "three", 3, side=32)
    proc = run_cli("train", "--data", str(folder), "--model", "dcgan", "--resolution", "32", "--dry-run",
                   "--set", "model_args.ngf=8", "--set", "model_args.ndf=8", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    licence = [line for line in warning if line.startswith("warning: licence unknown")]   # the user's own data
    warning = [line for line in warning if line not in licence]
    assert len(licence) == 1, proc.stderr
    assert len(warning) == 1 and "only 3 images" in warning[0] and "augment=diffaugment" in warning[0], proc.stderr
    assert "dry run ok" in proc.stderr
