"""Training speed of the translation presets, NCHW against channels-last memory layout.

pix2pix and CycleGAN use instance normalisation (and CycleGAN reflection padding), whose CPU kernels
are slower on channels-last tensors than the convolutions gain from it, so both models default to
NCHW (``channels_last = false``), unlike DCGAN. This measures each preset's training steps both ways.

Each measurement is a fresh process running the real Trainer on the preset's data; the two layouts
alternate round by round so drift on the machine hits both, and the median per side is reported.

    .venv/bin/python bench/translation_speed.py                 # both presets, 2 rounds
    .venv/bin/python bench/translation_speed.py --rounds 3 --presets fonts-ming2kai-pix2pix
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRESETS = {"fonts-ming2kai-pix2pix": 12, "icons-papirus2numix-cyclegan": 6}   # preset -> timed steps


def measure(preset: str, channels_last: bool, steps: int) -> float:
    """Images per second of the preset's training steps (after two warm-up steps)."""
    import time

    from ganvas.train.run import prepare

    with tempfile.TemporaryDirectory() as tmp:
        trainer = prepare(preset, {"channels_last": channels_last, "sample_every": 10**6,
                                   "checkpoint_every": 10**6}, out=Path(tmp) / "run", progress=False).trainer
        for _ in range(2):
            trainer.train_step()
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        return steps * trainer.cfg.batch_size / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    ap.add_argument("--one", nargs=2, metavar=("PRESET", "LAYOUT"), help=argparse.SUPPRESS)   # child process
    args = ap.parse_args()
    if args.one:
        preset, layout = args.one
        print(json.dumps({"images_per_s": measure(preset, layout == "channels-last", PRESETS[preset])}))
        return
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(REPO)}
    print(f"{'preset':<30} {'layout':<14} images/s (median of {args.rounds})   vs NCHW")
    for preset in args.presets:
        rates: dict[str, list[float]] = {"NCHW": [], "channels-last": []}
        for _ in range(args.rounds):
            for layout in rates:
                out = subprocess.run([sys.executable, __file__, "--one", preset, layout], capture_output=True,
                                     text=True, env=env, check=True, cwd=REPO)
                rates[layout].append(json.loads(out.stdout.strip().splitlines()[-1])["images_per_s"])
        base = statistics.median(rates["NCHW"])
        for layout, values in rates.items():
            rate = statistics.median(values)
            print(f"{preset:<30} {layout:<14} {rate:>8.1f}                 {rate / base:.2f}×")


if __name__ == "__main__":
    main()
