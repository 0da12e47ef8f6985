"""Adding a loss, an augmentation, a metric or a report section is one definition plus one registry line.

Each test defines the new piece here, registers it the way a plugin package would
(`ganvas.registry.X.register`), and then uses it through the real CLI (`ganvas.cli.main`, in-process so
the registration is seen) with no other edit: config validation, `--help` and `ganvas config` read
their choices from the same registries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from ganvas import registry
from ganvas.cli import app, main
from ganvas.objectives.augment import Augment
from ganvas.objectives.losses import AdversarialLoss

CALLS: dict[str, int] = {}

# --- the plugin: four pieces ------------------------------------------------------------------------


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


def softplus_squared_d(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    _count("loss.d")
    return F.softplus(-real).pow(2).mean() + F.softplus(fake).pow(2).mean()


def softplus_squared_g(fake: torch.Tensor) -> torch.Tensor:
    _count("loss.g")
    return F.softplus(-fake).pow(2).mean()


SQUARED = AdversarialLoss("softplus-squared", d=softplus_squared_d, g=softplus_squared_g)


class HorizontalFlip(Augment):
    """Flip every image D sees left–right with probability ½ (a plugin's augmentation)."""

    name = "test-flip"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        _count("augment")
        flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
        return torch.where(flip, x.flip(-1), x)


def metric_mean_norm(sets) -> dict[str, float]:
    """A plugin's metric: the ratio of mean feature norms, generated / real."""
    _count("metric")
    return {"mean_norm_ratio": float((sets.fake ** 2).sum(1).mean() / (sets.real ** 2).sum(1).mean())}


def extra_image_section(ev) -> list:
    from ganvas.eval.report import Section

    _count("section")
    return [*ORIGINAL_IMAGE_SECTIONS(ev), Section("From a plugin", f"<p>plugin saw {len(ev.fake_images)} samples</p>")]


ORIGINAL_IMAGE_SECTIONS = None


@pytest.fixture
def plugin() -> Iterator[None]:
    """Register the four pieces; restore the tables afterwards."""
    global ORIGINAL_IMAGE_SECTIONS
    CALLS.clear()
    ORIGINAL_IMAGE_SECTIONS = registry.REPORT_SECTIONS.get("image")
    registry.LOSSES.register("softplus-squared", SQUARED)
    registry.AUGMENTS.register("test-flip", HorizontalFlip)
    registry.METRICS.register("mean_norm", metric_mean_norm)
    registry.REPORT_SECTIONS.register("image", extra_image_section)
    yield
    registry.LOSSES.unregister("softplus-squared")
    registry.AUGMENTS.unregister("test-flip")
    registry.METRICS.unregister("mean_norm")
    registry.REPORT_SECTIONS.register("image", ORIGINAL_IMAGE_SECTIONS)


TINY = ["--model", "dcgan", "--data", "emoji", "--resolution", "32", "--batch-size", "8", "--set", "model_args.ngf=8",
        "--set", "model_args.ndf=8", "--set", "sample_count=4"]


def test_a_registered_loss_and_augmentation_train_through_the_cli(plugin, emoji_built, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", *TINY, "--loss", "softplus-squared", "--set", "augment=test-flip", "--dry-run",
                 "--out", str(out)]) == 0
    assert CALLS["loss.d"] >= 3 and CALLS["loss.g"] >= 3      # three steps of D and G, through the new loss
    assert CALLS["augment"] >= 6                                # D saw reals and fakes through the flip
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["loss"], config["augment"]) == ("softplus-squared", "test-flip")


def test_registered_names_are_listed_by_help_and_config(plugin, capsys) -> None:
    result = CliRunner().invoke(app, ["train", "--help"])
    assert "softplus-squared" in result.output
    assert main(["config"]) == 0
    listing = capsys.readouterr().out
    assert "softplus-squared" in listing and "test-flip" in listing
    assert "mean_norm" in CliRunner().invoke(app, ["evaluate", "run", "--help"]).output


def test_unregistered_names_are_still_refused(emoji_built, capsys) -> None:
    assert main(["train", *TINY, "--loss", "softplus-squared", "--dry-run"]) != 0
    assert "unknown value for config field 'loss' 'softplus-squared'" in capsys.readouterr().err


def test_a_registered_metric_and_report_section_appear_in_the_evaluation(plugin, emoji_built, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", *TINY, "--kimg", "0.016", "--minutes", "0", "--out", str(run)]) == 0
    report = tmp_path / "eval"
    assert main(["evaluate", "run", str(run), "--n", "24", "--features", "random", "--metrics", "fd,mean_norm",
                 "--out", str(report)]) == 0
    metrics = json.loads((report / "metrics.json").read_text())["metrics"]
    assert metrics["mean_norm_ratio"] > 0 and CALLS["metric"] == 1
    html = (report / "report.html").read_text()
    assert "From a plugin" in html and "plugin saw 24 samples" in html
    assert "Samples" in html                                    # the section it wraps is still there
