"""Shared fixtures: one data home per test session (built datasets are reused across tests); pinned
threads and seeds, so that a test's numbers depend neither on the machine's core count nor on the order
the tests run in (pytest-randomly shuffles it)."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

# As the `ganvas` command does: idle OpenMP threads sleep instead of spinning (set before torch is
# imported). On a machine shared with other processes, spinning made small trainings ~10× slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _test_threads() -> int:
    value = os.environ.get("GANVAS_TEST_THREADS", "1")
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"GANVAS_TEST_THREADS must be a whole number >= 1, got {value!r}")
    return int(value)


# How a float sum is split between threads changes its rounding, and a GAN's two-player game amplifies
# a last-bit difference into another trajectory: the suite runs on a fixed number of threads
# (GANVAS_TEST_THREADS, default 1; run it with 2 as well), in this process and in every `ganvas`
# subprocess, which inherits OMP_NUM_THREADS (ganvas.train.run.set_threads honours it).
TEST_THREADS = _test_threads()
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(TEST_THREADS)
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")    # deterministic cuBLAS, where a GPU is used

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(TEST_THREADS)
with contextlib.suppress(RuntimeError):     # too late once inter-op work ran; intra-op threads round sums
    torch.set_num_interop_threads(TEST_THREADS)
# warn_only: an op without a deterministic kernel warns instead of failing a test that does not need it
torch.use_deterministic_algorithms(True, warn_only=True)

sys.path.insert(0, str(Path(__file__).parent))
import toy  # noqa: E402

toy.register()

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def ganvas_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private data home for the session; also inherited by CLI subprocesses."""
    home = Path(os.environ.get("GANVAS_TEST_HOME") or tmp_path_factory.mktemp("ganvas-home"))
    os.environ["GANVAS_HOME"] = str(home)
    os.environ["GANVAS_KEY_DIR"] = str(home / "keys")      # outputs are signed: never with the person's own key
    return home


def seed_everything(name: str) -> None:
    """random, numpy and torch seeded from `name` (a test's id, a fixture's name): the same on every run."""
    seed = zlib.crc32(name.encode())
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@pytest.fixture(autouse=True)
def pinned(request: pytest.FixtureRequest) -> None:
    """Each test starts from the same random state and thread count, whatever ran before it.

    The seed comes from the test's id, not from its place in the run; threads are pinned again because
    an in-process `ganvas train` or studio may have changed them. (Autouse and function-scoped, it runs
    after the shared fixtures a test uses.)
    """
    seed_everything(request.node.nodeid)
    torch.set_num_threads(TEST_THREADS)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest):
    """A fixture shared between tests is built from a seed of its own name, and hands the random state back.

    Which test builds it depends on the order; so neither what it builds nor the state the test goes on
    with (a test may ask for one mid-way: request.getfixturevalue) may depend on who built it.
    """
    if fixturedef.scope == "function":
        return (yield)
    saved = random.getstate(), np.random.get_state(), torch.get_rng_state()
    seed_everything(f"fixture:{fixturedef.argname}")
    try:
        return (yield)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
        torch.set_num_threads(TEST_THREADS)


@pytest.fixture(scope="session")
def emoji_built(ganvas_home: Path) -> Path:
    from ganvas.data.dataset import builtin_root, load_dataset

    load_dataset("emoji", 32, progress=False)
    return builtin_root("emoji")


CHORALES_SUBSET = 24     # chorales read for the test session's `chorales` (the full corpus takes ~37 s of CPU)


@pytest.fixture(scope="session")
def tang_poems_built(ganvas_home: Path) -> Path:
    """`tang-poems` (Debian fortunes-zh), built in well under a second."""
    from ganvas.data.dataset import builtin_root, load_dataset

    load_dataset("tang-poems", 0, progress=False)
    return builtin_root("tang-poems")


@pytest.fixture(scope="session")
def chorales_built(ganvas_home: Path) -> Path:
    """`chorales` built from an evenly spaced subset of the corpus, so tests using it stay quick."""
    from ganvas.data import DATASETS
    from ganvas.data.dataset import builtin_root, is_built

    root = builtin_root("chorales")
    if not is_built("chorales"):
        DATASETS.get("chorales")().build(root, progress=False, limit=CHORALES_SUBSET)
    return root


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300,
            env_path: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the real `ganvas` command (python -m ganvas) in a subprocess (`env_path`: its PATH; `env`: more
    variables).

    It inherits the pinned threads: OMP_NUM_THREADS and the rest are in os.environ.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(TEST_THREADS), **(env or {})}
    if env_path is not None:
        env["PATH"] = env_path
    return subprocess.run([sys.executable, "-m", "ganvas", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=timeout, env=env)


def content_digest(folder: Path) -> dict[str, str]:
    """Each file's content (pixels, audio, notes: what `ganvas verify` checks) and its signed claim, without the
    time it was made (the manifest's time and C2PA's instance id are the only bytes that differ)."""
    import hashlib
    import json

    from ganvas.publish import containers

    out = {}
    for p in sorted(folder.iterdir()):
        data = p.read_bytes()
        fmt = containers.sniff(data)
        claim = json.loads(containers.extract(data, fmt))["claim"]
        claim["provenance"].pop("made")
        out[p.name] = containers.content_hash(data, fmt)[0] + hashlib.sha256(json.dumps(claim, sort_keys=True)
                                                                             .encode()).hexdigest()
    return out


def assert_marked_copy(published: bytes, want, min_psnr: float = 30.0) -> None:
    """`published` (a PNG ganvas wrote) is `want` (uint8 pixels) with an invisible watermark in it: signed and
    verified, the mark found, and no more than a watermark's change (PSNR above `min_psnr`)."""
    import io

    import numpy as np
    from PIL import Image

    from ganvas.publish.verify import VERIFIED, verify_bytes

    got = np.asarray(Image.open(io.BytesIO(published))).astype(np.float64)
    want = np.asarray(want, np.float64).reshape(got.shape)
    mse = ((got - want) ** 2).mean()
    assert mse == 0 or 10 * np.log10(255**2 / mse) > min_psnr, f"PSNR {10 * np.log10(255**2 / mse):.1f} dB"
    v = verify_bytes(published, "published.png")
    assert v.status == VERIFIED and v.watermark["found"], (v.problems, v.watermark)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{proc.stderr}"
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def shape_pair(rng, side: int = 40):
    """A synthetic pair: an outlined shape (A) and the same shape filled with colour (B)."""
    from PIL import Image, ImageDraw

    x0, y0 = (int(v) for v in rng.integers(2, side // 3, 2))
    x1, y1 = (int(v) for v in rng.integers(side * 2 // 3, side - 2, 2))
    colour = tuple(int(v) for v in rng.integers(0, 200, 3))
    a, b = Image.new("RGB", (side, side), "white"), Image.new("RGB", (side, side), "white")
    ImageDraw.Draw(a).ellipse((x0, y0, x1, y1), outline="black", width=2)
    ImageDraw.Draw(b).ellipse((x0, y0, x1, y1), fill=colour, outline="black", width=2)
    return a, b


@pytest.fixture(scope="session")
def translation_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's translation folder: A/ and B/ with 12 pairs matched by name, testA/ and testB/ with 4."""
    import numpy as np

    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    for split, n in (("", 12), ("test", 4)):
        for side in "AB":
            (root / f"{split}{side}").mkdir()
        for i in range(n):
            a, b = shape_pair(rng)
            a.save(root / f"{split}A" / f"s{i:02d}.png")
            b.save(root / f"{split}B" / f"s{i:02d}.png")
    return root


@pytest.fixture(scope="session")
def cjk_built(ganvas_home: Path) -> Path:
    """`cjk-fonts` built with 60 characters per font (the test data home's copy; a full build is 3,755)."""
    from ganvas.data import DATASETS
    from ganvas.data.dataset import builtin_root

    root = builtin_root("cjk-fonts")
    if not (root / "card.json").exists():
        DATASETS.get("cjk-fonts")().build(root, progress=False, limit=60)
    return root


@pytest.fixture(scope="session")
def icons_built(ganvas_home: Path) -> Path:
    """`icons-papirus-numix` built with 40 icons per theme."""
    from ganvas.data import DATASETS
    from ganvas.data.dataset import builtin_root

    root = builtin_root("icons-papirus-numix")
    if not (root / "card.json").exists():
        DATASETS.get("icons-papirus-numix")().build(root, progress=False, limit=40)
    return root


@pytest.fixture(scope="session")
def studio_runs(tmp_path_factory: pytest.TempPathFactory, emoji_built, chorales_built, cjk_built) -> Path:
    """A runs folder with four tiny models (seconds each): dcgan, stylegan (one folder down), musegan, pix2pix."""
    from ganvas.cli import main

    root = tmp_path_factory.mktemp("studio") / "runs"
    tiny = ["--set", "sample_count=4", "--minutes", "0"]
    runs = {
        "emoji-dcgan": ["--model", "dcgan", "--data", "emoji", "--resolution", "32", "--kimg", "0.05",
                        "--batch-size", "16", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8",
                        "--set", "checkpoint_every=2"],
        "nested/emoji-stylegan": ["--model", "stylegan", "--data", "emoji", "--resolution", "32", "--kimg", "0.05",
                                  "--batch-size", "8", "--set", "model_args.channel_base=256",
                                  "--set", "model_args.channel_max=32", "--set", "model_args.mapping_layers=2",
                                  "--set", "model_args.z_dim=32", "--set", "model_args.w_dim=32"],
        "chorales-musegan": ["--preset", "chorales-musegan-hybrid", "--kimg", "0.05", "--set", "model_args.g_width=32",
                             "--set", "model_args.d_width=8", "--set", "batch_size=16"],
        "fonts-pix2pix": ["--model", "pix2pix", "--data", "cjk-fonts", "--resolution", "32", "--kimg", "0.016",
                          "--batch-size", "4", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8"],
    }
    for name, args in runs.items():
        assert main(["train", *args, *tiny, "--out", str(root / name)]) == 0, name
    return root


# Images shown to the session's shapes model: hue, size and place vary, shapes still soft. At 60 kimg its first
# GANSpace directions are hue, size, x and y (tests/test_naming.py); at 40 no direction is mostly y.
SHAPES_KIMG = 60


@pytest.fixture(scope="session")
def shapes_run(tmp_path_factory: pytest.TempPathFactory, ganvas_home: Path) -> Path:
    """A DCGAN trained briefly on `shapes` (the synthetic set whose factors are known: ganvas/data/shapes.py),
    for checks of what ganvas says a model's directions and units control; never modified (copy it to change it)."""
    from ganvas.app.training import train

    out = tmp_path_factory.mktemp("shapes") / "run"
    train("emoji-dcgan-32", {"data": "shapes", "kimg": SHAPES_KIMG, "minutes": 0.0, "holdout": 0.0,
                             "sample_every": 100_000, "checkpoint_every": 100_000}, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def text_run(tmp_path_factory: pytest.TempPathFactory, tang_poems_built) -> Path:
    """A tiny `tang-poems-ctrl` run (a one-layer GRU of 64, 20 steps: about 15 s), read by the studio's text
    tests and its fuzz; never modified (copy it into a runs folder)."""
    from ganvas.app.training import train

    out = tmp_path_factory.mktemp("text") / "poems"
    train("tang-poems-ctrl", {"kimg": 0.64, "minutes": 0.0, "eval_every": 5, "sample_every": 10,
                              "checkpoint_every": 10, "model_args.hidden": 64, "model_args.embed": 32,
                              "model_args.layers": 1}, out=out, progress=False)
    return out


@pytest.fixture(scope="session")
def sketch_built(ganvas_home: Path) -> Path:
    """`emoji-sketch` built with 48 emoji (edges → emoji pairs; a full build is 3,655)."""
    from ganvas.data import DATASETS
    from ganvas.data.dataset import builtin_root

    root = builtin_root("emoji-sketch")
    if not (root / "card.json").exists():
        DATASETS.get("emoji-sketch")().build(root, progress=False, limit=48)
    return root


@pytest.fixture(scope="session")
def sketch_runs(tmp_path_factory: pytest.TempPathFactory, sketch_built) -> Path:
    """A runs folder with one tiny sketch-to-image pix2pix (32 px, a few steps, stroke augmentation on)."""
    from ganvas.cli import main

    root = tmp_path_factory.mktemp("sketch") / "runs"
    args = ["train", "--model", "pix2pix", "--data", "emoji-sketch", "--resolution", "32", "--kimg", "0.032",
            "--batch-size", "8", "--minutes", "0", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8",
            "--set", "model_args.input_augment=strokes", "--set", "sample_count=4",
            "--out", str(root / "emoji-sketch")]
    assert main(args) == 0
    return root


@contextlib.contextmanager
def studio_at(runs: Path, log: Path, **env: str):
    """`ganvas studio RUNS` started as a person starts it (its output in `log`): yields (url, process)."""
    from ganvas.studio.launch import StudioDidNotStart, running_studio

    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    with open(log, "w") as out, contextlib.ExitStack() as stack:
        try:
            url, proc = stack.enter_context(running_studio(runs, env=full_env, stdout=out, cwd=REPO))
        except StudioDidNotStart as exc:
            raise AssertionError(f"{exc}: {log.read_text()}") from None
        yield url, proc


@contextlib.contextmanager
def studio_page(runs: Path, log: Path, **env: str):
    """A studio on `runs` (as `studio_at`) and a page of a real headless Chromium on it, 1280×900: yields
    (url, page, problems), problems collecting the page's uncaught errors and console errors."""
    from playwright.sync_api import sync_playwright

    from ganvas.studio.launch import CHROMIUM, CHROMIUM_ARGS

    with studio_at(runs, log, **env) as (url, _proc), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            yield url, page, problems
        finally:
            browser.close()


@pytest.fixture(scope="session")
def tileable_run(tmp_path_factory: pytest.TempPathFactory, emoji_built) -> Path:
    """A tiny tileable dcgan run on emoji (seconds), read by the tiling and pixel-art tests; never modified."""
    from ganvas.cli import main

    out = tmp_path_factory.mktemp("runs") / "tiles"
    assert main(["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", "--kimg", "0.05",
                 "--batch-size", "16", "--tileable", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8",
                 "--set", "sample_count=4", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="session")
def why_run(tmp_path_factory: pytest.TempPathFactory, ganvas_home: Path) -> Path:
    """A dcgan on `shapes` trained for 4 kimg (about 12 s on one core): its D tells real from generated."""
    from ganvas.cli import main

    out = tmp_path_factory.mktemp("why") / "shapes-dcgan"
    assert main(["train", "--model", "dcgan", "--data", "shapes", "--resolution", "32", "--kimg", "4",
                 "--batch-size", "32", "--set", "model_args.ngf=16", "--set", "model_args.ndf=16",
                 "--set", "sample_count=4", "--seed", "0", "--minutes", "0", "--out", str(out)]) == 0
    return out
