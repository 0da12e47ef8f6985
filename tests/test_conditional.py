"""Class conditioning: labels → G's embedding → a projection D, for every family; sampling by class name."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_cli
from PIL import Image

import ganvas
from ganvas.app.training import train
from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec
from ganvas.nets.conditional import ClassNorm, LabelEmbedding, class_weights, one_hot, set_class

CLASSES = ("dark", "bright", "red")
IMAGE_SPEC = DataSpec("image", (3, 32, 32), 3, {}, CLASSES)
MUSIC_ARGS = {"tracks": ["piano", "bass"], "low": 36, "high": 60, "beats": 4, "beat_steps": 4, "bars": 2}
SMALL = {"dcgan": {"ngf": 8, "ndf": 8}, "stylegan": {"z_dim": 32, "w_dim": 32, "channel_base": 256,
                                                     "channel_max": 32, "mapping_layers": 2},
         "fastgan": {"z_dim": 32, "g_channel_base": 128, "d_channel_base": 128, "channel_max": 32,
                     "decoder_channels": 8}, "musegan": {}}


def build(name: str, conditional: bool = True):
    spec = IMAGE_SPEC
    if name == "musegan":
        spec = DataSpec("music", (2, 32, 24), 3, MUSIC_ARGS, CLASSES)
    torch.manual_seed(0)
    return MODELS.get(name).build(spec, SMALL[name], conditional=conditional).eval()


@pytest.mark.parametrize("name", ["dcgan", "stylegan", "fastgan", "musegan"])
def test_each_family_takes_the_class_in_g_and_in_d(name: str) -> None:
    model = build(name)
    assert model.num_classes == 3 and model.describe()["conditional"] is True
    z = torch.randn(2, *model.latent_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for m in model.G.modules():          # class-conditional BatchNorm starts as the plain one: move it
            if isinstance(m, ClassNorm):
                m.gain.normal_()
                m.shift.normal_()
        a = model.generate(model.with_condition(z, one_hot(torch.tensor([0]), 3)))
        b = model.generate(model.with_condition(z, one_hot(torch.tensor([1]), 3)))
        again = model.generate(model.with_condition(z, one_hot(torch.tensor([0]), 3)))
        assert torch.equal(a, again)
        assert (a - b).abs().max() > 1e-3 * a.abs().max()     # same z, another class: another output
        x = torch.randn(2, *model.spec.shape)
        d0 = model.D(x, c=one_hot(torch.tensor([0, 0]), 3))
        d1 = model.D(x, c=one_hot(torch.tensor([1, 1]), 3))
    assert d0.shape == (2,) and (d0 - d1).abs().max() > 1e-6   # D judges the pair (image, class)


def test_unconditional_builds_ignore_labels_and_keep_their_parameters() -> None:
    plain = build("dcgan", conditional=False)
    assert plain.num_classes == 0 and "conditional" not in plain.describe()
    assert not any("embed" in k or "project" in k for k in plain.state_dict())
    cond = build("dcgan")
    extra = {k for k in cond.state_dict() if k not in plain.state_dict()}
    assert "D.project.embed" in extra and "G.net.1.gain" in extra and "G.net.1.shift" in extra
    assert all(k.endswith((".gain", ".shift", "project.embed")) or ".norm." in k for k in extra)


def test_class_conditional_batchnorm_moves_normalised_features_by_the_class() -> None:
    model = build("dcgan")
    norm = model.G.net[1]
    with torch.no_grad():
        norm.gain.normal_()
        norm.shift.normal_()
        x = torch.randn(4, norm.norm.num_features, 4, 4)
        c = one_hot(torch.tensor([0, 1, 2, 0]), 3)
        set_class(model.G, c)
        y = norm(x)
        base = norm.norm(x)
        by_hand = base * (1 + (c @ norm.gain)[:, :, None, None]) + (c @ norm.shift)[:, :, None, None]
    assert torch.allclose(y, by_hand, atol=1e-6)


def test_the_projection_term_is_the_inner_product_of_the_class_embedding_and_ds_features() -> None:
    model = build("dcgan")
    x = torch.randn(4, 3, 32, 32)
    c = one_hot(torch.tensor([0, 1, 2, 1]), 3)
    with torch.no_grad():
        features = model.D.net[:-1](x).mean(dim=(2, 3))              # pooled over space
        by_hand = model.D.net[-1](model.D.net[:-1](x)).flatten() + ((c @ model.D.project.embed) * features).sum(1)
        assert torch.allclose(model.D(x, c=c), by_hand, atol=1e-5)


@pytest.mark.parametrize("name", ["dcgan", "stylegan", "fastgan", "musegan"])
def test_the_class_loss_trains_d_to_classify_reals_and_g_to_make_the_class(name: str) -> None:
    """config `class_loss`: cross-entropy of the projection's class scores (every class's ⟨E_D k, φ⟩), of the
    reals in D's step and of the fakes in G's step; the scores are the same numbers the projection adds."""
    from ganvas.config import TrainConfig

    model = build(name).train()
    x = torch.randn(4, *model.spec.shape)
    y = torch.tensor([0, 1, 2, 1])
    c = one_hot(y, 3)
    with torch.no_grad():
        logits = model.D(x, c=c)
        scores = model.class_scores()
        logits_other = model.D(x, c=one_hot(torch.tensor([1, 2, 0, 0]), 3))
    assert scores.shape == (4, 3)
    picked = scores.gather(1, y[:, None])[:, 0]
    other = scores.gather(1, torch.tensor([[1], [2], [0], [0]]))[:, 0]
    assert torch.allclose(logits - logits_other, picked - other, atol=1e-4)     # the class term is the score
    cfg = TrainConfig(model=name, conditional=True, class_loss=1.0, loss="hinge")
    objective = model.objective(cfg, torch.Generator().manual_seed(0))
    batch = {"x": x, "y": y}
    d, d_stats = objective.d_loss(batch)
    g, g_stats = objective.g_loss(batch)
    assert d_stats["loss/D_class"] > 0 and g_stats["loss/G_class"] > 0
    assert torch.isclose(g, g_stats["loss/G"] + g_stats["loss/G_class"], atol=1e-5)
    assert torch.isfinite(d) and torch.isfinite(g)


def test_a_class_loss_needs_a_conditional_run() -> None:
    from ganvas.config import TrainConfig

    with pytest.raises(GanvasError, match="class_loss.*needs a conditional run"):
        build("dcgan", conditional=False).objective(TrainConfig(class_loss=1.0), torch.Generator())


def test_a_blend_mixes_the_class_embeddings() -> None:
    c = class_weights(CLASSES, "dark:0.25, bright:0.75")
    assert torch.allclose(c, torch.tensor([[0.25, 0.75, 0.0]]))
    assert torch.equal(class_weights(CLASSES, "Bright"), torch.tensor([[0.0, 1.0, 0.0]]))   # case ignored
    assert torch.allclose(class_weights(CLASSES, {"dark": 0.5, "red": 0.5}), torch.tensor([[0.5, 0.0, 0.5]]))
    embed = LabelEmbedding(3, 5)
    assert torch.allclose(embed(c), 0.25 * embed.weight[0] + 0.75 * embed.weight[1])
    norm = build("dcgan").G.net[1]                                     # conditional BatchNorm: the same mix
    with torch.no_grad():
        norm.gain.normal_()
        halfway = class_weights(CLASSES, "dark:0.5,bright:0.5") @ norm.gain
        assert torch.allclose(halfway[0], norm.gain[:2].mean(0), atol=1e-6)


@pytest.mark.parametrize("label, needles", [
    ("blue", ["unknown class 'blue'", "dark, bright, red"]),
    ("dark:0.5,bright:0.7", ["must sum to 1", "1.2"]),
    ("dark:-0.5,bright:1.5", ["'dark'", ">= 0"]),
    ("dark:half,bright:0.5", ["must be a number", "'half'"]),
    ("dark:nan,bright:1", [">= 0"]),
])
def test_bad_classes_are_one_line_errors(label: str, needles: list[str]) -> None:
    with pytest.raises(GanvasError) as err:
        class_weights(CLASSES, label)
    assert "\n" not in str(err.value) and all(n in str(err.value) for n in needles)


def test_truncation_leaves_the_class_alone_and_seeds_cycle_through_classes() -> None:
    model = build("dcgan")
    codes = model.latents_for_seeds(list(range(7)), truncation=0.5)
    assert codes.shape == (7, 103)
    assert torch.equal(codes[:, -3:].argmax(1), torch.arange(7) % 3)      # seed s: class s mod K
    assert torch.equal(codes[:, -3:].sum(1), torch.ones(7))              # not scaled by ψ
    full = model.latents_for_seeds([4], label="red")
    assert torch.allclose(full[0, :100] * 0.5, model.latents_for_seeds([4], 0.5, label="red")[0, :100])
    assert torch.equal(model.grid_input([3, 4], None)[:, -3:].argmax(1), torch.tensor([0, 1]))


def test_an_unconditional_model_refuses_a_class_and_a_conditional_one_needs_one() -> None:
    with pytest.raises(GanvasError, match="trained without classes"):
        build("dcgan", conditional=False).latents_for_seeds([0], label="dark")
    with pytest.raises(GanvasError, match="is conditional: give a class, one of dark, bright, red"):
        build("dcgan").with_condition(torch.zeros(1, 100), None)


def test_models_that_cannot_take_labels_and_unlabelled_data_are_refused() -> None:
    with pytest.raises(GanvasError, match="needs a model that takes class labels"):
        MODELS.get("pix2pix").check_conditional(IMAGE_SPEC)
    with pytest.raises(GanvasError, match="at least two classes; this data has 0"):
        MODELS.get("dcgan").build(DataSpec("image", (3, 32, 32)), {}, conditional=True)


def shades_folder(root: Path, n: int = 48) -> Path:
    """A labelled folder: dark/ and bright/ noisy grey squares (a class anyone can check by the mean)."""
    rng = np.random.default_rng(0)
    for name, level in (("dark", 50), ("bright", 205)):
        (root / name).mkdir(parents=True)
        for i in range(n):
            img = np.clip(rng.normal(level, 25, (32, 32, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
            Image.fromarray(img).save(root / name / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def shades(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shades_folder(tmp_path_factory.mktemp("shades") / "shades")


def test_a_conditional_gan_learns_to_make_the_class_it_is_asked_for(shades: Path, tmp_path: Path) -> None:
    """Brightness gap between bright and dark samples after a short run, median over three seeds."""
    gaps = []
    for seed in range(3):
        out = tmp_path / f"run{seed}"
        train(None, {"model": "dcgan", "data": str(shades), "resolution": 32, "conditional": True, "kimg": 6.4,
                     "batch_size": 32, "seed": seed, "model_args": {"ngf": 16, "ndf": 16}, "sample_every": 10**6,
                     "checkpoint_every": 10**6, "log_every": 10**6, "lr_g": 1e-3, "lr_d": 1e-3}, out)
        G = ganvas.load(out)
        assert G.classes == ["bright", "dark"]
        bright, dark = G.sample(16, seed=0, label="bright"), G.sample(16, seed=0, label="dark")
        gaps.append(float(bright.mean() - dark.mean()))
    assert statistics.median(gaps) > 0.5, gaps      # data: (205 − 50)/127.5 ≈ 1.2 apart in [−1, 1]


def test_conditional_on_unlabelled_data_is_a_one_line_error(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(120):                    # enough images not to be warned about their number
        Image.new("RGB", (32, 32), (i * 2, 0, 0)).save(flat / f"{i}.png")
    proc = run_cli("train", "--data", str(flat), "--model", "dcgan", "--conditional", "--dry-run",
                   "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, "--conditional needs labelled data", "sub-folder per class")


@pytest.fixture(scope="module")
def conditional_run(shades: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cond") / "run"
    proc = run_cli("train", "--data", str(shades), "--model", "dcgan", "--resolution", "32", "--conditional",
                   "--dry-run", "--out", str(out), "--set", "model_args={ngf = 8, ndf = 8}")
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_checkpoint_records_the_classes_and_reloads_conditional(conditional_run: Path) -> None:
    meta = json.loads(next(conditional_run.glob("checkpoints/*/checkpoint.json")).read_text())
    assert meta["model"]["conditional"] is True and meta["model"]["spec"]["classes"] == ["bright", "dark"]
    G = ganvas.load(conditional_run)
    assert G.classes == ["bright", "dark"]
    assert torch.equal(G.sample(3, seed=5, label="dark"), G.sample(3, seed=5, label="dark"))
    assert not torch.equal(G.sample(3, seed=5, label="dark"), G.sample(3, seed=5, label="bright"))


def test_an_older_checkpoint_of_labelled_data_stays_unconditional(conditional_run: Path, tmp_path: Path) -> None:
    plain = MODELS.get("dcgan").build(IMAGE_SPEC, SMALL["dcgan"])      # labelled spec, not conditional
    assert plain.num_classes == 0 and plain.describe()["spec"]["num_classes"] == 0


def test_sample_by_class_on_the_command_line(conditional_run: Path, tmp_path: Path) -> None:
    proc = run_cli("sample", str(conditional_run), "--grid-by-class", "--n", "4", "--grid", str(tmp_path / "g.png"))
    assert proc.returncode == 0, proc.stderr
    assert "one row per class (bright, dark)" in proc.stdout
    width, height = Image.open(tmp_path / "g.png").size
    assert 1.8 < width / height < 2.2                                 # 2 rows (classes) of 4 columns (seeds)
    one = run_cli("sample", str(conditional_run), "--class", "dark", "--n", "4", "--grid", str(tmp_path / "d.png"))
    assert one.returncode == 0, one.stderr
    assert_one_line_error(run_cli("sample", str(conditional_run), "--class", "grey"),
                          "unknown class 'grey'", "bright, dark")
    assert_one_line_error(run_cli("sample", str(conditional_run), "--class", "dark:0.2,bright:0.2"),
                          "must sum to 1")


def test_an_unconditional_run_refuses_a_class_on_the_command_line(tmp_path: Path, shades: Path) -> None:
    out = tmp_path / "plain"
    proc = run_cli("train", "--data", str(shades), "--model", "dcgan", "--dry-run", "--out", str(out),
                   "--set", "model_args={ngf = 8, ndf = 8}")
    assert proc.returncode == 0, proc.stderr
    assert_one_line_error(run_cli("sample", str(out), "--class", "dark"), "is not conditional", "--conditional")


def test_rare_classes_are_reported_at_start_and_merged_when_asked(shades: Path, tmp_path: Path) -> None:
    data = tmp_path / "shades"
    import shutil

    shutil.copytree(shades, data)
    for name, colour, n in (("red", (200, 0, 0), 5), ("blue", (0, 0, 200), 6)):
        (data / name).mkdir()
        for i in range(n):
            Image.new("RGB", (32, 32), colour).save(data / name / f"{i}.png")
    common = ["--data", str(data), "--model", "dcgan", "--conditional", "--dry-run", "--set",
              "model_args={ngf = 8, ndf = 8}"]
    proc = run_cli("train", *common, "--out", str(tmp_path / "a"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: 2 classes have fewer than 20 examples: red (5), blue (6)" in proc.stderr
    proc = run_cli("train", *common, "--set", "min_class_count=10", "--out", str(tmp_path / "b"))
    assert proc.returncode == 0, proc.stderr
    assert "merged 2 classes with fewer than 10 examples into 'other' (11 examples)" in proc.stderr
    assert ganvas.load(tmp_path / "b").classes == ["bright", "dark", "other"]


@pytest.mark.parametrize("preset, args, classes", [
    ("emoji-dcgan-32-conditional", [], 9),
    (None, ["--data", "emoji", "--model", "stylegan", "--resolution", "32", "--conditional"], 9),
    ("chorales-musegan-modes", [], 2),
])
def test_conditional_dry_runs(preset, args, classes, tmp_path: Path, emoji_built, chorales_built) -> None:
    out = tmp_path / "run"
    proc = run_cli("train", *(["--preset", preset] if preset else []), *args, "--dry-run", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    G = ganvas.load(out)
    assert len(G.classes) == classes
    name = G.classes[-1]
    assert torch.equal(G.sample(2, seed=1, label=name), G.sample(2, seed=1, label=name))


def test_evaluating_a_conditional_model_on_data_of_other_classes_says_so(conditional_run: Path,
                                                                       tmp_path: Path) -> None:
    other = tmp_path / "other"
    for name, colour in (("cats", (200, 120, 0)), ("dogs", (0, 120, 200))):
        (other / name).mkdir(parents=True)
        for i in range(60):
            Image.new("RGB", (32, 32), tuple(min(255, v + i) for v in colour)).save(other / name / f"{i}.png")
    proc = run_cli("evaluate", str(conditional_run), "--data", str(other), "--features", "random", "--n", "20",
                   "--out", str(tmp_path / "eval"))
    assert proc.returncode == 0, proc.stderr
    assert "warning: the model's classes (bright, dark) are not those of" in proc.stderr
    assert "control is not measured" in proc.stderr
    assert "control" not in json.loads((tmp_path / "eval" / "metrics.json").read_text())


def test_evaluate_measures_control_against_the_classifier_on_real_images(conditional_run: Path,
                                                                        tmp_path: Path) -> None:
    proc = run_cli("evaluate", str(conditional_run), "--n", "20", "--out", str(tmp_path / "eval"))
    assert proc.returncode == 0, proc.stderr
    assert "control:" in proc.stderr and "averaged per class" in proc.stderr
    control = json.loads((tmp_path / "eval" / "metrics.json").read_text())["control"]
    assert [r["class"] for r in control["classes"]] == ["bright", "dark"]
    assert 0 <= control["control_accuracy"] <= 1 and control["classifier_heldout_accuracy"] > 0.9   # shades: easy
    assert control["control_ratio"] == pytest.approx(control["control_accuracy"] /
                                                     control["classifier_heldout_accuracy"])
    report = (tmp_path / "eval" / "report.html").read_text()
    assert "Control: does it make the class asked for?" in report and "One row per class (bright, dark)" in report
