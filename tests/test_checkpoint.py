"""Checkpoints: atomic writes, pruning, mismatches, and pickles refused without being opened."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

import ganvas
from ganvas.errors import GanvasError
from ganvas.train import checkpoint as ckpt


def write(run: Path, step: int, value: float = 1.0, keep: int = 3) -> Path:
    nets = {"G": {"w": torch.full((2, 2), value)}, "D": {"w": torch.zeros(3)}}
    return ckpt.save(run, step, nets, {"G/0/exp_avg": torch.ones(2)}, {"progress": {"step": step}}, keep)


def test_checkpoint_is_safetensors_plus_json(tmp_path: Path) -> None:
    path = write(tmp_path, 5)
    assert sorted(p.name for p in path.iterdir()) == ["checkpoint.json", "nets.safetensors", "optim.safetensors"]
    meta = json.loads((path / "checkpoint.json").read_text())
    assert meta["format"] == "ganvas-checkpoint" and meta["progress"]["step"] == 5
    assert {"ganvas", "torch", "numpy", "python"} <= set(meta["versions"])
    c = ckpt.load(tmp_path)
    assert torch.equal(c.nets["G"]["w"], torch.ones(2, 2)) and c.step == 5


def test_a_crash_while_writing_leaves_the_previous_checkpoint_whole(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path, 10, value=1.0)
    real_save = ckpt.save_file
    calls = []

    def crash_on_second_file(tensors, filename, metadata=None):
        calls.append(filename)
        real_save(tensors, filename, metadata=metadata)
        if len(calls) == 2:
            Path(filename).write_bytes(b"half a file")    # as if the disk filled up mid-write
            raise OSError("No space left on device")

    monkeypatch.setattr(ckpt, "save_file", crash_on_second_file)
    with pytest.raises(OSError):
        write(tmp_path, 20, value=2.0)
    assert [s for s, _ in ckpt.step_dirs(tmp_path)] == [10]            # the half-written one never appears
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]   # no debris
    c = ckpt.load(tmp_path)
    assert c.step == 10 and torch.equal(c.nets["G"]["w"], torch.ones(2, 2))


def test_rewriting_the_same_step_replaces_it_atomically(tmp_path: Path) -> None:
    write(tmp_path, 7, value=1.0)
    write(tmp_path, 7, value=3.0)
    assert torch.equal(ckpt.load(tmp_path).nets["G"]["w"], torch.full((2, 2), 3.0))


def test_only_the_most_recent_checkpoints_are_kept(tmp_path: Path) -> None:
    for step in (1, 2, 3, 4, 5):
        write(tmp_path, step, keep=2)
    assert [s for s, _ in ckpt.step_dirs(tmp_path)] == [4, 5]


class Boom:
    """Unpickling this would create a file: proof that nothing was unpickled if it does not exist."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("name", ["model.pt", "model.pkl", "weights"])
def test_pickles_are_refused_and_never_unpickled(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / name
    if name.endswith(".pt"):
        torch.save({"obj": Boom(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(GanvasError, match="pickle"):
        ganvas.load(path)
    with pytest.raises(GanvasError, match="pickle"):
        ckpt.load(path)
    assert not marker.exists()


def test_not_a_checkpoint_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(GanvasError, match="is not a ganvas checkpoint"):
        ckpt.load(tmp_path / "notes.txt")
    with pytest.raises(GanvasError, match="does not exist"):
        ckpt.load(tmp_path / "nowhere")
    with pytest.raises(GanvasError, match="no checkpoint in"):
        ckpt.load(tmp_path)


def test_newer_format_and_foreign_json_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, 1)
    meta = json.loads((path / "checkpoint.json").read_text())
    (path / "checkpoint.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(GanvasError, match="newer ganvas"):
        ckpt.load(path)
    (path / "checkpoint.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(GanvasError, match="not a ganvas checkpoint"):
        ckpt.load(path)


def test_weights_of_another_shape_are_a_named_error() -> None:
    net = nn.Linear(4, 2)
    with pytest.raises(GanvasError, match=r"tensor 'weight' has shape \(2, 8\), the model expects \(2, 4\)"):
        ckpt.load_weights(net, {"weight": torch.zeros(2, 8), "bias": torch.zeros(2)}, "checkpoint X")
    with pytest.raises(GanvasError, match="missing tensor 'bias'"):
        ckpt.load_weights(net, {"weight": torch.zeros(2, 4)}, "checkpoint X")


def test_optimizer_state_round_trips_exactly() -> None:
    net = nn.Linear(3, 3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.99))
    net(torch.randn(4, 3)).sum().backward()
    opt.step()
    tensors, groups = ckpt.optimizer_tensors("G", opt)
    json.dumps(groups)                                                  # hyper-parameters are plain JSON
    net2 = nn.Linear(3, 3)
    opt2 = torch.optim.Adam(net2.parameters(), lr=0.1)
    ckpt.restore_optimizer("G", opt2, tensors, groups)
    sd1, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd1["param_groups"] == sd2["param_groups"]
    for i in sd1["state"]:
        for k in sd1["state"][i]:
            assert torch.equal(torch.as_tensor(sd1["state"][i][k]), torch.as_tensor(sd2["state"][i][k]))


def test_finished_files_get_the_usual_permissions(tmp_path: Path) -> None:
    import os
    import stat

    from ganvas.files import write_text

    write_text(tmp_path / "a.txt", "hi")
    path = write(tmp_path, 1)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(path.stat().st_mode) == 0o777 & ~mask
    assert stat.S_IMODE((path / "checkpoint.json").stat().st_mode) == 0o666 & ~mask
