"""Training speed of the translation presets, NCHW against channels-last memory layout.

Channels-last makes DCGAN's convolutions faster on a CPU, but pix2pix and CycleGAN also spend time
in instance normalisation (and CycleGAN in reflection padding), whose kernels may prefer NCHW. This
measures each preset's training steps both ways; the models' ``channels_last`` default follows it.

Measured on the project's 2-core machine (two runs of ``--rounds 3``, another process sharing it):
NCHW took 12% and 2% less CPU time per pair for pix2pix (85.7 / 75.4 and 80.5 / 81.0 images/s
NCHW / channels-last), and 11% and 6% less per image for CycleGAN (8.1 / 7.1 and 7.7 / 7.1), so
both models default to NCHW (``channels_last = false``), unlike DCGAN.

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


def measure(preset: str, channels_last: bool, steps: int) -> tuple[float, float]:
    """Images per second of the preset's training steps (after two warm-up steps), and CPU ms per image.

    CPU time (all threads) is the steadier figure on a machine shared with other work.
    """
    import time

    from ganvas.app.training import prepare

    with tempfile.TemporaryDirectory() as tmp:
        trainer = prepare(preset, {"channels_last": channels_last, "sample_every": 10**6,
                                   "checkpoint_every": 10**6}, out=Path(tmp) / "run", progress=False).trainer
        for _ in range(2):
            trainer.train_step()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            trainer.train_step()
        n = steps * trainer.cfg.batch_size
        return n / (time.perf_counter() - t0), (time.process_time() - c0) * 1000 / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    ap.add_argument("--one", nargs=2, metavar=("PRESET", "LAYOUT"), help=argparse.SUPPRESS)   # child process
    args = ap.parse_args()
    if args.one:
        preset, layout = args.one
        rate, cpu_ms = measure(preset, layout == "channels-last", PRESETS[preset])
        print(json.dumps({"images_per_s": rate, "cpu_ms_per_image": cpu_ms}))
        return
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(REPO)}
    print(f"{'preset':<30} {'layout':<14} {'images/s':>9} {'vs NCHW':>8} {'CPU ms/image':>13} {'vs NCHW':>8}"
          f"   (medians of {args.rounds})")
    for preset in args.presets:
        runs: dict[str, list[dict]] = {"NCHW": [], "channels-last": []}
        for _ in range(args.rounds):
            for layout in runs:
                out = subprocess.run([sys.executable, __file__, "--one", preset, layout], capture_output=True,
                                     text=True, env=env, check=True, cwd=REPO)
                runs[layout].append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {layout: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for layout, rs in runs.items()}
        for layout, m in med.items():
            rate, cpu = m["images_per_s"], m["cpu_ms_per_image"]
            print(f"{preset:<30} {layout:<14} {rate:>9.1f} {rate / med['NCHW']['images_per_s']:>7.2f}× "
                  f"{cpu:>13.0f} {cpu / med['NCHW']['cpu_ms_per_image']:>7.2f}×")


if __name__ == "__main__":
    main()
