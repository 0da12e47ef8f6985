"""Every registered generator honours GanModel's generator contract, the only view of a model that the
explore tools, ganvas.style, the API and the studio have: code shapes, mapping into the edit space,
truncation, synthesis, and the layer GANSpace reads."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec, GanModel

# candidate data shapes, smallest first: the first one a model's check_spec accepts is used
SPECS = [DataSpec("image", (3, side, side)) for side in (16, 32, 64)] + [
    DataSpec("music", (4, 64, 46), 0, {"beat_steps": 4, "bar_steps": 16}),
    DataSpec("vector", (2,)),
]
GENERATORS = [n for n in MODELS.names() if MODELS.get(n).has_latent and MODELS.get(n).editable]
TRANSLATORS = [n for n in MODELS.names() if not MODELS.get(n).has_latent]
SEEDS = [1, 2, 3]


@functools.cache
def built(name: str) -> GanModel:
    """The model at its smallest supported data shape, default options, random weights, in eval mode."""
    cls = MODELS.get(name)
    for spec in SPECS:
        try:
            cls.check_spec(spec)
        except GanvasError:
            continue
        torch.manual_seed(0)
        model = cls.build(spec, {}).eval().requires_grad_(False)
        # As after training: nothing left at a zero initialisation (noise strengths, biases) and tracked
        # statistics (a style model's average w) off zero, so no check passes by something being zero.
        # BatchNorm's running statistics stay valid.
        with torch.no_grad():
            for param in model.parameters():
                if not param.any():
                    param.normal_(0, 0.1)
            for m in model.modules():
                if not isinstance(m, nn.modules.batchnorm._BatchNorm):
                    for buf in m.buffers(recurse=False):
                        if buf.is_floating_point():
                            buf.normal_()
        return model
    raise AssertionError(f"no test data shape fits model {name}")


def z_of(model: GanModel, seed: int) -> torch.Tensor:
    return model.latents_for_seeds([seed])


def test_every_model_is_covered() -> None:
    assert {"dcgan", "seed-dcgan", "stylegan", "musegan"} <= set(GENERATORS)
    assert {"pix2pix", "cyclegan"} <= set(TRANSLATORS)


@pytest.mark.parametrize("name", GENERATORS)
def test_code_shapes(name: str) -> None:
    model = built(name)
    assert model.edit_space in ("z", "w")
    z = model.sample_latent(3, torch.Generator().manual_seed(0))
    assert tuple(z.shape) == (3, *model.latent_shape) == (3, *model.code_shape("z"))
    assert model.code_shape() == model.code_shape(model.edit_space)
    codes = model.to_edit_space(z)
    assert tuple(codes.shape) == (3, *model.code_shape())
    assert tuple(model.average_code().shape) == model.code_shape()
    if model.edit_space == "z":
        assert torch.equal(codes, z)                                    # z-models edit z itself
        with pytest.raises(GanvasError, match="has no w space"):
            model.code_shape("w")
    else:
        assert len(model.code_shape("w")) == 2                          # one w per style layer
    with pytest.raises(GanvasError, match="latent space must be one of z, w"):
        model.code_shape("x")


@pytest.mark.parametrize("name", GENERATORS)
def test_truncation(name: str) -> None:
    model = built(name)
    codes = torch.cat([model.to_edit_space(z_of(model, s)) for s in SEEDS])
    avg = model.average_code().expand_as(codes)
    assert torch.equal(model.truncate(codes, None), codes) and torch.equal(model.truncate(codes, 1.0), codes)
    assert torch.allclose(model.truncate(codes, 0.0), avg, atol=1e-6)
    assert not torch.allclose(codes, avg, atol=1e-3)                    # so the line above meant something
    assert torch.allclose(model.truncate(codes, 0.5), avg + 0.5 * (codes - avg), atol=1e-5)
    for seed in SEEDS:                                                  # sampling truncates the same way
        truncated = model.latents_for_seeds([seed], truncation=0.7)
        assert torch.equal(truncated, model.truncate(model.to_edit_space(z_of(model, seed)), 0.7))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(GanvasError, match="ψ must be in"):
            model.truncate(codes, bad)
    if model.edit_space == "z":
        with pytest.raises(GanvasError, match="has no style layers"):
            model.truncate(codes, 0.5, cutoff=1)
    else:
        layers = model.code_shape("w")[0]
        cut = model.truncate(codes, 0.0, cutoff=2)
        assert torch.allclose(cut[:, :2], avg[:, :2], atol=1e-6) and torch.equal(cut[:, 2:], codes[:, 2:])
        with pytest.raises(GanvasError, match=f"cutoff must be a number of style layers in 1..{layers}"):
            model.truncate(codes, 0.5, cutoff=layers + 1)


@pytest.mark.parametrize("name", GENERATORS)
def test_synthesis_of_mapped_codes_is_sampling(name: str) -> None:
    model = built(name)
    for seed in SEEDS:
        z = z_of(model, seed)
        code = model.to_edit_space(z)
        assert torch.equal(model.synthesize(code), model.generate(z))             # the seed's output, bit for bit
        assert torch.equal(model.generate(code), model.generate(z))               # drawing an edit-space code
        trunc = model.truncate(code, 0.6)
        assert torch.equal(model.synthesize(trunc), model.generate(model.latents_for_seeds([seed], 0.6)))
    average = model.synthesize(model.average_code()[None])
    assert torch.allclose(model.generate(model.latents_for_seeds([5], 0.0)), average, atol=1e-5)


@pytest.mark.parametrize("name", GENERATORS)
def test_ganspace_layer_is_a_module_run_once_per_batch(name: str) -> None:
    model = built(name)
    calls = []
    handle = model.layer(model.ganspace_layer).register_forward_hook(lambda *_: calls.append(1))
    try:
        codes = model.to_edit_space(model.sample_latent(4, torch.Generator().manual_seed(0)))
        model.synthesize(codes)
    finally:
        handle.remove()
    assert len(calls) == 1
    with pytest.raises(GanvasError, match="has no layer 'no.such.layer'"):
        model.layer("no.such.layer")


@pytest.mark.parametrize("name", TRANSLATORS)
def test_translation_models_declare_they_have_no_latent(name: str) -> None:
    model = MODELS.get(name).build(DataSpec("image", (3, 32, 32)), {})
    codes = torch.zeros(1, 4)
    for call in (lambda: model.latent_shape, lambda: model.code_shape(), lambda: model.to_edit_space(codes),
                 lambda: model.truncate(codes, 0.5), lambda: model.synthesize(codes), lambda: model.ganspace_layer,
                 lambda: model.sample_latent(1, torch.Generator()), lambda: model.latents_for_seeds([1])):
        with pytest.raises(GanvasError, match="has no latent space"):
            call()


def test_tools_use_only_the_contract() -> None:
    """The explore tools, the studio, ganvas.style and the API never look inside a model's networks."""
    root = Path(__file__).resolve().parents[1] / "ganvas"
    files = [*(root / "explore").glob("*.py"), *(root / "studio").glob("*.py"), root / "style.py", root / "api.py",
             root / "commands" / "explore.py", root / "commands" / "sample.py"]
    pattern = re.compile(r"hasattr\(|\.mapping\b|\.synthesis\b|\.G\(|options\.(z|w)_dim|DEFAULT_LAYERS")
    found = [f"{f.name}:{i}: {line.strip()}" for f in files
             for i, line in enumerate(f.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, found
