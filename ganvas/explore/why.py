"""Why fake: where a discriminator's verdict on a sample comes from, as a map over the sample.

D knows best what looks wrong, and training throws it away. Here D (loaded with its trained weights by
`ganvas.load`) is asked about any sample, a generated output or a real picture or piano-roll, and
answers with its score (its logit: higher = more real-looking to it) and a map of where that score
comes from, one number per pixel (images) or per piano-roll cell (music):

- ``integrated-gradients`` (Sundararajan et al. 2017), the default: the gradient of D's logit averaged
  along the straight path from a baseline b to the sample x, times (x − b). Its maps add up to
  D(x) − D(b) (completeness), so a map is an account of the score, not only of D's local slope, and it
  does not vanish where D saturates, as a plain gradient does. Baseline: the domain's "nothing" value,
  0 for images in [−1, 1] (mid-grey: neither a black nor a white subject is attributed zero by
  construction) and −1 for music (silence: only cells that sound can be credited). Steps: 32 midpoint
  steps; on a trained shapes DCGAN the maps then add up to D(x) − D(b) within a few per cent
  (`Maps.completeness` reports the gap for every sample; docs/why-fake.md has the figures).
- ``gradient-x-input``: (x − b) · ∇D(x), one backward pass: integrated gradients with one step.
- ``patch``: for a PatchGAN (pix2pix, cyclegan) D's own patch logits, upsampled bilinearly: D already
  says where, patch by patch, and no gradient is needed.

Maps sum the attribution over an image's colour channels (a music sample's tracks), keeping the sign:
positive cells push D towards "real", negative ones towards "fake".

BatchNorm: DCGAN's D trained in train mode on batch statistics, one all-real and one all-fake batch per
step, so part of what it learnt is to read a batch's statistics. A map must not depend on the batch it
was asked in, so D runs in eval mode, on fixed statistics; but its running statistics (averaged over
real and fake batches alike) were measured to lose most of its verdict on a longer-trained run (shapes,
40 kimg: AUC real against generated 0.57 in eval mode, 1.00 in train mode on all-real and all-fake
batches). What D is honestly asked here is its verdict under the statistics of one balanced batch,
`CALIBRATION` training items and as many outputs (seeds from `CALIBRATION_SEED`): fixed, per-sample, and
measured to keep D's verdict (AUC 0.94 on that run; docs/why-fake.md has the figures). Where the training
data cannot be read, D keeps its running statistics and `Maps.norm` says so.

The checks a map must pass (Adebayo et al.'s model randomisation, deletion) are in ganvas.explore.why_sanity.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganvas import registry
from ganvas.errors import GanvasError

if TYPE_CHECKING:
    from ganvas.loaded import LoadedModel

STEPS = 32                  # integrated-gradients steps (midpoint rule): completeness within a few per cent
CALIBRATION = 64            # real and generated samples each: the batch a BatchNorm D's statistics come from
CALIBRATION_SEED = 10**9    # first seed of its generated half (far from the seeds people look at)
CHUNK = 256                 # samples per forward/backward pass of D (bounds memory, not results)
BASELINES = {"image": 0.0, "music": -1.0}   # the domain's "nothing": mid-grey, silence
METHODS = registry.ATTRIBUTIONS


@dataclass
class Judge:
    """D as a function of the sample alone: x (N × sample) → logits (N, or N×1×h×w for a PatchGAN).

    What else D needs is bound here: a conditional D's class weights (the ones the output was made with),
    a pix2pix D's input picture (it judges the pair)."""

    net: nn.Module                          # the discriminator, in eval mode
    condition: torch.Tensor | None = None   # class weights N×K of a conditional D (Projection)
    context: torch.Tensor | None = None     # pix2pix: the input each output is judged with, N×C×H×W
    patch: bool = False                     # D answers with a map of patch logits
    norm: str = "none"                      # BatchNorm statistics: none (D has none) | balanced batch | running

    def logits(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """D's raw answer for samples `x`; `rows`: which of the bound samples each row of x is (default all)."""
        idx = rows if rows is not None else torch.arange(x.shape[0], device=x.device)
        if self.context is not None:
            return self.net(torch.cat([self.context[idx].to(x.dtype), x], 1))
        if self.condition is not None:
            return self.net(x, c=self.condition[idx])
        return self.net(x)

    def score(self, x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per sample (a PatchGAN's: the mean of its patches, which is what its loss averages)."""
        out = self.logits(x, rows)
        return out.flatten(1).mean(1) if out.dim() > 1 else out


@dataclass
class Maps:
    """D's verdicts on a batch of samples and the map of each."""

    method: str                     # integrated-gradients | gradient-x-input | patch
    scores: np.ndarray              # N: D's logit (higher: more real-looking to D)
    maps: np.ndarray                # N × H × W (music: N × steps × pitches), signed, summed over channels/tracks
    samples: torch.Tensor           # the samples judged, in the domain's tensor range
    baseline: float | None          # the baseline value (None for patch maps)
    steps: int                      # integrated-gradients steps (1 for gradient × input, 0 for patch maps)
    completeness: np.ndarray | None = None   # N: |Σ map − (D(x) − D(b))| / max(|D(x) − D(b)|, 1e-6)
    labels: list[str] = field(default_factory=list)  # what each sample is ("seed 3", a file name)
    norm: str = "none"              # D's BatchNorm statistics (see Judge.norm)

    def to_json(self) -> dict[str, Any]:
        """Scores and how the maps were made (the maps themselves are pictures)."""
        out: dict[str, Any] = {"method": self.method, "baseline": self.baseline, "steps": self.steps,
                               "batchnorm": self.norm,
                               "score": "D's logit: higher = more real-looking to D",
                               "samples": [{"label": lab, "score": round(float(s), 5)}
                                           for lab, s in zip(self._labels(), self.scores, strict=True)]}
        if self.completeness is not None:
            for row, gap in zip(out["samples"], self.completeness, strict=True):
                row["completeness_gap"] = round(float(gap), 5)
        return out

    def _labels(self) -> list[str]:
        return self.labels or [f"sample {i}" for i in range(len(self.scores))]


# --- the judge of a loaded model ------------------------------------------------------------------------


def judge_for(model: LoadedModel, n: int, condition: torch.Tensor | None = None,
              context: torch.Tensor | None = None, direction: str = "AtoB", calibrate: bool = True) -> Judge:
    """The judge of `model`'s samples: D with what it needs bound (class weights `condition` N×K or 1×K of a
    conditional model; a pix2pix's inputs `context`; for a cyclegan the D of `direction`'s target domain).
    `calibrate`: a BatchNorm D normalises with a balanced batch's statistics (see the module's docstring);
    False keeps its running statistics."""
    refuse_text(model)
    m = model.model
    names = m.discriminator_names
    if len(names) == 1:
        name = names[0]
    else:
        target = direction[-1] if direction in ("AtoB", "BtoA") else ""
        name = f"D_{target}"
        if name not in names:
            raise GanvasError(f"direction must be AtoB or BtoA, got {direction!r}")
    net = getattr(m, name)
    if not _has_trained_weights(model, name):
        raise GanvasError(f"checkpoint {model.path} holds no trained weights of its discriminator {name} "
                          "(saved before ganvas kept them?): there is no trained D to ask")
    patch = is_patch(net)
    if getattr(m, "num_classes", 0) and m.data_layout == "single":
        if condition is None:
            raise GanvasError(f"'{model.name}' is conditional: D needs the class each sample was made with (give "
                              f"a class, one of {', '.join(m.spec.classes)})")
        condition = condition.to(model.device, torch.float32).reshape(-1, m.num_classes).expand(n, -1)
    else:
        condition = None
    if m.data_layout == "paired":
        if context is None:
            raise GanvasError(f"'{model.name}' judges pairs: give the input pictures the outputs were made from")
        context = context.to(model.device)
    else:
        context = None
    net, norm = calibrated(model, name, net) if calibrate else (net, "running" if has_batchnorm(net) else "none")
    return Judge(net, condition, context, patch, norm)


def refuse_text(model: LoadedModel) -> None:
    """A one-line error for a text model: there is nothing to draw a map over."""
    if model.domain.name == "text" or model.model.domain == "text":
        raise GanvasError(f"'{model.name}' is a text model: its critic judges token sequences, which have no "
                          "pixels or cells to map (why-fake maps are for image and music models)")


def has_batchnorm(net: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


_CALIBRATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # loaded model → {D's name: (net, norm)}


def calibrated(model: LoadedModel, name: str, net: nn.Module) -> tuple[nn.Module, str]:
    """D with its BatchNorm statistics taken from one balanced batch (CALIBRATION training items and as many
    outputs), made once per loaded model; D itself when it has no BatchNorm, or when the training data
    cannot be read (then "running": its running statistics)."""
    if not has_batchnorm(net):
        return net, "none"
    cache = _CALIBRATED.setdefault(model, {})
    if name not in cache:
        cache[name] = _calibrate(model, net)
    return cache[name]


def _calibrate(model: LoadedModel, net: nn.Module) -> tuple[nn.Module, str]:
    from ganvas.eval.evaluate import training_dataset
    from ganvas.nets.conditional import one_hot

    m = model.model
    if m.data_layout != "single":
        return net, "running"
    try:
        data = training_dataset(model)
    except (GanvasError, KeyError, OSError):
        return net, "running"
    xs = data.arrays["x"]
    idx = np.linspace(0, len(xs) - 1, min(CALIBRATION, len(xs))).round().astype(int)
    real = model.domain.to_tensor(xs[idx], model.device)
    seeds = list(range(CALIBRATION_SEED, CALIBRATION_SEED + len(idx)))
    with torch.no_grad():
        fake = m.generate(m.latents_for_seeds(seeds, None, model.device))
    x = torch.cat([real, fake.to(real.dtype)])
    c = None
    if m.num_classes:
        y, names = data.arrays.get("y"), list(data.label_names)
        classes = list(m.spec.classes)
        if y is not None and all(n in classes for n in names):
            real_c = one_hot(torch.as_tensor([classes.index(names[int(v)]) for v in y[idx]]), m.num_classes)
        else:
            real_c = m.condition_for(list(range(len(idx))))
        c = torch.cat([real_c, m.condition_for(seeds)]).to(model.device)
    out = copy.deepcopy(net)
    for bn in out.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            bn.reset_running_stats()
            bn.momentum = None                  # a cumulative average: after one batch, that batch's statistics
    out.train()
    with torch.no_grad():
        out(x) if c is None else out(x, c=c)
    return out.eval().requires_grad_(False), "balanced batch"


def _has_trained_weights(model: LoadedModel, name: str) -> bool:
    """Whether `ganvas.load` found D's weights (it leaves a D absent from the checkpoint as built)."""
    from safetensors import safe_open

    path = Path(model.path) / "nets.safetensors"
    if not path.is_file():
        return True                     # a model built in memory, not read from a checkpoint
    with safe_open(str(path), "pt") as f:
        return any(k.startswith(f"{name}/") for k in f.keys())  # noqa: SIM118 -- safe_open is not iterable


def condition_for_seeds(model: LoadedModel, seeds: Sequence[int], label: Any = None) -> torch.Tensor | None:
    """The class weights the outputs of `seeds` are made with (label or seed mod K); None if unconditional."""
    return model.model.condition_for(list(seeds), label)


def condition_of_codes(model: LoadedModel, codes: torch.Tensor) -> torch.Tensor | None:
    """The class weights inside z codes ``[z | c]`` of a conditional z-model (None if unconditional)."""
    m = model.model
    if not m.num_classes:
        return None
    if m.edit_space != "z":
        raise GanvasError(f"'{model.name}' codes are w codes, which do not hold the class: give the class "
                          "(label) the output was made with")
    from ganvas.nets.conditional import split_code

    return split_code(codes.flatten(1), m.num_classes)[1]


# --- samples to judge ----------------------------------------------------------------------------------


def sample_shape(model: LoadedModel) -> tuple[int, ...]:
    return tuple(int(s) for s in model.model.spec.shape)


def check_samples(model: LoadedModel, x: torch.Tensor, what: str = "samples") -> torch.Tensor:
    """`x` as float samples of the model's shape on its device; a one-line error naming both shapes."""
    want = sample_shape(model)
    if x.dim() != len(want) + 1 or tuple(x.shape[1:]) != want:
        raise GanvasError(f"{what} have shape {tuple(x.shape[1:])}, but '{model.name}' judges samples of shape "
                          f"{want}" + (f" ({want[1]}×{want[2]} pictures of {want[0]} channels)"
                                       if model.domain.name == "image" and len(want) == 3 else ""))
    if not torch.isfinite(x).all():
        raise GanvasError(f"{what} hold NaN or infinite values")
    return x.to(model.device, torch.float32)


def from_arrays(model: LoadedModel, arrays: np.ndarray, what: str = "arrays") -> torch.Tensor:
    """Stored samples (images: uint8 N×H×W×C; music: uint8 N×tracks×steps×pitches) as checked tensors."""
    arrays = np.asarray(arrays)
    if arrays.dtype != np.uint8:
        raise GanvasError(f"{what} must be uint8 as ganvas stores samples, got {arrays.dtype}")
    if model.domain.name == "image" and arrays.ndim == 3:
        arrays = arrays[..., None]
    want = sample_shape(model)
    stored = (want[1], want[2], want[0]) if model.domain.name == "image" else want
    if arrays.ndim != len(want) + 1 or tuple(arrays.shape[1:]) != stored:
        raise GanvasError(f"{what} have shape {tuple(arrays.shape[1:])} per sample, but '{model.name}' judges "
                          f"{'×'.join(map(str, stored))} samples")
    return check_samples(model, model.domain.to_tensor(arrays, model.device), what)


def from_files(model: LoadedModel, paths: Sequence[Path]) -> torch.Tensor:
    """Real samples from files: pictures (fitted to the model's side as its training data were, by the run's
    `fit`), or .npy arrays of stored samples (one, or a batch)."""
    out = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise GanvasError(f"file '{p}' does not exist")
        if p.suffix.lower() == ".npy":
            try:
                a = np.load(p, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise GanvasError(f"file '{p}' is not a NumPy array file: {str(exc)[:80]}") from None
            single = a.ndim == len(sample_shape(model)) or (model.domain.name == "image" and a.ndim == 2)
            out.append(from_arrays(model, a[None] if single else a, f"array '{p}'"))
        elif model.domain.name == "image":
            out.append(picture_tensor(model, p))
        else:
            raise GanvasError(f"file '{p}': a {model.domain.name} model judges .npy arrays of stored samples")
    return torch.cat(out)


def picture_tensor(model: LoadedModel, source: Path | Any, what: str | None = None) -> torch.Tensor:
    """A picture file (or PIL image) as one sample of an image model, fitted as its training data were."""
    from PIL import Image

    from ganvas.data.imageprep import SkipFile, fit_square, open_image

    if model.domain.name != "image":
        raise GanvasError(f"'{model.name}' makes {model.domain.name}, not pictures: give it stored samples (.npy), "
                          "not a picture")
    what = what or f"picture '{source}'"
    try:
        im = source if isinstance(source, Image.Image) else open_image(Path(source))
    except SkipFile as exc:
        raise GanvasError(f"{what} cannot be used: {exc}") from None
    ch, side = sample_shape(model)[0], sample_shape(model)[1]
    fit = str(model.meta.get("config", {}).get("fit", "crop"))
    im = fit_square(im, side, "pad" if fit == "pad" else "crop")
    a = np.array(im.convert("L") if ch == 1 else im, np.uint8)
    return from_arrays(model, a[None], what)


# --- the maps -----------------------------------------------------------------------------------------


def baseline_value(model: LoadedModel) -> float:
    """The baseline of integrated gradients for this domain (see the module's docstring)."""
    return BASELINES.get(model.domain.name, 0.0)


def explain(model: LoadedModel, x: torch.Tensor, method: str = "integrated-gradients", *,
            condition: torch.Tensor | None = None, context: torch.Tensor | None = None, direction: str = "AtoB",
            steps: int = STEPS, labels: Sequence[str] = (), judge: Judge | None = None) -> Maps:
    """D's score and map of every sample in `x` (tensors in the domain's range, N × sample shape).

    `condition`: class weights of a conditional model (N×K or 1×K); `context`: a pix2pix's inputs; `judge`:
    a judge made earlier (the sanity check passes a randomised one)."""
    x = check_samples(model, x)
    fn = METHODS.get(method)
    judge = judge or judge_for(model, x.shape[0], condition, context, direction)
    if not 1 <= steps <= 1024:
        raise GanvasError(f"integrated-gradients steps must be in 1..1024, got {steps}")
    maps = fn(judge, x, baseline_value(model), steps, list(labels))
    maps.norm = judge.norm
    return maps


def explain_seeds(model: LoadedModel, seeds: Sequence[int], method: str | None = None, *,
                  truncation: float | None = None, label: Any = None, steps: int = STEPS) -> Maps:
    """The outputs of `seeds` (as `ganvas sample` makes them: truncation ψ, class `label`) and D's maps of them."""
    refuse_text(model)
    if not getattr(model.model, "has_latent", True):
        raise GanvasError(f"'{model.name}' translates pictures and has no seeds; give the pictures to translate")
    seeds = [int(s) for s in seeds]
    m = model.model
    codes = m.latents_for_seeds(seeds, truncation, model.device, label)
    with torch.no_grad():
        x = m.generate(codes)
    return explain(model, x, method or default_method(model), condition=condition_for_seeds(model, seeds, label),
                   steps=steps, labels=[f"seed {s}" for s in seeds])


def explain_translations(model: LoadedModel, inputs: torch.Tensor, direction: str = "AtoB",
                         method: str | None = None, *, steps: int = STEPS, labels: Sequence[str] = ()) -> Maps:
    """A translation model's outputs of `inputs` and D's maps of them (pix2pix's D judges each with its input)."""
    translate = getattr(model, "translate", None)
    if translate is None:
        raise GanvasError(f"'{model.name}' is not a translation model")
    out = translate(inputs, direction)
    context = inputs if model.model.data_layout == "paired" else None
    return explain(model, out, method or default_method(model), context=context, direction=direction,
                   steps=steps, labels=labels)


def _score_grad(judge: Judge, points: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D's score at each point and its gradient there (rows: which sample each point belongs to)."""
    scores, grads = [], []
    for start in range(0, points.shape[0], CHUNK):
        p = points[start:start + CHUNK].detach().requires_grad_(True)
        with torch.enable_grad():
            s = judge.score(p, rows[start:start + CHUNK])
            (g,) = torch.autograd.grad(s.sum(), p)
        scores.append(s.detach())
        grads.append(g)
    return torch.cat(scores), torch.cat(grads)


def integrated_gradients(judge: Judge, x: torch.Tensor, baseline: float, steps: int, labels: list[str]) -> Maps:
    """(x − b) · mean over α of ∇D(b + α(x − b)), α at the midpoints of `steps` equal intervals."""
    n = x.shape[0]
    b = torch.full_like(x, baseline)
    alphas = (torch.arange(steps, dtype=x.dtype, device=x.device) + 0.5) / steps
    total = torch.zeros_like(x)
    for a in alphas:                                    # one step of all samples per pass: memory ∝ N
        _, g = _score_grad(judge, b + a * (x - b), torch.arange(n, device=x.device))
        total += g
    attribution = (x - b) * total / steps
    rows = torch.arange(n, device=x.device)
    with torch.no_grad():
        fx, fb = judge.score(x, rows), judge.score(b, rows)
    maps = attribution.sum(1)
    delta = (fx - fb)
    gap = (maps.flatten(1).sum(1) - delta).abs() / delta.abs().clamp_min(1e-6)
    return Maps("integrated-gradients", fx.cpu().numpy(), maps.detach().cpu().numpy(), x, baseline, steps,
                gap.cpu().numpy(), labels)


def gradient_x_input(judge: Judge, x: torch.Tensor, baseline: float, steps: int, labels: list[str]) -> Maps:
    """(x − b) · ∇D(x): one backward pass."""
    s, g = _score_grad(judge, x, torch.arange(x.shape[0], device=x.device))
    maps = ((x - baseline) * g).sum(1)
    return Maps("gradient-x-input", s.cpu().numpy(), maps.detach().cpu().numpy(), x, baseline, 1, None, labels)


def patch_logits(judge: Judge, x: torch.Tensor, baseline: float, steps: int, labels: list[str]) -> Maps:
    """A PatchGAN's own logits, each patch's verdict spread bilinearly over the picture."""
    if not judge.patch:
        raise GanvasError("method 'patch' needs a PatchGAN discriminator (pix2pix, cyclegan); this D gives one "
                          "score per sample: use integrated-gradients or gradient-x-input")
    with torch.no_grad():
        logits = judge.logits(x)                        # N×1×h×w
        up = torch.nn.functional.interpolate(logits.float(), size=x.shape[-2:], mode="bilinear",
                                             align_corners=False)[:, 0]
        scores = logits.flatten(1).mean(1)
    return Maps("patch", scores.cpu().numpy(), up.cpu().numpy(), x, None, 0, None, labels)


def default_method(model: LoadedModel) -> str:
    """Patch logits for a PatchGAN (D already says where), integrated gradients otherwise."""
    m = model.model
    return "patch" if any(is_patch(getattr(m, n)) for n in m.discriminator_names) else "integrated-gradients"


def is_patch(net: nn.Module) -> bool:
    """Whether D answers with a map of patch logits (Isola et al.'s PatchGAN)."""
    from ganvas.nets.translation import PatchDiscriminator

    return isinstance(net, PatchDiscriminator)


def judge_scores(model: LoadedModel, x: torch.Tensor, condition: torch.Tensor | None = None,
                 calibrate: bool = True, context: torch.Tensor | None = None, direction: str = "AtoB") -> np.ndarray:
    """D's logits of `x` without maps (cheap: one forward pass per chunk)."""
    x = check_samples(model, x)
    judge = judge_for(model, x.shape[0], condition, context, direction, calibrate=calibrate)
    out = []
    with torch.no_grad():
        for start in range(0, x.shape[0], CHUNK):
            rows = torch.arange(start, min(start + CHUNK, x.shape[0]), device=x.device)
            out.append(judge.score(x[start:start + CHUNK], rows))
    return torch.cat(out).cpu().numpy()


# --- does the map explain D? -----------------------------------------------------------------------------
