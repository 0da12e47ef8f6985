"""Crashes and damage: a run killed inside a checkpoint write, a disk that fills up, a checkpoint whose
files were truncated or edited. Each ends in a one-line error or a clean resume, never a traceback."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run_cli
from killing import PLANNED_STEPS, TRAIN, env, ganvas, kill_when_paused
from safetensors.torch import load_file, save_file

import ganvas as ganvas_api
from ganvas.app.training import train
from ganvas.cli import main
from ganvas.errors import GanvasError
from ganvas.files import WriteError, atomic_dir, remove_stale_temporaries, save_image
from ganvas.train import checkpoint as ckpt

SMALL = {"model": "dcgan", "data": "emoji", "resolution": 32, "batch_size": 16, "model_args.ngf": 8,
         "model_args.ndf": 8, "sample_every": 1000, "checkpoint_every": 2, "log_every": 1, "sample_count": 4}


def debris(run: Path) -> list[str]:
    """Dot-named entries (what ganvas writes under temporary names) anywhere in a run folder."""
    return sorted(p.name for p in run.rglob(".*"))


# --- 1. crash hygiene ----------------------------------------------------------------------------


def toy_checkpoint(run: Path, step: int) -> Path:
    nets = {"G": {"w": torch.ones(2)}, "D": {"w": torch.zeros(2)}}
    return ckpt.save(run, step, nets, {"G/0/exp_avg": torch.ones(2)}, {"progress": {"step": step}}, keep=3)


def test_temporaries_of_a_killed_writer_are_never_checkpoints_and_are_swept(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ten = toy_checkpoint(run, 10)
    half = run / "checkpoints" / ".step-0000020.k3x_9a2b.tmp"        # complete files, never renamed
    shutil.copytree(ten, half)
    meta = json.loads((half / "checkpoint.json").read_text())
    (half / "checkpoint.json").write_text(json.dumps({**meta, "progress": {"step": 20}}))
    (run / "samples").mkdir()
    (run / "samples" / ".step-0000020.png.a1b2c3d4.tmp").write_bytes(b"\x89PNG half")
    (run / ".final.png.zzzzzzzz.tmp").write_bytes(b"")
    (run / ".metrics.jsonl.0a0a0a0a.tmp").write_text('{"step": 1}\n')
    shutil.copytree(ten, run / "checkpoints" / ".best.old")             # killed while `best` was replaced
    shutil.copytree(ten, run / "checkpoints" / ".step-0000010.old")     # killed after the replacement
    keep = [run / ".gitignore", run / "notes.tmp", run / ".notes.tmp", run / "samples" / ".x.toolong12.tmp",
            run / ".notes.old"]
    for path in keep:
        path.write_text("mine")

    assert [s for s, _ in ckpt.step_dirs(run)] == [10]
    assert ckpt.latest(run) == ten and ckpt.resolve(run) == ten and ckpt.load(run).step == 10
    swept = ckpt.clean(run)
    assert sorted(p.name for p in swept) == sorted([".step-0000020.k3x_9a2b.tmp", ".step-0000020.png.a1b2c3d4.tmp",
                                                    ".final.png.zzzzzzzz.tmp", ".metrics.jsonl.0a0a0a0a.tmp",
                                                    ".best.old", ".step-0000010.old"])
    assert (run / "checkpoints" / "best" / "checkpoint.json").is_file()      # put back, not deleted
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best", "step-0000010"]
    assert all(path.read_text() == "mine" for path in keep)                  # not ganvas's temporaries
    assert ckpt.clean(run) == [] and remove_stale_temporaries(tmp_path / "nowhere") == []


def test_pruning_never_leaves_half_a_checkpoint_under_its_own_name(tmp_path: Path, monkeypatch) -> None:
    """Old checkpoints are renamed away before they are deleted: a kill mid-deletion leaves debris."""
    for step in (1, 2, 3):
        toy_checkpoint(tmp_path, step)
    monkeypatch.setattr(shutil, "rmtree", lambda path, ignore_errors=False: None)   # killed before deleting
    toy_checkpoint(tmp_path, 4)
    assert [s for s, _ in ckpt.step_dirs(tmp_path)] == [2, 3, 4]
    assert [p.name.startswith(".step-0000001.") for p in (tmp_path / "checkpoints").glob(".*")] == [True]
    monkeypatch.undo()
    assert len(ckpt.clean(tmp_path)) == 1 and debris(tmp_path) == []


def test_a_run_killed_inside_a_checkpoint_write_resumes_and_its_debris_is_removed(tmp_path: Path,
                                                                                 emoji_built) -> None:
    """SIGKILL `ganvas train` while its checkpoint of step 20 lies complete under its temporary name."""
    out = tmp_path / "run"
    args = ganvas("train", *TRAIN, "--out", str(out))
    paused = kill_when_paused(args, "20:writing")
    tmp = Path(paused.split(" at ", 1)[1])
    assert paused.startswith("checkpoint paused: writing step 20") and tmp.parent == out / "checkpoints"
    assert tmp.name.startswith(".step-0000020.") and tmp.name.endswith(".tmp")
    assert sorted(p.name for p in tmp.iterdir()) == ["checkpoint.json", "nets.safetensors", "optim.safetensors"]
    assert [s for s, _ in ckpt.step_dirs(out)] == [10]                    # the temporary is not a checkpoint
    assert ckpt.latest(out).name == "step-0000010" and ckpt.load(out).step == 10
    (out / "samples" / ".step-0000020.png.q1w2e3r4.tmp").write_bytes(b"half")   # a sample write cut short too

    done = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300, env=env())
    assert done.returncode == 0, done.stderr
    assert "removed 2 half-written file(s)" in done.stderr and f"resuming {out} at step 10" in done.stderr
    assert not tmp.exists() and debris(out) == []
    final = ckpt.load(out)
    assert final.step == PLANNED_STEPS and final.meta["progress"]["nimg"] == PLANNED_STEPS * 16
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, PLANNED_STEPS + 1))


def test_a_new_run_in_a_folder_left_by_a_killed_run_starts_clean(tmp_path: Path, emoji_built) -> None:
    """Killed before its first checkpoint: the folder holds no run, so a new one may start there."""
    out = tmp_path / "run"
    (out / "checkpoints" / ".step-0000002.abcdefgh.tmp").mkdir(parents=True)
    train(None, SMALL, out, progress=False, max_steps=2)
    assert [s for s, _ in ckpt.step_dirs(out)] == [2] and debris(out) == []


# --- 5. a disk that fills up ---------------------------------------------------------------------


class SafetensorError(Exception):
    """What safetensors raises for an I/O error: not an OSError, the errno only in its message."""


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "the disk is full (ENOSPC)"),
                                             (errno.EDQUOT, "the disk quota is exceeded (EDQUOT)"),
                                             (errno.EROFS, "the file system is read-only (EROFS)")])
@pytest.mark.parametrize("where", ["tensors", "json"])
def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_the_last_checkpoint(
        tmp_path: Path, monkeypatch, code: int, words: str, where: str) -> None:
    toy_checkpoint(tmp_path, 10)
    if where == "tensors":
        def fail(tensors, filename, metadata=None):
            Path(filename).write_bytes(b"half a file")
            raise SafetensorError(f"Error while serializing: I/O error: {os.strerror(code)} (os error {code}) "
                                  f'at path "{filename}"')
        monkeypatch.setattr(ckpt, "save_file", fail)
    else:
        def fail(path, obj):
            raise OSError(code, os.strerror(code), str(path))
        monkeypatch.setattr(ckpt, "write_json", fail)
    with pytest.raises(WriteError) as caught:
        toy_checkpoint(tmp_path, 20)
    message = str(caught.value)
    target, last = tmp_path / "checkpoints" / "step-0000020", tmp_path / "checkpoints" / "step-0000010"
    assert message == (f"checkpoint of step 20 not saved: cannot write '{target}': {words}; the last checkpoint "
                       f"{last} is intact: make room, then add --resume to continue from it")
    assert isinstance(caught.value, GanvasError) and caught.value.errno == code
    assert [s for s, _ in ckpt.step_dirs(tmp_path)] == [10] and debris(tmp_path) == []
    assert ckpt.load(tmp_path).step == 10


def test_other_failures_inside_a_write_keep_their_type(tmp_path: Path) -> None:
    """Only errors that can only come from writing become "cannot write": a bug stays a bug."""
    with pytest.raises(ZeroDivisionError), atomic_dir(tmp_path / "x"):
        raise ZeroDivisionError
    with pytest.raises(FileNotFoundError), atomic_dir(tmp_path / "x"):
        (tmp_path / "missing").read_text()                               # reading another file
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_saving_a_sample_names_the_picture(tmp_path: Path, monkeypatch) -> None:
    from PIL import Image

    def full(self, fp, format=None, **params):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(WriteError, match=r"cannot write '.*step-0000004\.png': the disk is full \(ENOSPC\)$"):
        save_image(tmp_path / "samples" / "step-0000004.png", Image.new("RGB", (4, 4)))
    assert list((tmp_path / "samples").iterdir()) == []


def test_ganvas_train_on_a_full_disk_prints_one_line_and_resumes_once_there_is_room(
        tmp_path: Path, monkeypatch, capsys, emoji_built) -> None:
    out = tmp_path / "run"
    real = ckpt.save_file
    calls = []

    def fills_up(tensors, filename, metadata=None):
        calls.append(filename)
        if len(calls) > 2:                  # the second checkpoint (step 4) meets a full disk
            raise SafetensorError(f"Error while serializing: I/O error: No space left on device (os error 28) "
                                  f'at path "{filename}"')
        real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(ckpt, "save_file", fills_up)
    args = ["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", "--batch-size", "16",
            "--kimg", "0.096", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8", "--set",
            "checkpoint_every=2", "--set", "sample_count=4", "--out", str(out)]
    assert main(args) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert "Traceback" not in "\n".join(err) and len([e for e in err if e.startswith("error:")]) == 1
    assert err[-1] == (f"error: checkpoint of step 4 not saved: cannot write '{out / 'checkpoints' / 'step-0000004'}': "
                       f"the disk is full (ENOSPC); the last checkpoint {out / 'checkpoints' / 'step-0000002'} is "
                       "intact: make room, then add --resume to continue from it")
    assert [s for s, _ in ckpt.step_dirs(out)] == [2] and debris(out) == []
    monkeypatch.undo()                      # room again
    assert main([*args, "--resume"]) == 0
    assert ckpt.load(out).step == 6                                      # 96 images / 16 per step


# --- 3. damaged checkpoints ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, emoji_built) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "run"
    train(None, SMALL, out, progress=False, max_steps=2)
    return out


def edit_json(change):
    def apply(folder: Path) -> None:
        meta = json.loads((folder / "checkpoint.json").read_text())
        meta = change(meta)
        (folder / "checkpoint.json").write_text(json.dumps(meta))
    return apply


def raw_json(data: bytes):
    return lambda folder: (folder / "checkpoint.json").write_bytes(data)


def set_field(dotted: str, value):
    def change(meta):
        *parents, last = dotted.split(".")
        node = meta
        for part in parents:
            node = node[part]
        node[last] = value
        return meta
    return edit_json(change)


def drop_field(dotted: str):
    def change(meta):
        *parents, last = dotted.split(".")
        node = meta
        for part in parents:
            node = node[part]
        del node[last]
        return meta
    return edit_json(change)


def edit_nets(change):
    def apply(folder: Path) -> None:
        tensors = load_file(str(folder / "nets.safetensors"))
        save_file(change(tensors), str(folder / "nets.safetensors"))
    return apply


def retype(tensors, dtype):
    return {k: (v.to(dtype) if k == "G_ema/net.0.weight" else v) for k, v in tensors.items()}


def reshape(tensors):
    return {k: (torch.zeros(3, 3) if k == "G_ema/net.0.weight" else v) for k, v in tensors.items()}


def truncate(name: str, keep: float):
    def apply(folder: Path) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[:int(len(data) * keep)])
    return apply


def unlink(name: str):
    return lambda folder: (folder / name).unlink()


# (id, damage, what the one-line error must name besides the file)
DAMAGE = [
    ("json-list", raw_json(b"[]"), "checkpoint.json", "holds a list"),
    ("json-string", raw_json(b'"step-10"'), "checkpoint.json", "holds text"),
    ("json-null", raw_json(b"null"), "checkpoint.json", "holds null"),
    ("json-number", raw_json(b"42"), "checkpoint.json", "holds a number"),
    ("json-empty", raw_json(b""), "checkpoint.json", "unreadable"),
    ("json-truncated", truncate("checkpoint.json", 0.5), "checkpoint.json", "unreadable"),
    ("json-not-utf8", raw_json(b'{"format": "\xff\xfe ganvas"}'), "checkpoint.json", "utf-8"),
    ("json-deeply-nested", raw_json(b"[" * 100_000 + b"]" * 100_000), "checkpoint.json", "unreadable"),
    ("format-foreign", set_field("format", "safetensors-index"), "checkpoint.json", "'safetensors-index'"),
    ("format-version-text", set_field("format_version", "two"), "checkpoint.json", "'format_version'"),
    ("format-version-null", set_field("format_version", None), "checkpoint.json", "'format_version'"),
    ("format-version-newer", set_field("format_version", 7), "", "newer ganvas"),
    ("model-missing", drop_field("model"), "checkpoint.json", "'model'"),
    ("model-null", set_field("model", None), "checkpoint.json", "'model'"),
    ("model-list", set_field("model", []), "checkpoint.json", "'model'"),
    ("model-name-number", set_field("model.name", 5), "checkpoint.json", "'model.name'"),
    ("model-name-unknown", set_field("model.name", "dcgam"), "checkpoint.json", "unknown model 'dcgam'"),
    ("options-null", set_field("model.options", None), "checkpoint.json", "'model.options'"),
    ("option-unknown", set_field("model.options.ngff", 8), "checkpoint.json", "'ngff'"),
    ("option-text", set_field("model.options.ngf", "wide"), "checkpoint.json", "'ngf'"),
    ("option-negative", set_field("model.options.ngf", -8), "checkpoint.json", "'ngf'"),
    ("option-float", set_field("model.options.ngf", 8.0), "checkpoint.json", "'model.options.ngf'"),
    ("option-petabytes", set_field("model.options.ngf", 10**12), "checkpoint.json", "'model.options.ngf'"),
    ("option-gigabytes", set_field("model.options.z_dim", 10**7), "checkpoint.json", "'model.options.z_dim'"),
    ("spec-missing", drop_field("model.spec"), "checkpoint.json", "'model.spec'"),
    ("spec-shape-text", set_field("model.spec.shape", "3x32x32"), "checkpoint.json", "'model.spec.shape'"),
    ("spec-shape-null-inside", set_field("model.spec.shape", [3, None, 32]), "checkpoint.json",
     "'model.spec.shape'"),
    ("spec-domain-null", set_field("model.spec.domain", None), "checkpoint.json", "'model.spec.domain'"),
    ("spec-classes-negative", set_field("model.spec.num_classes", -1), "checkpoint.json", "'model.spec.num_classes'"),
    ("progress-null", set_field("progress", None), "checkpoint.json", "'progress'"),
    ("progress-step-text", set_field("progress.step", "ten"), "checkpoint.json", "'progress.step'"),
    ("config-list", set_field("config", []), "checkpoint.json", "'config'"),
    ("nets-missing", unlink("nets.safetensors"), "nets.safetensors", "missing"),
    ("nets-truncated", truncate("nets.safetensors", 0.6), "nets.safetensors", "corrupt"),
    ("nets-header-only", truncate("nets.safetensors", 0.001), "nets.safetensors", "corrupt"),
    ("nets-wrong-shape", edit_nets(reshape), "nets.safetensors", "'net.0.weight' has shape (3, 3)"),
    ("nets-wrong-dtype", edit_nets(lambda t: retype(t, torch.float64)), "nets.safetensors", "torch.float64"),
    ("nets-integers", edit_nets(lambda t: retype(t, torch.int32)), "nets.safetensors", "torch.int32"),
    ("nets-tensor-missing", edit_nets(lambda t: {k: v for k, v in t.items() if k != "G_ema/net.0.weight"}),
     "nets.safetensors", "missing tensor 'net.0.weight'"),
]


def damaged(run: Path, tmp_path: Path, damage) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    damage(ckpt.latest(copy))
    return copy


@pytest.mark.parametrize(("damage", "file", "needle"), [d[1:] for d in DAMAGE], ids=[d[0] for d in DAMAGE])
def test_a_damaged_checkpoint_is_a_one_line_error_naming_the_file_and_field(tiny_run: Path, tmp_path: Path,
                                                                            damage, file: str, needle: str) -> None:
    run = damaged(tiny_run, tmp_path, damage)
    with pytest.raises(GanvasError) as caught:
        ganvas_api.load(run)
    message = str(caught.value)
    assert "\n" not in message and str(ckpt.latest(run) or run / "checkpoints") in message
    assert file in message and needle.lower() in message.lower(), message


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("rng.torch", 5, "field 'rng.torch' must be text"),
    ("rng.torch", "bm90IGEgc3RhdGU=", "cannot be resumed from"),          # base64 of the wrong bytes
    ("optimizers", None, "field 'optimizers' must be an object"),
    ("optimizers.G", [{"lr": "fast"}], "cannot be resumed from"),
    ("dataset", None, "field 'dataset' must be an object"),
    ("progress.elapsed_s", "long", "field 'progress.elapsed_s'"),
    ("sampler", [], "field 'sampler' must be an object"),
    ("config.model_args.ngf", 10**12, "field 'config.model_args.ngf' (1000000000000) is damaged"),
])
def test_resuming_from_a_damaged_checkpoint_is_a_one_line_error(tiny_run: Path, tmp_path: Path, field: str, value,
                                                                needle: str) -> None:
    run = damaged(tiny_run, tmp_path, set_field(field, value))
    with pytest.raises(GanvasError) as caught:
        train(None, {}, run, resume=True, progress=False, max_steps=3)
    message = str(caught.value)
    assert "\n" not in message and str(ckpt.latest(run) / "checkpoint.json") in message and needle in message


@pytest.mark.parametrize(("damage", "needles"), [
    (raw_json(b"[]"), ("checkpoint.json", "holds a list")),
    (set_field("model.options.ngf", 10**12), ("checkpoint.json", "'model.options.ngf'", "too large")),
    (truncate("nets.safetensors", 0.6), ("nets.safetensors", "corrupt")),
], ids=["json-list", "option-petabytes", "nets-truncated"])
def test_ganvas_sample_with_a_damaged_checkpoint_prints_one_line(tiny_run: Path, tmp_path: Path, damage,
                                                                 needles: tuple[str, ...]) -> None:
    run = damaged(tiny_run, tmp_path, damage)
    assert_one_line_error(run_cli("sample", str(run), "--n", "1", "--grid", str(tmp_path / "g.png")), *needles)
    assert not (tmp_path / "g.png").exists()


# --- 4. NaN and infinite weights -----------------------------------------------------------------


def poison(tensors):
    bad = dict(tensors)
    bad["G_ema/net.0.weight"] = bad["G_ema/net.0.weight"].clone().view(-1).index_fill(0, torch.tensor([3]),
                                                                                         float("nan")).view_as(
        tensors["G_ema/net.0.weight"])
    bad["D/net.0.weight"] = torch.full_like(tensors["D/net.0.weight"], float("inf"))
    return bad


def test_nan_weights_load_with_a_one_line_warning_naming_file_and_tensor(tiny_run: Path, tmp_path: Path,
                                                                        capsys) -> None:
    ganvas_api.load(tiny_run)
    assert "warning" not in capsys.readouterr().err                     # finite weights: silent
    run = damaged(tiny_run, tmp_path, edit_nets(poison))
    G = ganvas_api.load(run)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [f"warning: checkpoint file '{ckpt.latest(run) / 'nets.safetensors'}' holds NaN or infinite "
                   "values in tensor 'D/net.0.weight' (and 1 more); its outputs will be meaningless"]
    assert torch.isnan(G.sample(1)).any()                               # loaded as asked: a warning, not a refusal
    proc = run_cli("sample", str(run), "--n", "1", "--grid", str(tmp_path / "g.png"))
    assert proc.returncode == 0, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("warning:")] == err
