"""The relativistic pairing loss (`rpgan`) and zero-centred R2: values by hand, who pays for what, every objective."""

from __future__ import annotations

import math

import pytest
import torch
import toy
from torch import nn

from ganvas.app.training import build_model
from ganvas.config import TrainConfig
from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec, GanModel, NoOptions
from ganvas.objectives.adversarial import AdversarialObjective
from ganvas.objectives.losses import get_loss
from ganvas.objectives.penalties import r2_penalty
from ganvas.registry import LOSSES
from ganvas.train.loop import Trainer

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([-3.0, 0.5])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_rpgan_is_registered_and_accepted_by_the_config() -> None:
    assert "rpgan" in LOSSES and get_loss("rpgan").relativistic
    assert not any(get_loss(n).relativistic for n in LOSSES.names() if n != "rpgan")
    assert TrainConfig(loss="rpgan", r2_gamma=0.5).validate().r2_gamma == 0.5
    with pytest.raises(GanvasError, match="'r2_gamma' must be >= 0, got -1"):
        TrainConfig(r2_gamma=-1.0).validate()


def test_rpgan_values_pair_each_fake_with_its_real() -> None:
    rp = get_loss("rpgan")
    # L_D = softplus(D(fake) − D(real)), L_G = softplus(D(real) − D(fake)), per pair, averaged
    assert rp.d(REAL, FAKE).item() == pytest.approx((softplus(-5) + softplus(1.5)) / 2, rel=1e-6)
    assert rp.g_loss(FAKE, REAL).item() == pytest.approx((softplus(5) + softplus(-1.5)) / 2, rel=1e-6)
    # pairing matters: the same logits paired the other way give another loss (ns does not pair at all)
    assert rp.d(REAL, FAKE.flip(0)).item() == pytest.approx((softplus(-1.5) + softplus(-2)) / 2, rel=1e-6)
    assert get_loss("ns").d(REAL, FAKE).item() == pytest.approx(get_loss("ns").d(REAL, FAKE.flip(0)).item())
    # only the difference counts: shifting every logit by the same amount changes nothing
    assert rp.d(REAL + 7, FAKE + 7).item() == pytest.approx(rp.d(REAL, FAKE).item(), rel=1e-6)


def test_g_loss_interface_is_compatible_and_refuses_a_missing_real() -> None:
    assert get_loss("ns").g_loss(FAKE).item() == get_loss("ns").g(FAKE).item()      # reals ignored, not needed
    assert get_loss("ns").g_loss(FAKE, REAL).item() == get_loss("ns").g(FAKE).item()
    with pytest.raises(GanvasError, match="loss 'rpgan' judges fakes against reals, but G's step got no real"):
        get_loss("rpgan").g_loss(FAKE)


def test_r2_penalty_is_the_squared_gradient_norm_on_fakes() -> None:
    x = torch.randn(6, 4, requires_grad=True)
    assert r2_penalty((3 * x).sum(1), x).item() == pytest.approx(9 * 4, rel=1e-6)   # ∇ = 3 per input: 9 × 4


# --- through AdversarialObjective: a D whose gradient is known everywhere --------------------------


class Quadratic(nn.Module):
    """D(x) = c · Σ x², per sample: ∇D = 2c·x, so ‖∇D‖² = 4c² Σ x²; counts its calls."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = nn.Parameter(torch.tensor(c))
        self.calls: list[bool] = []                  # whether each call was under autograd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(torch.is_grad_enabled())
        return self.c * x.pow(2).flatten(1).sum(1)


class Constant(nn.Module):
    """G: every latent becomes the same image, all pixels `value` (a parameter, so G can be trained)."""

    def __init__(self, value: float, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.value, self.shape = nn.Parameter(torch.tensor(value)), shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.value * torch.ones(z.shape[0], *self.shape)


class Stub(GanModel):
    name = "stub"
    Options = NoOptions

    def __init__(self, c: float, b: float) -> None:
        super().__init__(DataSpec("image", (1, 2, 2)), NoOptions())
        self.G, self.D = Constant(b, (1, 2, 2)), Quadratic(c)

    def sample_latent(self, n, generator, truncation=None):
        return torch.zeros(n, 1)


A, B, C, P = 1.0, 0.5, 0.3, 4          # real pixels, fake pixels, D's scale, pixels per sample
R1 = 4 * C ** 2 * A ** 2 * P           # ‖∇D‖² at every real
R2 = 4 * C ** 2 * B ** 2 * P           # ... and at every fake


def objective(loss: str = "rpgan", r1: float = 0.0, r2: float = 0.0, every: int = 1) -> AdversarialObjective:
    cfg = TrainConfig(loss=loss, r1_gamma=r1, r2_gamma=r2, r1_every=every).validate()
    return AdversarialObjective(Stub(C, B), cfg, torch.Generator().manual_seed(0))


def real_batch() -> dict[str, torch.Tensor]:
    return {"x": torch.full((3, 1, 2, 2), A)}


def test_rpgan_with_r1_and_r2_against_hand_computed_values() -> None:
    g1, g2, k = 0.4, 0.7, 2
    obj = objective(r1=g1, r2=g2, every=k)
    d_real, d_fake = C * A ** 2 * P, C * B ** 2 * P
    adv = softplus(d_fake - d_real)
    loss, stats = obj.d_loss(real_batch())
    assert stats["loss/D"].item() == pytest.approx(adv, rel=1e-6)
    assert stats["D/r1"].item() == pytest.approx(R1, rel=1e-6)
    assert stats["D/r2"].item() == pytest.approx(R2, rel=1e-6)
    assert loss.item() == pytest.approx(adv + g1 / 2 * k * R1 + g2 / 2 * k * R2, rel=1e-6)   # lazy: × r1_every
    loss.backward()                                  # the penalties train D: d/dc of each term, by hand
    sig = 1 / (1 + math.exp(-(d_fake - d_real)))
    expected = sig * P * (B ** 2 - A ** 2) + g1 / 2 * k * 8 * C * A ** 2 * P + g2 / 2 * k * 8 * C * B ** 2 * P
    assert obj.model.D.c.grad.item() == pytest.approx(expected, rel=1e-5)
    assert obj.model.G.value.grad is None            # the fakes D judged were cut from G's graph
    loss, stats = obj.d_loss(real_batch())           # step 1 of every 2: neither penalty
    assert "D/r1" not in stats and "D/r2" not in stats and loss.item() == pytest.approx(adv, rel=1e-6)
    _, stats = obj.d_loss(real_batch())              # step 2: both again
    assert {"D/r1", "D/r2"} <= set(stats)


def test_r2_applies_to_the_fakes_only() -> None:
    loss, stats = objective(loss="ns", r2=1.0).d_loss(real_batch())
    assert "D/r1" not in stats
    assert stats["D/r2"].item() == pytest.approx(R2, rel=1e-6)            # the fakes' gradient, not the reals' (R1)
    assert loss.item() == pytest.approx(stats["loss/D"].item() + 0.5 * R2, rel=1e-6)
    _, stats = objective(loss="ns", r1=1.0).d_loss(real_batch())
    assert "D/r2" not in stats and stats["D/r1"].item() == pytest.approx(R1, rel=1e-6)


def test_only_a_relativistic_loss_passes_the_reals_through_d_in_gs_step() -> None:
    for loss, passes in (("ns", [True]), ("hinge", [True]), ("rpgan", [True, False])):
        obj = objective(loss=loss)
        obj.d_loss(real_batch())
        obj.model.D.calls.clear()
        g, _ = obj.g_loss(real_batch())
        assert obj.model.D.calls == passes, loss         # the reals' pass (rpgan) runs without autograd
    assert g.item() == pytest.approx(softplus(C * A ** 2 * P - C * B ** 2 * P), rel=1e-6)
    g.backward()                                         # G learns through the fakes
    assert obj.model.G.value.grad.item() != 0


# --- translation objectives ------------------------------------------------------------------------


class MeanLogit(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1).mean(1)


class Shift(nn.Module):
    def __init__(self, by: float) -> None:
        super().__init__()
        self.by = by

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.by


def translation_objective(name: str, cfg: TrainConfig):
    model = MODELS.get(name).build(DataSpec("image", (3, 32, 32)), {"ngf": 2, "ndf": 2, "d_layers": 1})
    model.G = Shift(0.5)
    if name == "cyclegan":
        model.F, model.D_A, model.D_B = nn.Identity(), MeanLogit(), MeanLogit()
    else:
        model.D = MeanLogit()
    return model.objective(cfg, torch.Generator())


def test_translation_objectives_support_rpgan_and_r2() -> None:
    a, b = torch.full((2, 3, 8, 8), 0.25), torch.full((2, 3, 8, 8), -0.5)
    cfg = TrainConfig(loss="rpgan", r2_gamma=1.0, model="pix2pix").validate()
    obj = translation_objective("pix2pix", cfg)
    _, stats = obj.g_loss({"a": a, "b": b})
    # D sees (input, output): fake pair mean (0.25 + 0.75) / 2 = 0.5, real pair (0.25 − 0.5) / 2 = −0.125
    assert stats["G/adv"].item() == pytest.approx(softplus(-0.125 - 0.5), rel=1e-6)
    _, stats = obj.d_loss({"a": a, "b": b})
    # D's mean over 6 × 8 × 8 values: ∂/∂x = 1/384 at each of the output's 3 × 8 × 8, so ‖∇‖² = 192 / 384²
    assert stats["D/r2"].item() == pytest.approx(192 / 384 ** 2, rel=1e-5)
    assert "D/r1" not in stats
    cfg = TrainConfig(loss="rpgan", model="cyclegan").validate()
    _, stats = translation_objective("cyclegan", cfg).g_loss({"a": a, "b": b})
    # D_B: real b −0.5 against G(a) = 0.75; D_A: real a 0.25 against F(b) = −0.5
    assert stats["G/adv"].item() == pytest.approx(softplus(-1.25) + softplus(0.75), rel=1e-6)


def test_rpgan_with_r1_and_r2_trains_a_gan_to_the_data(tmp_path) -> None:
    """Through the real loop, as every other loss in test_losses: the averaged G moves onto the data's mean."""
    dataset = toy.gaussian_dataset(mean=3.0, std=0.5, dim=2)
    overrides = {"model": "toy-mlp", "data": "gaussian", "loss": "rpgan", "r1_gamma": 0.1, "r2_gamma": 0.1,
                 "r1_every": 2, "batch_size": 64, "lr_g": 2e-3, "lr_d": 2e-3, "betas_g": [0.5, 0.9],
                 "betas_d": [0.5, 0.9], "ema_kimg": 3.0, "sample_every": 10**6, "checkpoint_every": 10**6,
                 "log_every": 50, "channels_last": False}
    cfg = TrainConfig().with_overrides(overrides).validate()
    model = build_model(cfg, dataset, torch.device("cpu"))
    trainer = Trainer(cfg, model, dataset, tmp_path, torch.device("cpu"), max_steps=600, progress_bar=False)
    z = torch.randn(2000, 4, generator=torch.Generator().manual_seed(1))
    target = torch.tensor([3.0, 3.0])
    before = (model.G(z).mean(0) - target).norm().item()
    trainer.run()
    with torch.no_grad():
        after = (trainer.ema.averaged["G"](z).mean(0) - target).norm().item()
    assert before > 3.0
    assert after < 0.75, f"averaged G's mean is {after:.2f} from the data's"
