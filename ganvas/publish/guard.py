"""The memorization guard: before an output leaves ganvas, is it a near-copy of a training item?

A GAN trained too long on too little data hands back its training items, and a person who publishes one
publishes someone else's work under its licence. So every output is compared with the training set the
model learned from, by the measures that catch copies cheaply, and each threshold is *calibrated* on
held-out real items (the run's held-out split, or a seeded tenth of the data): real items are not copies
of each other, so each feature threshold is the score the closest third of a percent (`PER_TEST`) of
held-out items reach, so that the tests together flag about 1% (`FLAG_RATE`) of them (never above
`MAX_THRESHOLD` / `MAX_GLOBAL`; with under `MIN_HELDOUT` held-out items, whose quantile would be noise,
`SMALL_DATA_THRESHOLD` / `MAX_GLOBAL`), and the hash bound sits below what held-out items come within
(no hash test at all where real items share hashes, as the emoji's skin-tone variants do).

- Pictures: a 64-bit perceptual hash (ganvas/data/phash.py: Hamming distance, robust to re-encoding and
  colour shifts) and the evaluation suite's random-CNN features (the `random` extractor of FD_random: no
  training, the same numbers everywhere). The feature *score* is, as in the authenticity test of Alaa et
  al. (2022), the output's distance to its nearest training item divided by that item's distance to its
  own nearest other item: below 1, the output is closer to it than any real item is. Two training items
  that nearly repeat each other (skin-tone variants, two yellow faces) make that ratio blind to a copy of
  either, so a second test compares the distance with the median item-to-item distance. A third compares
  layouts (8×8 thumbnails, zero mean, unit spread): a GAN's copy often differs from its item by a tinted
  background the random features weigh heavily. An output is flagged when any score is below its
  threshold, or its hash within the calibrated bits of an item's.
- Music: bars of the binarised piano-roll; the score is the share of an output's non-empty bars that
  occur exactly in the training phrases, flagged above what held-out phrases show.
- Text: lines (or whole texts) copied verbatim from the training texts (ganvas/eval/text_memorize.py).
- Opt-outs (``--exclude``): items removed from the data stay in the card as hashes; an output within the
  hash bound (plus two bits) of one of them is flagged as a match of an excluded item.

The index (hashes, features, calibration) is built once per dataset fingerprint and kept in
``GANVAS_HOME/guard`` (numpy and JSON files, written atomically). The guard only reports: callers flag
or, in strict mode, withhold (ganvas/publish/publisher.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganvas.console import info
from ganvas.errors import GanvasError

GUARD_MODES = ("flag", "strict", "off")
FLAG_RATE = 0.01                # the share of held-out items the tests together aim to flag
PER_TEST = FLAG_RATE / 3        # the held-out quantile each of the three feature tests is set at
MAX_THRESHOLD = 0.75            # a score this close to 1 is a real item's ordinary distance, never a copy
MIN_HELDOUT = 50                # fewer held-out items than this: the threshold below, not a quantile
SMALL_DATA_THRESHOLD = 0.6      # closer to an item than 60% of its distance to the nearest other real item
MAX_GLOBAL = 0.5                # the second test: closer than half the median real item-to-item distance
CALIBRATION_SHARE = 0.1         # held out for calibration when the run held nothing out
MAX_PHASH_BITS = 6              # the hash bound never exceeds this (64-bit hashes)
EXCLUDED_SLACK = 2              # bits beyond the hash bound (at least 2) for opted-out items: near-copies match
MAX_INDEX = 20000               # training items indexed at most (a seeded sample beyond)
INDEX_VERSION = 6               # a cached index of another version is built again


@dataclass(frozen=True)
class Verdict:
    """The guard's word on one output (`to_record` goes into its signed manifest)."""

    checked: bool
    flagged: bool = False
    method: str = ""                    # phash+features | bars | lines
    score: float | None = None          # nearest-training distance / held-out median (pictures); share (music)
    threshold: float | None = None
    phash_distance: int | None = None
    neighbour: int | None = None        # index of the nearest training item
    neighbour_key: str | None = None    # its file or key, where the dataset names items
    excluded: bool = False              # the match is an item its owner opted out
    reason: str = ""

    def to_record(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def describe(self) -> str:
        if not self.checked:
            return f"not checked: {self.reason}"
        what = f"training item {self.neighbour}" + (f" ({self.neighbour_key})" if self.neighbour_key else "")
        if self.excluded:
            return f"near-copy of an opted-out item ({self.neighbour_key}): {self.reason}"
        if self.flagged:
            return f"near-copy of {what}: {self.reason}"
        return f"not a near-copy (nearest: {what}; {self.reason})"


class Guard:
    """Checks a model's outputs against its training data (see the module docstring)."""

    def __init__(self, model: Any, cache_dir: Path | None = None) -> None:
        self.model = model
        self.domain = model.domain
        self.reason = ""
        self.index: dict[str, Any] | None = None
        try:
            self.data = _training_data(model)
        except (GanvasError, OSError, KeyError, ValueError) as exc:   # a deleted folder, an unbuilt set: the
            # guard says so in each verdict, and the outputs still go
            self.data, self.reason = None, f"the training data is not at hand ({' '.join(str(exc).split())[:160]})"
            return
        root = Path(cache_dir) if cache_dir is not None else _default_cache()
        self.folder = root / self.data["fingerprint"].replace("sha256:", "")[:24]
        self.excluded = _excluded(model, self.data.get("card", {}))

    @property
    def available(self) -> bool:
        return self.data is not None

    def calibration(self) -> dict[str, Any]:
        return dict(self._index()["calibration"]) if self.available else {"available": False, "reason": self.reason}

    def check(self, outputs: torch.Tensor) -> list[Verdict]:
        if not self.available:
            return [Verdict(False, reason=self.reason) for _ in range(outputs.shape[0])]
        kind = self.domain.name
        if kind == "music":
            return self._check_music(self.domain.to_array(outputs))
        if kind == "text":
            return self._check_text(self.domain.texts(outputs))
        if kind != "image":
            return [Verdict(False, reason=f"no guard for {kind} outputs") for _ in range(outputs.shape[0])]
        return self._check_images(self.domain.to_array(outputs))

    # -------------------------------------------------------------------------------- index
    def _index(self) -> dict[str, Any]:
        if self.index is None:
            self.index = _load_index(self.folder) or _build_index(self.folder, self.data, self.domain.name)
        return self.index

    def _key(self, i: int) -> str | None:
        keys = self.data.get("keys")
        return str(keys[i]) if keys is not None and i < len(keys) else None

    # -------------------------------------------------------------------------------- pictures
    def _check_images(self, arrays: np.ndarray) -> list[Verdict]:
        from ganvas.data.phash import hamming, phash

        idx = self._index()
        cal = idx["calibration"]
        hashes = phash(arrays)
        ham = hamming(hashes, idx["phash"])
        feats = _features(arrays)
        d = _nearest(feats, idx["features"])
        dt = _nearest(_layout(arrays), idx["layout"])
        out = []
        for i in range(len(arrays)):
            j = int(np.argmin(d[i]))
            score = float(d[i, j] / idx["radius"][j])
            overall = float(d[i, j] / cal["median_radius"])
            h = int(ham[i].min())
            k = int(np.argmin(ham[i]))
            jt = int(np.argmin(dt[i]))
            layout = float(dt[i, jt] / cal["layout_median"])
            close = score < cal["threshold"] or overall < cal["global_threshold"]
            flagged = close or layout < cal["layout_threshold"] or h <= cal["phash_bits"]
            if not close:
                j = jt if layout < cal["layout_threshold"] or h > cal["phash_bits"] else k
            verdict = Verdict(True, flagged, "phash+features", score, cal["threshold"], h, int(idx["rows"][j]),
                              self._key(int(idx["rows"][j])),
                              reason=f"{score:.2f} × the item's distance to its nearest real neighbour (flagged below "
                                     f"{cal['threshold']:.2f}), {overall:.2f} × the median such distance (flagged "
                                     f"below {cal['global_threshold']:.2f}), layout {layout:.2f} × the median (flagged "
                                     f"below {cal['layout_threshold']:.2f}), hash {h} bits apart"
                                     + (f" (flagged at ≤ {cal['phash_bits']})" if cal["phash_bits"] >= 0 else ""))
            if self.excluded:
                ex = hamming(hashes[i:i + 1], np.array([e[1] for e in self.excluded], np.uint64))[0]
                m = int(np.argmin(ex))
                if ex[m] <= max(cal["phash_bits"], 2) + EXCLUDED_SLACK:       # even where the hash test is off
                    verdict = Verdict(True, True, "phash", score, cal["threshold"], int(ex[m]), None,
                                      self.excluded[m][0], True,
                                      f"hash {int(ex[m])} bits from an item excluded from the training data")
            out.append(verdict)
        return out

    def distance_from_data(self, arrays: np.ndarray) -> np.ndarray | None:
        """How far each picture (uint8 NHWC) is from the training data: its distance to the nearest training item
        in the guard's features, divided by the held-out items' median such distance (1: as far as a typical new
        item of the data; far beyond it, the picture is not of the kind the model learnt). None when the
        training data is not at hand or the model does not make pictures."""
        if not self.available or self.domain.name != "image":
            return None
        idx = self._index()
        cal = idx["calibration"]
        typical = cal["median_radius"] * max(cal["heldout_global_quantiles"]["0.5"], 1e-6)
        return _nearest(_features(arrays), idx["features"]).min(axis=1) / typical

    def neighbour_picture(self, output: torch.Tensor, verdict: Verdict) -> Any:
        """The output and its nearest training item side by side (pictures enlarged to at least 128 px)."""
        from PIL import Image

        if verdict.neighbour is None or not self.available:
            return self.domain.preview(output)
        item = self.data["items"][verdict.neighbour:verdict.neighbour + 1]
        if self.domain.name == "image":
            pair = np.concatenate([self.domain.to_array(output)[:1], item])
            scale = max(1, 128 // pair.shape[1])
            gap = np.full((pair.shape[1], 4, pair.shape[3]), 255, np.uint8)
            strip = np.concatenate([pair[0], gap, pair[1]], axis=1).repeat(scale, 0).repeat(scale, 1)
            return Image.fromarray(strip.squeeze())
        return self.domain.preview(torch.cat([output[:1].cpu(), self.domain.to_tensor(item)]), nrow=2)

    # -------------------------------------------------------------------------------- music
    def _check_music(self, rolls: np.ndarray) -> list[Verdict]:
        idx = self._index()
        cal = idx["calibration"]
        known = set(idx["bars"])
        out = []
        for roll in rolls:
            bars = _bars(roll[None], self.domain.bar_steps)[0]
            share = sum(b in known for b in bars) / len(bars) if bars else 0.0
            flagged = bool(bars) and share > cal["threshold"]
            out.append(Verdict(True, flagged, "bars", share, cal["threshold"],
                               reason=f"{share:.0%} of its {len(bars)} non-empty bars occur in the training "
                                      f"phrases (flagged above {cal['threshold']:.0%})"))
        return out

    # -------------------------------------------------------------------------------- text
    def _check_text(self, texts: list[str]) -> list[Verdict]:
        from ganvas.eval.text_memorize import copied_lines

        rows = [int(i) for i in self.data["indexed"]]
        training = [self.data["texts"][i] for i in rows]
        out = []
        for t in texts:
            m = copied_lines([t], training)
            lines = [c for c in m.copies if c.kind == "line"]
            whole = m.whole[0][1] if m.whole else None
            src = whole if whole is not None else (lines[0].source if lines else None)
            src = None if src is None else rows[src]
            flagged = src is not None
            reason = ("the whole text is a training text" if whole is not None else
                      f"line {lines[0].unit!r} is copied from training text {src}" if lines else
                      f"no line copied ({m.copied} of {m.verses} short verses occur in the training texts)")
            out.append(Verdict(True, flagged, "lines", float(len(lines)), 0.0, None, src, None, reason=reason))
        return out


def guard_for(model: Any, cache_dir: Path | None = None, mode: str = "flag") -> Guard:
    """The guard of `model`'s outputs (its index built on first use, then read from the cache)."""
    if mode not in GUARD_MODES:
        raise GanvasError(f"guard must be one of {', '.join(GUARD_MODES)}, got '{mode}'")
    return Guard(model, cache_dir)


# ------------------------------------------------------------------------------------ helpers
def _default_cache() -> Path:
    from ganvas.data import data_home

    return data_home() / "guard"


def _training_data(model: Any) -> dict[str, Any]:
    """The items the model learned from, as stored arrays, with the held-out split the run used."""
    import contextlib
    import io

    from ganvas.data.dataset import load_dataset
    from ganvas.data.split import holdout_indices

    cfg = model.meta["config"]
    spec = model.meta["model"]["spec"]
    with contextlib.redirect_stderr(io.StringIO()):     # its warnings (few images...) were said at training
        ds = load_dataset(cfg["data"], int(spec["shape"][-1]), fit=cfg.get("fit", "crop"), progress=False,
                          exclude=cfg.get("exclude") or None)
    key = "b" if "b" in ds.arrays else ds.sample_key              # a translator makes pictures of side B
    items = ds.arrays[key]
    holdout = float(cfg.get("holdout", 0.0) or 0.0)
    share = holdout if holdout > 0 else CALIBRATION_SHARE
    if key == ds.sample_key and len(ds) >= 20:
        train, held = holdout_indices(ds, share)
    else:
        rng = np.random.default_rng(0)
        perm = rng.permutation(len(items))
        k = max(2, int(round(len(items) * share)))
        held, train = np.sort(perm[:k]), np.sort(perm[k:])
    # a run that held nothing out learned from every item: all are indexed, and the calibration slice is
    # compared with the others only (leave-out), as if held out
    indexed = train if holdout > 0 else np.arange(len(items))
    out = {"fingerprint": ds.fingerprint, "items": items, "train": train, "held": held, "card": ds.card,
           "indexed": indexed,
           "keys": (ds.card.get("items") or {}).get("keys") if isinstance(ds.card.get("items"), dict) else None}
    if model.domain.name == "text":
        out["texts"] = model.domain.array_texts(items)
    return out


def _excluded(model: Any, card: dict[str, Any]) -> list[tuple[str, np.uint64]]:
    from ganvas.data.phash import from_hex

    seen, out = set(), []
    for e in list(card.get("excluded") or []) + list((model.meta.get("dataset") or {}).get("excluded") or []):
        if isinstance(e, dict) and e.get("phash") and e["phash"] not in seen:
            seen.add(e["phash"])
            out.append((str(e.get("key") or e.get("sha256") or "excluded item"), from_hex(e["phash"])))
    return out


def _features(images: np.ndarray) -> np.ndarray:
    from ganvas.eval.features import get_extractor

    x = images if images.shape[3] == 3 else np.repeat(images[..., :1], 3, axis=3)
    return get_extractor("random")(x).astype(np.float32)


def _layout(images: np.ndarray, side: int = 8) -> np.ndarray:
    """Each picture as an 8×8 thumbnail, zero mean and unit spread: its layout of light and colour, blind to
    a tinted background or a change of contrast, which is how a GAN's copy of a training item differs."""
    from PIL import Image

    rgb = images if images.shape[3] == 3 else np.repeat(images[..., :1], 3, axis=3)
    t = np.stack([np.asarray(Image.fromarray(x).resize((side, side), Image.Resampling.BOX), np.float64)
                  for x in rgb])
    t -= t.mean(axis=(1, 2), keepdims=True)
    t /= t.std(axis=(1, 2, 3), keepdims=True) + 1e-6
    return t.reshape(len(t), -1).astype(np.float32)


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from ganvas.eval.neighbours import distances

    return distances(a.astype(np.float64), b.astype(np.float64))


def _bars(rolls: np.ndarray, bar_steps: int) -> list[list[bytes]]:
    """Each roll's non-empty bars (tracks × bar_steps × pitches, binarised) as bytes."""
    out = []
    for roll in rolls:
        r = roll > 0
        n = r.shape[1] // bar_steps
        bars = [np.packbits(r[:, i * bar_steps:(i + 1) * bar_steps]).tobytes() for i in range(n)
                if r[:, i * bar_steps:(i + 1) * bar_steps].any()]
        out.append(bars)
    return out


def _load_index(folder: Path) -> dict[str, Any] | None:
    try:
        cal = json.loads((folder / "calibration.json").read_text())
        if cal.get("version") != INDEX_VERSION:
            return None
        out: dict[str, Any] = {"calibration": cal}
        for name in cal.get("arrays", []):
            out[name] = np.load(folder / f"{name}.npy", allow_pickle=False)
        if "bars" in out:
            out["bars"] = [bytes(b) for b in out["bars"]]
        return out
    except (OSError, ValueError, KeyError):
        return None


def _save_index(folder: Path, index: dict[str, Any]) -> None:
    from ganvas.files import save_npy, write_json

    folder.mkdir(parents=True, exist_ok=True)
    for name in index["calibration"]["arrays"]:
        value = index[name]
        if name == "bars":
            width = max((len(b) for b in value), default=1)
            value = np.array([np.frombuffer(b.ljust(width, b"\0"), np.uint8) for b in value] or
                             np.zeros((0, width), np.uint8))
        save_npy(folder / f"{name}.npy", value)
    write_json(folder / "calibration.json", index["calibration"])


def _build_index(folder: Path, data: dict[str, Any], kind: str) -> dict[str, Any]:
    """Hash, embed and calibrate the training items (once per dataset fingerprint)."""
    from ganvas.data.phash import hamming, phash

    items, train, held = data["items"], data["train"], data["held"]
    info(f"memorization guard: indexing {len(items)} training items (once; cached in {folder})")
    cal: dict[str, Any] = {"format": "ganvas-guard", "version": INDEX_VERSION, "fingerprint": data["fingerprint"],
                           "n_train": int(len(train)), "n_heldout": int(len(held)), "flag_rate": FLAG_RATE}
    if kind == "text":
        from ganvas.eval.text_memorize import copied_lines

        texts = data["texts"]
        train_texts = [texts[i] for i in train]
        flags = []
        for i in held[:200]:
            m = copied_lines([texts[i]], train_texts)
            flags.append(bool(m.whole) or any(c.kind == "line" for c in m.copies))
        cal.update(method="lines", arrays=[], heldout_flag_rate=float(np.mean(flags)) if flags else 0.0,
                   rule="flagged when a whole line (or the whole text) occurs verbatim in a training text")
        return {"calibration": cal}
    if kind == "music":
        bar_steps = int((data["card"].get("domain_args") or {}).get("bar_steps", 16))
        known = {b for bars in _bars(items[train], bar_steps) for b in bars}            # calibration
        shares = [sum(b in known for b in bars) / len(bars) for bars in _bars(items[held], bar_steps) if bars]
        threshold = float(np.quantile(shares, 1 - FLAG_RATE)) if shares else 1.0
        threshold = min(max(threshold, 0.5), 0.99)
        quantiles = {f"{q:g}": float(np.quantile(shares, q)) for q in (0.5, 0.9, 0.99)} if shares else {}
        cal.update(method="bars", threshold=threshold, arrays=["bars"], bar_steps=bar_steps,
                   heldout_quantiles=quantiles,
                   heldout_flag_rate=float(np.mean(np.array(shares) > threshold)) if shares else 0.0)
        learned = {b for bars in _bars(items[data["indexed"]], bar_steps) for b in bars}
        index = {"calibration": cal, "bars": sorted(learned)}
        _save_index(folder, index)
        return index
    from ganvas.eval.neighbours import kth_neighbour_distance, nearest

    rows = np.asarray(data["indexed"])           # what the model learned from (held-out items calibrate)
    if len(rows) > MAX_INDEX:
        rows = np.sort(np.random.default_rng(0).choice(rows, MAX_INDEX, replace=False))
    hashes = phash(items[rows])
    feats = _features(items[rows])

    def radii(f: np.ndarray) -> np.ndarray:
        r = kth_neighbour_distance(f.astype(np.float64), (1,))[1]
        return np.maximum(r, 0.05 * float(np.median(r)))   # exact duplicates in the data: no zero radius

    radius = radii(feats)
    median = float(np.median(radius))
    cal_rows = np.isin(rows, np.asarray(held), invert=True)   # calibration: held-out items against the others
    train_feats, train_radius = feats[cal_rows], radii(feats[cal_rows])
    held_feats = _features(items[held])
    dist, near = nearest(held_feats.astype(np.float64), train_feats.astype(np.float64))
    scores = dist[:, 0] / train_radius[near[:, 0]]
    overall = dist[:, 0] / float(np.median(train_radius))
    layout = _layout(items[rows])
    layout_median = float(np.median(radii(layout[cal_rows])))
    layouts = _nearest(_layout(items[held]), layout[cal_rows]).min(axis=1) / layout_median
    enough = len(held) >= MIN_HELDOUT
    threshold = min(float(np.quantile(scores, PER_TEST)), MAX_THRESHOLD) if enough else SMALL_DATA_THRESHOLD
    global_threshold = min(float(np.quantile(overall, PER_TEST)), MAX_GLOBAL) if enough else MAX_GLOBAL
    layout_threshold = min(float(np.quantile(layouts, PER_TEST)), MAX_GLOBAL) if enough else MAX_GLOBAL
    ham = hamming(phash(items[held]), hashes[cal_rows]).min(axis=1)
    bits = int(np.clip(int(np.quantile(ham, FLAG_RATE / 2)) - 1, -1, MAX_PHASH_BITS))
    flagged = (scores < threshold) | (overall < global_threshold) | (layouts < layout_threshold) | (ham <= bits)
    cal.update(method="phash+features", features="random (the FD_random extractor of ganvas/eval)",
               median_radius=median, threshold=threshold, global_threshold=global_threshold, phash_bits=bits,
               layout_median=layout_median, layout_threshold=layout_threshold,
               arrays=["phash", "features", "rows", "radius", "layout"],
               heldout_flag_rate=float(flagged.mean()),
               heldout_score_quantiles={f"{q:g}": float(np.quantile(scores, q)) for q in (0.01, 0.05, 0.5, 0.95)},
               heldout_phash_quantiles={f"{q:g}": float(np.quantile(ham, q)) for q in (0.005, 0.01, 0.05, 0.5)},
               heldout_global_quantiles={f"{q:g}": float(np.quantile(overall, q)) for q in (0.01, 0.05, 0.5)},
               heldout_layout_quantiles={f"{q:g}": float(np.quantile(layouts, q)) for q in (0.01, 0.05, 0.5)},
               rule=f"flagged when the feature score is below {threshold:.2f}, the feature distance below "
                    f"{global_threshold:.2f} × the median item-to-item distance, or the layout distance below "
                    f"{layout_threshold:.2f} × its median"
                    + (f", or the hash within {bits} bits of a training item's" if bits >= 0 else
                       " (no hash test: held-out items share hashes with training items)"))
    index = {"calibration": cal, "phash": hashes, "features": feats, "rows": rows, "radius": radius, "layout": layout}
    _save_index(folder, index)
    return index
