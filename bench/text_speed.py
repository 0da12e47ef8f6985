"""Verse model speed: training tokens/s, and the latency of one poem with and without the constrained decoder.

Target (issue 15, on the project's 2-core CPU): a constrained poem in under 100 ms (median). Measured
on the ``tang-poems-ctrl`` preset's model (an untrained copy made by a dry run unless --run names a
trained one; speed does not depend on the weights, only on the sizes), in this process:

1. training: a short run of the preset (no held-out checks, no sample pages) by maximum likelihood, and
   again in the adversarial phase (``--adversarial``: a Gumbel-softmax sample of the whole poem, the
   critic's step and the language model's step); the loop's own poems/s per log window (median), times
   the tokens a step runs the GRU over (padded to the longest poem) and the characters the poems hold;
2. sampling: one poem per call (``Writer.sample(1, seed)``, a new seed each time, as the studio and
   ``ganvas sample`` write them), freely and with the decoder (exact form, rhyme, lenient tones), per
   form and with an acrostic and keywords; and a page of 8 poems in one call, per poem. (Untrained
   weights never choose <eos>, so their free poems run to the longest length the data allows: free
   sampling is only meaningful with --run; the decoder ends a poem where its form ends either way.)

    .venv/bin/python bench/text_speed.py                   # about 2 minutes
    .venv/bin/python bench/text_speed.py --steps 30 --repeats 10   # a quick look
    .venv/bin/python bench/text_speed.py --run runs/tang-poems-ctrl  # a trained run's sampling
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")         # as the ganvas command sets it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ganvas.accel import set_threads  # noqa: E402

PRESET = "tang-poems-ctrl"
TARGET_MS = 100.0              # a constrained poem, median


def quiet_train(overrides: dict, out: Path, steps: int, dry_run: bool = False) -> None:
    from ganvas.app.training import train

    with contextlib.redirect_stderr(io.StringIO()):
        train(PRESET, overrides, out=out, dry_run=dry_run, progress=False, max_steps=steps)


def training_rate(out: Path, steps: int, adversarial: bool) -> dict[str, float]:
    """Median poems/s over the loop's log windows (the first window, with warm-up, left out)."""
    import numpy as np

    from ganvas.data.dataset import load_dataset
    from ganvas.text.vocab import PAD_ID

    overrides = {"eval_every": 0, "sample_every": 10**6, "checkpoint_every": 10**6, "log_every": 5,
                 "minutes": 0.0, "kimg": 0.0}
    if adversarial:
        overrides.update({"model_args.adversarial": True, "model_args.mle_steps": 0})
    quiet_train(overrides, out, steps)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    rates = [r["images_per_s"] for r in rows if "images_per_s" in r][1:]
    x = np.asarray(load_dataset("tang-poems", 0, domain="text", progress=False).arrays["x"])
    chars = float((x != PAD_ID).sum(axis=1).mean())
    poems = statistics.median(rates)
    return {"poems_per_s": poems, "padded_tokens_per_s": poems * x.shape[1], "chars_per_s": poems * chars,
            "batch": float(json.loads((out / "config.json").read_text(encoding="utf-8"))["config"]["batch_size"])}


def latency(fn, repeats: int) -> list[float]:
    """Milliseconds of fn(i) for i = 1 … repeats (a new seed each call), after one warm-up call."""
    fn(0)
    times = []
    for i in range(1, repeats + 1):
        t0 = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, help="a trained tang-poems-ctrl run to sample (default: an untrained copy)")
    p.add_argument("--steps", type=int, default=60, help="training steps per phase")
    p.add_argument("--repeats", type=int, default=40, help="poems timed per sampling case")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    set_threads(args.threads)
    import torch

    import ganvas

    tmp = Path(tempfile.mkdtemp(prefix="ganvas-text-speed-"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); preset {PRESET}")
    print("\ntraining (median of the loop's log windows)")
    print(f"  {'phase':<14} {'batch':>5} {'poems/s':>8} {'tokens/s (padded)':>18} {'characters/s':>13}")
    for name, adversarial in (("likelihood", False), ("adversarial", True)):
        r = training_rate(tmp / name, args.steps, adversarial)
        print(f"  {name:<14} {r['batch']:5.0f} {r['poems_per_s']:8.1f} {r['padded_tokens_per_s']:18.0f} "
              f"{r['chars_per_s']:13.0f}")

    run = args.run
    if run is None:
        run = tmp / "untrained"
        quiet_train({}, run, 1, dry_run=True)
    W = ganvas.load(run)
    print(f"\nsampling one poem per call ({'trained: ' + str(args.run) if args.run else 'untrained weights'}), "
          f"{args.repeats} seeds each, ms")
    print(f"  {'case':<40} {'median':>8} {'p90':>8} {'target':>8} {'ratio':>6}")
    cases = [("free, 七绝 code (no decoder)", lambda s: W.sample(1, s, codes="七绝", constrained=False), None)]
    for form in ("五绝", "七绝", "五律", "七律"):
        cases.append((f"constrained {form}", lambda s, f=form: W.sample(1, s, codes=f), TARGET_MS))
    cases.append(("constrained 七绝, acrostic 春花秋月", lambda s: W.sample(1, s, codes="七绝", acrostic="春花秋月"),
                  TARGET_MS))
    cases.append(("constrained 七律, keywords 月 山", lambda s: W.sample(1, s, codes="七律", keywords=("月", "山")),
                  TARGET_MS))
    cases.append(("constrained 七律, 8 per call (per poem)", lambda s: W.sample(8, 8 * s, codes="七律"), None))
    for name, fn, target in cases:
        ms = latency(fn, args.repeats)
        if "8 per call" in name:
            ms = [t / 8 for t in ms]
        med = statistics.median(ms)
        tail = f"{target:8.0f} {med / target:6.2f}" if target else f"{'':8} {'':6}"
        print(f"  {name:<40} {med:8.1f} {pct(ms, 0.9):8.1f} {tail}")


if __name__ == "__main__":
    main()
