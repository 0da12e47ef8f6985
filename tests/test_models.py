"""The registered models: shapes at every supported size, and the founding document's design."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec


@pytest.mark.parametrize("res", [32, 64, 128])
def test_dcgan_shapes_and_design(res: int) -> None:
    model = MODELS.get("dcgan").build(DataSpec("image", (3, res, res)), {"ngf": 8, "ndf": 8})
    z = model.sample_latent(5, torch.Generator().manual_seed(0))
    x = model.G(z)
    assert x.shape == (5, 3, res, res) and x.abs().max() <= 1          # tanh output
    assert model.D(x).shape == (5,)                                     # one logit per image
    g_bn = [m for m in model.G.modules() if isinstance(m, nn.BatchNorm2d)]
    d_convs = [m for m in model.D.modules() if isinstance(m, nn.Conv2d)]
    assert len(g_bn) == len([m for m in model.G.modules() if isinstance(m, nn.ConvTranspose2d)]) - 1
    assert isinstance(model.D.net[1], nn.LeakyReLU) and model.D.net[1].negative_slope == 0.2
    assert d_convs[-1].out_channels == 1


def test_dcgan_at_64_is_the_paper_design() -> None:
    model = MODELS.get("dcgan").build(DataSpec("image", (3, 64, 64)), {})
    widths = [m.out_channels for m in model.G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert widths == [512, 256, 128, 64, 3]                             # ngf·8 → ngf·4 → ngf·2 → ngf → RGB
    d_widths = [m.out_channels for m in model.D.modules() if isinstance(m, nn.Conv2d)]
    assert d_widths == [64, 128, 256, 512, 1]
    w = torch.cat([m.weight.flatten() for m in model.G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.std().item() - 0.02) < 0.002                           # N(0, 0.02) initialisation


def test_seed_dcgan_matches_the_founding_document_layer_by_layer() -> None:
    model = MODELS.get("seed-dcgan").build(DataSpec("image", (3, 64, 64)), {})
    g_params = sum(p.numel() for p in model.G.parameters())
    d_params = sum(p.numel() for p in model.D.parameters())
    # Keras counts for the document's code: Dense 100·16384 (no bias) + ConvT 4·4·256·128 + 4·4·128·64 + 4·4·64·3
    assert g_params == 100 * 8 * 8 * 256 + 16 * 256 * 128 + 16 * 128 * 64 + 16 * 64 * 3 == 2_296_832
    # Conv 4·4·3·64+64, Conv 4·4·64·128+128, Dense 16·16·128+1
    assert d_params == (16 * 3 * 64 + 64) + (16 * 64 * 128 + 128) + (16 * 16 * 128 + 1) == 167_105
    z = model.sample_latent(2, torch.Generator().manual_seed(0))
    assert model.G(z).shape == (2, 3, 64, 64)
    slopes = {m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)}
    assert slopes == {0.3}                                              # Keras's default alpha
    assert [m.p for m in model.D.modules() if isinstance(m, nn.Dropout)] == [0.4, 0.4]
    assert not [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    model.D.eval()
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(model.D(x), model.D(x))                          # dropout only while training


def test_unsupported_data_is_refused() -> None:
    with pytest.raises(GanvasError, match="supports resolution 32 | 64 | 128, got 48"):
        MODELS.get("dcgan").build(DataSpec("image", (3, 48, 48)), {})
    with pytest.raises(GanvasError, match="works on image data, not music"):
        MODELS.get("dcgan").build(DataSpec("music", (4, 64, 48)), {})
    with pytest.raises(GanvasError, match="'ngf' must be >= 1"):
        MODELS.get("dcgan").build(DataSpec("image", (3, 32, 32)), {"ngf": 0})
    with pytest.raises(GanvasError, match="'dropout' must be in"):
        MODELS.get("seed-dcgan").build(DataSpec("image", (3, 64, 64)), {"dropout": 1.0})


def test_truncation() -> None:
    model = MODELS.get("dcgan").build(DataSpec("image", (3, 32, 32)), {"ngf": 8, "ndf": 8})
    full = model.latents_for_seeds([1, 2])
    half = model.latents_for_seeds([1, 2], truncation=0.5)
    assert torch.allclose(half, full * 0.5)
    assert torch.equal(model.latents_for_seeds([1, 2], truncation=0.0), torch.zeros_like(full))
    for bad in (-0.1, 1.5):
        with pytest.raises(GanvasError, match="ψ must be in"):
            model.latents_for_seeds([1], truncation=bad)


def test_the_template_model_plugs_in_with_one_registry_line(tmp_path, emoji_built) -> None:
    from ganvas.cli import main

    MODELS.register("template", "ganvas.nets.template:TemplateGAN")
    try:
        assert main(["train", "--model", "template", "--data", "emoji", "--dry-run", "--out", str(tmp_path)]) == 0
    finally:
        MODELS.unregister("template")
    assert (tmp_path / "final.png").exists()
