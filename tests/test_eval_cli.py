"""`ganvas evaluate` end to end on a tiny trained run, evaluation during training, and bad input."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from ganvas.cli import main
from ganvas.eval.evaluate import FEATURES_JSON_KEYS


def run_main(capsys, *args: str) -> subprocess.CompletedProcess:
    """The CLI in-process (no interpreter start-up), with the same result shape as run_cli."""
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out.out, out.err)


@pytest.fixture(scope="module")
def run_with_holdout(tmp_path_factory, emoji_built) -> Path:
    """A few steps of a tiny DCGAN with 10% of emoji held out, evaluated every 5 steps."""
    out = tmp_path_factory.mktemp("runs") / "held"
    assert main(["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", "--kimg", "0.24",
                 "--batch-size", "16", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8",
                 "--set", "sample_count=4", "--set", "holdout=0.1", "--eval-every", "5", "--set", "eval_n=60",
                 "--set", "eval_features=random", "--out", str(out)]) == 0
    return out


def test_training_logs_evaluations_and_keeps_the_best_checkpoint(run_with_holdout: Path) -> None:
    import ganvas

    rows = [json.loads(line) for line in (run_with_holdout / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/FD_random" in r]
    assert [r["step"] for r in evals] == [5, 10, 15]
    assert all({"eval/precision", "eval/recall", "eval/C_T", "eval/memorized_fraction"} <= set(r) for r in evals)
    best_meta = json.loads((run_with_holdout / "checkpoints" / "best" / "checkpoint.json").read_text())
    best = min(evals, key=lambda r: r["eval/FD_random"])
    assert best_meta["best"]["step"] == best["step"] == best_meta["progress"]["step"]
    assert best_meta["config"]["holdout"] == 0.1 and best_meta["dataset"]["count"] == 3655 - 366
    assert ganvas.load(run_with_holdout / "checkpoints" / "best").sample(2).shape == (2, 3, 32, 32)
    # the evaluate command on that checkpoint reproduces the logged figure (same seeds, N and features)
    proc = run_cli("evaluate", str(run_with_holdout / "checkpoints" / "best"), "--n", "60", "--features", "random",
                   "--metrics", "fd", "--json", "--out", str(run_with_holdout / "eval-best"))
    assert proc.returncode == 0, proc.stderr
    again = json.loads(proc.stdout)["metrics"]["FD_random"]
    assert again == pytest.approx(best["eval/FD_random"], rel=1e-5)


def test_evaluate_writes_metrics_and_a_self_contained_report(run_with_holdout: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    proc = run_cli("evaluate", str(run_with_holdout), "--n", "50", "--features", "random", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "FD_random" in proc.stderr and "report:" in proc.stderr
    result = json.loads((out / "metrics.json").read_text())
    m = result["metrics"]
    for key in ("FD_random", "FD_random_heldout", "FD_random_real_floor", "KD_random_mean", "KD_random_std",
                "precision", "recall", "density", "coverage", "authenticity", "memorized_fraction", "diversity",
                "diversity_ratio", "C_T"):
        assert isinstance(m[key], float), key
    assert not any(k.startswith(("FID", "KID")) for k in m)            # not Inception: never called FID
    assert result["n"] == m["n_fake"] == m["n_real"] == 50 and m["n_heldout"] == 366
    assert result["extractor"]["name"] == "random" and len(result["extractor"]["sha256"]) == 64
    assert result["data"]["split"] == {**result["data"]["split"], "holdout": 0.1, "n_train": 3289, "n_heldout": 366}
    assert result["generator"]["seeds"] == [0, 49]
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and not re.search(r"(src|href)=['\"](https?:|/|file:)", html)
    for part in ("Samples close to a training image", "Most novel samples", "Memorized samples",
                 "FD_random", "are not FID or KID", result["extractor"]["sha256"][:12], "N = 50"):
        assert part in html, part
    # for a newcomer: one sentence first, every figure explained, the counts folded away under details
    verdict = re.search(r"<p class='verdict'><b>(Overall: [^<]*)</b>", html)
    assert verdict and f"precision {m['precision']:.2f}" in verdict.group(1), html[:2000]
    main_table, details = html.split("<details>", 1)
    main_table = main_table.split("<h2>Figures", 1)[1]
    rows = re.findall(r"<tr><td>([^<]*)</td><td class='v'>[^<]*</td><td class='small'>([^<]*)</td></tr>", html)
    assert len(rows) == len(m) and all(meaning.strip() for _, meaning in rows), rows
    for key in ("n_real", "n_fake", "n_heldout", "dim", "C_T_cells"):
        assert f"<td>{key}</td>" in details.split("</details>")[0] and f"<td>{key}</td>" not in main_table, key
    if m["FD_random_heldout"] < m["FD_random_real_floor"]:
        assert "below the floor" in html


def test_evaluate_with_the_domain_extractor_through_the_api(run_with_holdout: Path, ganvas_home) -> None:
    from ganvas.eval import evaluate_generator
    from ganvas.eval.domain_net import DomainRecipe

    tiny = DomainRecipe(width=8, epochs=1, limit=300, batch_size=32)
    r = evaluate_generator(run_with_holdout, None, 30, "domain", extractor_options={"recipe": tiny},
                           metrics=("fd", "memorization"))
    assert r["extractor"]["name"] == "domain" and set(r["metrics"]) >= {"FD_domain", "FD_domain_heldout",
                                                                         "memorized_fraction"}


def test_evaluate_features_cli_matches_the_api(tmp_path: Path) -> None:
    from ganvas.eval.evaluate import evaluate_features

    rng = np.random.default_rng(0)
    real, fake, train = rng.normal(size=(120, 8)), rng.normal(size=(90, 8)) + 0.3, rng.normal(size=(300, 8))
    for name, a in (("real", real), ("fake", fake), ("train", train)):
        np.save(tmp_path / f"{name}.npy", a)
    proc = run_cli("evaluate", "features", str(tmp_path / "real.npy"), str(tmp_path / "fake.npy"),
                   "--train", str(tmp_path / "train.npy"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert tuple(out) == FEATURES_JSON_KEYS
    expected = evaluate_features(real, fake, train)
    assert out == pytest.approx(expected, rel=1e-12)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> Path:
    import pickle

    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(1)
    np.save(d / "ok.npy", rng.normal(size=(50, 16)))
    np.save(d / "narrow.npy", rng.normal(size=(50, 8)))
    a = rng.normal(size=(50, 16))
    a[3, 2] = np.nan
    np.save(d / "nan.npy", a)
    a = rng.normal(size=(50, 16))
    a[1, 0] = np.inf
    np.save(d / "inf.npy", a)
    np.save(d / "few.npy", rng.normal(size=(3, 16)))
    (d / "pickle.npy").write_bytes(pickle.dumps([1, 2, 3]))
    (d / "fake_inception.pth").write_bytes(b"not the weights")
    return d


BAD = [
    (["narrow.npy"], ["feature arrays of different widths", "ok.npy has 16 columns", "narrow.npy has 8"]),
    (["nan.npy"], ["nan.npy: 1 NaN or inf values", "row 3, column 2"]),
    (["inf.npy"], ["inf.npy: 1 NaN or inf values", "inf at row 1, column 0"]),
    (["few.npy"], ["few.npy: 3 samples", "needs at least 4"]),
    (["pickle.npy"], ["pickle.npy' is not a plain numeric .npy array", "pickled"]),
    (["missing.npy"], ["FAKE features", "missing.npy' does not exist"]),
]


@pytest.mark.parametrize(("args", "needles"), BAD, ids=[a[0] for a, _ in BAD])
def test_bad_feature_files_are_one_line_errors(args: list[str], needles: list[str], bad_files: Path, capsys) -> None:
    files = [str(bad_files / a) for a in args]
    proc = run_main(capsys, "evaluate", "features", str(bad_files / "ok.npy"), *files, "--json")
    assert_one_line_error(proc, *needles)


def test_bad_evaluate_input_is_one_line(run_with_holdout: Path, bad_files: Path, tmp_path: Path, capsys) -> None:
    def run_cli(*args: str) -> subprocess.CompletedProcess:
        return run_main(capsys, *args)

    assert_one_line_error(run_cli("evaluate", str(run_with_holdout), "--n", "400", "--features", "random"),
                          "--n 400 is more than the held-out split of 'emoji' (366 images", "use --n 366 or less")
    assert_one_line_error(run_cli("evaluate", str(run_with_holdout), "--features", "inception",
                                  "--inception-weights", str(bad_files / "fake_inception.pth")),
                          "fake_inception.pth' has SHA-256", "expected one starting 6726825d")
    assert_one_line_error(run_cli("evaluate", str(run_with_holdout), "--features", "vgg"),
                          "'--features'", "'vgg' is not one of")
    assert_one_line_error(run_cli("evaluate", str(run_with_holdout), "--metrics", "fd,fid"),
                          "unknown metric 'fid'", "did you mean 'fd'")
    assert_one_line_error(run_cli("evaluate", str(tmp_path / "nowhere")), "does not exist")
    assert_one_line_error(run_cli("train", "--set", "holdout=0.7", "--dry-run"),
                          "'holdout' must be a share in [0, 0.5]")


@pytest.mark.parametrize(("figures", "words"), [
    ({"precision": 0.1, "recall": 0.05, "memorized_fraction": 0.0}, ("mostly do not look like", "Train longer")),
    ({"precision": 0.8, "recall": 0.6, "memorized_fraction": 0.0, "diversity_ratio": 0.9},
     ("look like the data", "cover much of its variety", "nothing looks copied")),
    ({"precision": 0.9, "recall": 0.3, "memorized_fraction": 0.2}, ("some look copied", "cover part")),
    ({"precision": 0.9, "recall": 0.6, "diversity_ratio": 0.3}, ("mode collapse",)),
])
def test_the_overall_verdict_is_one_plain_sentence(figures: dict, words: tuple[str, ...]) -> None:
    from ganvas.eval.report import overall

    sentence = overall(figures, "FD_random")
    assert sentence.startswith("Overall: ") and "\n" not in sentence
    assert all(w in sentence for w in words), sentence


def test_evaluate_can_leave_the_run_folder_untouched(run_with_holdout: Path, tmp_path: Path) -> None:
    """A run someone may only read: with --out and --cache nothing is written into it."""
    before = sorted((p.relative_to(run_with_holdout).as_posix(), p.stat().st_mtime_ns)
                    for p in run_with_holdout.rglob("*") if p.is_file())
    proc = run_cli("evaluate", str(run_with_holdout), "--n", "30", "--features", "random", "--out",
                   str(tmp_path / "ev"), "--cache", str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    after = sorted((p.relative_to(run_with_holdout).as_posix(), p.stat().st_mtime_ns)
                   for p in run_with_holdout.rglob("*") if p.is_file())
    assert after == before and (tmp_path / "ev" / "report.html").is_file()


def test_explore_caches_follow_ganvas_cache(run_with_holdout: Path, tmp_path: Path, monkeypatch) -> None:
    from ganvas.api import load
    from ganvas.explore import ganspace

    G = load(run_with_holdout)
    assert ganspace.cache_dir(G).is_relative_to(run_with_holdout)
    monkeypatch.setenv(ganspace.CACHE_ENV, str(tmp_path / "cache"))
    where = ganspace.cache_dir(G)
    assert where.is_relative_to(tmp_path / "cache") and where.name == G.path.name
    assert where.parent.name.startswith(run_with_holdout.name + "-")
