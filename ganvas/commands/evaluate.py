"""`ganvas evaluate RUN_OR_CHECKPOINT …` and `ganvas evaluate features REAL.npy FAKE.npy …`.

One command, two forms: a click group whose first argument, when it is not a subcommand name, is
taken as the run to evaluate (``ganvas evaluate run PATH`` is the explicit spelling, for a run
folder that happens to be called "features").
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ganvas.commands import FullHelpGroup, ListedOption, PathArg, RegistryChoice
from ganvas.console import info
from ganvas.registry import EXTRACTORS, METRICS, Choices

FEATURES = RegistryChoice(Choices(EXTRACTORS, first=("auto",)))


class DefaultToRun(FullHelpGroup):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToRun, epilog=(
    "ganvas evaluate RUN_OR_CHECKPOINT [--data D] [--n N] [--features F]: report on a trained model.\n\n"
    "ganvas evaluate features REAL.npy FAKE.npy [--train TRAIN.npy] --json: the metrics on your own features."))
def evaluate() -> None:
    """Judge what a model makes: quality, diversity, novelty, memorization, with an HTML report."""


def _load_features(path: Path, what: str):
    from ganvas.errors import GanvasError
    from ganvas.files import load_npy

    if not path.is_file():
        raise GanvasError(f"{what} '{path}' does not exist")
    try:
        return load_npy(path)
    except (ValueError, OSError, EOFError) as exc:     # numpy's errors for pickles, object arrays, other files
        reason = ("it holds pickled Python objects" if "pickle" in str(exc) else
                  " ".join(str(exc).split()) or type(exc).__name__)
        raise GanvasError(f"{what} '{path}' is not a plain numeric .npy array (pickles are refused): "
                          f"{reason}") from None


@evaluate.command("features")
@click.argument("real", type=PathArg)
@click.argument("fake", type=PathArg)
@click.option("--train", type=PathArg, help="training-set features for the memorization tests (default: REAL)")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="seed of the KID subsets")
@click.option("--json", "as_json", is_flag=True, help="print the figures as one JSON object")
def features_cmd(real, fake, train, seed, as_json) -> None:
    """Metrics on precomputed N×D feature arrays (.npy), to check ganvas against other tools."""
    from ganvas.eval.evaluate import evaluate_features

    arrays = {"real": _load_features(real, "REAL features"), "fake": _load_features(fake, "FAKE features")}
    names = {"real": str(real), "fake": str(fake)}
    if train is not None:
        arrays["train"] = _load_features(train, "TRAIN features")
        names["train"] = str(train)
    result = evaluate_features(arrays["real"], arrays["fake"], arrays.get("train"), names=names, seed=seed)
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<20} {value:.6g}" if isinstance(value, float) else f"{key:<20} {value}")


@evaluate.command("run")
@click.argument("checkpoint", type=PathArg)
@click.option("--data", help="dataset to compare with (default: the one the model was trained on)")
@click.option("--n", type=click.IntRange(1), help="generated samples, and as many reference reals "
                                                  "(default: all the held-out split allows, at most 5000)")
@click.option("--features", type=FEATURES, default="auto", show_default=True,
              help="extractor: auto = domain when the data has labels, else random")
@click.option("--inception-weights", type=PathArg, help="InceptionV3 weights file (or set GANVAS_INCEPTION)")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="generated samples are seeds SEED…SEED+N-1; also seeds the choice of reals")
@click.option("--truncation", type=float, help="ψ in [0, 1] (default: none, as FID is usually reported)")
@click.option("--metrics", default="all", show_default=True, cls=ListedOption, listed=Choices(METRICS),
              help="comma-separated, or all: {choices}")
@click.option("--out", type=PathArg, help="folder for metrics.json and report.html "
                                          "(default RUN/eval/<checkpoint>-<features>-n<N>)")
@click.option("--temperature", type=float, help="text models: sampling temperature (default 0.8)")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto (the generator's device)")
@click.option("--json", "as_json", is_flag=True, help="also print metrics.json to stdout")
@click.option("--cache", type=PathArg, default=None,
              help="keep what the report's sections compute (directions, names, units) here, not in the run "
                   "folder; with it and --out, nothing is written into the run folder")
def run_cmd(checkpoint, data, n, features, inception_weights, seed, truncation, metrics, out, device,
            temperature, as_json, cache) -> None:
    """Generate N samples and compare them with the data: metrics.json and a self-contained report.html."""
    from ganvas.accel import pick_device, set_threads
    from ganvas.api import load
    from ganvas.errors import GanvasError
    from ganvas.eval.evaluate import evaluate_run
    from ganvas.eval.report import render
    from ganvas.eval.suite import check_metric_names
    from ganvas.files import write_json, write_text

    if cache is not None:
        import os

        from ganvas.explore.ganspace import CACHE_ENV

        os.environ[CACHE_ENV] = str(cache)
    names = [m.strip() for m in metrics.split(",") if m.strip()]
    chosen = tuple(METRICS.names()) if metrics == "all" else check_metric_names(names)
    set_threads(0)
    G = load(checkpoint, pick_device(device))
    from ganvas.writer import Writer

    if isinstance(G, Writer):
        evaluate_text_run(G, checkpoint, data, n, seed, temperature, out, as_json)
        return
    if temperature is not None:
        raise GanvasError("--temperature applies to text models; use --truncation for image and music models")
    options = {"weights": inception_weights} if inception_weights and features == "inception" else {}
    ev = evaluate_run(G, data, n, features, seed=seed, truncation=truncation, metrics=chosen, progress=True,
                      extractor_options=options)
    if out is None:
        run_dir = G.path.parent.parent if G.path.parent.name == "checkpoints" else G.path.parent
        out = run_dir / "eval" / f"{G.path.name}-{ev.reference.extractor.name}-n{ev.reference.n}"
    write_json(Path(out) / "metrics.json", ev.metrics)
    write_text(Path(out) / "report.html", render(ev))
    m, ex = ev.metrics["metrics"], ev.reference.extractor
    shown = [ex.fd_name, "precision", "recall", "density", "coverage", "authenticity", "memorized_fraction", "C_T"]
    info(f"{ex.name} features ({ex.sha256[:12]}), N = {ev.reference.n}: " +
         ", ".join(f"{k} {m[k]:.4g}" for k in shown if k in m))
    for warning in ev.metrics.get("warnings", []):
        info(f"warning: {warning}")
    if "control" in ev.metrics:
        c = ev.metrics["control"]
        info(f"  control: {c['control_accuracy']:.0%} of samples are classified as the class asked for "
             f"(the classifier gets {c['classifier_heldout_accuracy']:.0%} of its held-out real images of these "
             f"classes right; both averaged per class: ratio {c['control_ratio']:.2f}; chance {c['chance']:.0%})")
    info(f"  metrics: {Path(out) / 'metrics.json'}")
    info(f"  report:  {Path(out) / 'report.html'}")
    if as_json:
        print(json.dumps(ev.metrics, indent=2))


def evaluate_text_run(W, checkpoint, data, n, seed, temperature, out, as_json) -> None:
    """A text model: constrained and free samples against the held-out poems (ganvas/eval/text_evaluate.py)."""
    from ganvas.errors import GanvasError
    from ganvas.eval.text_evaluate import evaluate_text
    from ganvas.files import write_json, write_text

    if data is not None:
        raise GanvasError("--data: a text model is evaluated on the data it was trained on (its held-out split)")
    n = n or 200
    temperature = 0.8 if temperature is None else temperature
    metrics, page = evaluate_text(W, n, seed, temperature)
    if out is None:
        run_dir = W.path.parent.parent if W.path.parent.name == "checkpoints" else W.path.parent
        out = run_dir / "eval" / f"{W.path.name}-text-n{n}-t{temperature:g}"
    write_json(Path(out) / "metrics.json", metrics)
    write_text(Path(out) / "report.html", page)
    for line in metrics["verdict"]:
        info(f"  {line}")
    info(f"  metrics: {Path(out) / 'metrics.json'}")
    info(f"  report:  {Path(out) / 'report.html'}")
    if as_json:
        print(json.dumps(metrics, indent=2, ensure_ascii=False))
