"""Maximum likelihood against adversarial fine-tuning of the verse model, over seeds and a temperature sweep.

Language GANs are usually reported without sweeping the maximum-likelihood model's temperature, which
hides that the MLE model alone spans the quality/diversity trade-off (Caccia et al., "Language GANs
Falling Short", 2018). This bench trains, for each seed, the ``tang-poems-ctrl`` preset by likelihood
(early-stopped and rolled back to its best held-out NLL), then continues a copy of that run with
``--adversarial`` (``ganvas train --resume --out COPY --adversarial``): the Gumbel-softmax fine-tune
from the best likelihood weights, with the collapse guard. Both are then sampled freely (codes only, seed s
asks for form s mod 4) at each temperature and scored: held-out NLL, BLEU-2/3 against the held-out
poems, self-BLEU-2/3, form pass rate and control accuracy. Medians over seeds are printed side by side.

    .venv/bin/python bench/text_gan.py --seeds 0 1 2 --out /tmp/text-gan          # about 40 minutes on 1 core
    .venv/bin/python bench/text_gan.py --seeds 0 --adv-steps 20 --n 20 --out /tmp/q   # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganvas.accel import set_threads  # noqa: E402


def best_step(run: Path) -> tuple[int, float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    step, nll = min(((r["step"], r["eval/nll"]) for r in rows if "eval/nll" in r), key=lambda t: t[1])
    return int(step), float(nll)


def guard_events(log: Path) -> str:
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    return next((line.split(": ", 1)[1] for line in text.splitlines() if "collapse guard" in line), "")


def train_logged(preset: str, overrides: dict, out: Path) -> None:
    """Train into `out`, keeping the console lines (the collapse guard's message) in out/train.log."""
    import contextlib
    import io

    from ganvas.app.training import train

    if (out / "final.png").exists():
        return
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        train(preset, overrides, out=out, progress=False)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.log").write_text(buf.getvalue(), encoding="utf-8")


def resume_logged(overrides: dict, out: Path) -> None:
    import contextlib
    import io

    from ganvas.app.training import train

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        train(None, overrides, out=out, resume=True, progress=False)
    (out / "train.log").write_text(buf.getvalue(), encoding="utf-8")


def score(run: Path, temperatures: list[float], n: int) -> dict[float, dict[str, float]]:
    import ganvas
    from ganvas.eval.text_evaluate import heldout_nll, split_texts
    from ganvas.eval.text_metrics import bleu, control_accuracy, self_bleu
    from ganvas.text.checks import form_pass

    W = ganvas.load(run)
    split = split_texts(W)
    nll = heldout_nll(W, split["held_x"], split["held_y"])
    forms = [c["form"] for c in W.seed_codes(list(range(n)), None)]
    out = {}
    for t in temperatures:
        texts = W.sample(n, 0, temperature=t, constrained=False)
        held = split["held"]
        out[t] = {"nll": nll, "bleu2": bleu(texts, held, 2, "zh"), "bleu3": bleu(texts, held, 3, "zh"),
                  "self_bleu2": self_bleu(texts, 2, "zh"), "self_bleu3": self_bleu(texts, 3, "zh"),
                  "form": sum(form_pass(x, f) for x, f in zip(texts, forms, strict=True)) / n,
                  "control": control_accuracy(texts, forms)["accuracy"]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.6, 0.8, 1.0, 1.2])
    p.add_argument("--n", type=int, default=100, help="texts sampled per temperature")
    p.add_argument("--adv-steps", type=int, default=150, help="steps of the adversarial phase (at most: the "
                   "collapse guard may end it sooner)")
    p.add_argument("--preset", default="tang-poems-ctrl")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    set_threads(args.threads)
    table: dict[str, dict[float, list[dict[str, float]]]] = {"MLE": {}, "adversarial": {}}
    notes = []
    for seed in args.seeds:
        mle = args.out / f"mle-s{seed}"
        train_logged(args.preset, {"seed": seed}, mle)
        step, nll = best_step(mle)
        adv = args.out / f"adv-s{seed}"
        # the fine-tune continues the MLE run's final checkpoint (its best held-out weights, rolled back to):
        # `ganvas train --resume --adversarial`, up to `adv-steps` steps, guarded against its best NLL
        from ganvas.train import checkpoint as ckpt

        if not (adv / "final.png").exists():
            import shutil

            shutil.rmtree(adv, ignore_errors=True)
            shutil.copytree(mle, adv)
            (adv / "final.png").unlink()
            done = ckpt.load(adv).step
            batch = json.loads((mle / "config.json").read_text(encoding="utf-8"))["config"]["batch_size"]
            resume_logged({"model_args.adversarial": True, "model_args.mle_steps": 0, "minutes": 0.0,
                           "kimg": (done + args.adv_steps) * batch / 1000}, adv)
        fired = guard_events(adv / "train.log")
        notes.append(f"seed {seed}: MLE best at step {step} (held-out NLL {nll:.4f}); the fine-tune ran from step "
                     f"{ckpt.load(mle).step} to {ckpt.load(adv).step}"
                     + (f"; {fired}" if fired else "; the collapse guard did not fire"))
        for name, run in (("MLE", mle), ("adversarial", adv)):
            for t, figures in score(run, args.temperatures, args.n).items():
                table[name].setdefault(t, []).append(figures)
    keys = ["nll", "bleu2", "bleu3", "self_bleu2", "self_bleu3", "form", "control"]
    print(f"medians over seeds {args.seeds}, n = {args.n} free texts per temperature (codes only; seed s asks for "
          "form s mod 4)")
    print("| model | T | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for name in table:
        for t in args.temperatures:
            rows = table[name][t]
            med = {k: statistics.median(r[k] for r in rows) for k in keys}
            print(f"| {name} | {t} | " + " | ".join(f"{med[k]:.3f}" if k == "nll" else
                                                    (f"{med[k]:.1f}" if "bleu" in k else f"{med[k]:.0%}")
                                                    for k in keys) + " |")
    for line in notes:
        print(line)
    (args.out / "table.json").write_text(json.dumps({n: {str(t): v for t, v in d.items()} for n, d in table.items()},
                                                    indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
