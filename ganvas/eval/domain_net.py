"""`domain`: a small CNN that ganvas trains on the dataset's own labels, as a feature extractor.

ImageNet's Inception knows photographs; emoji, clip art and icons are far from them, and its weights
are not always at hand. A classifier trained to tell the dataset's own labels apart (emoji groups,
openclipart folders, a user's sub-folders) learns features that matter for *this* data. It is
trained once per dataset and recipe on first use (about a minute on a CPU), stored as safetensors
plus a JSON recipe in the data home (``extractors/domain/…``), and verified by SHA-256 on every load.

Its distances are called FD_domain and KD_domain, never FID: they depend on this network, so they
are comparable only between results carrying the same extractor hash (ganvas writes it into every
result). The recipe records its held-out classification accuracy, a check that the features carry
information about the data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from ganvas.errors import GanvasError
from ganvas.eval.convnet import ConvNet
from ganvas.eval.features import Extractor, resize_for, weights_sha256
from ganvas.files import atomic_dir, write_json


@dataclass
class DomainRecipe:
    width: int = 24                 # channels of the first stage (features are 8 × width wide)
    input_size: int = 0             # side the images are resized to; 0 = the data's side, clamped to 32–64
    epochs: int = 6                 # passes over the training part of the data
    batch_size: int = 64            # images per step
    lr: float = 3e-3                # peak AdamW learning rate (one-cycle: warm-up then cosine decay)
    weight_decay: float = 5e-4      # AdamW weight decay
    label_smoothing: float = 0.1    # cross-entropy label smoothing
    val_fraction: float = 0.1       # share of the data held out to measure accuracy
    limit: int = 0                  # train on at most this many images (0 = all; tests use a few hundred)
    seed: int = 0                   # every random choice of the training

    def key(self) -> str:
        return hashlib.sha256(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:10]


def _labels(dataset: Any) -> tuple[np.ndarray, list[str]]:
    y = dataset.arrays.get("y")
    names = list(getattr(dataset, "label_names", []) or [])
    if y is None or len(np.unique(y)) < 2:
        raise GanvasError(f"dataset '{dataset.name}' has no labels (or only one), so ganvas cannot train the "
                          "'domain' feature extractor on it; use --features random (or inception)")
    return np.asarray(y, dtype=np.int64), names or [str(i) for i in range(int(y.max()) + 1)]


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to 1/8 of the side, per image."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=g) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = max(1, h // 8)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g).tolist()
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def validation_split(n: int, recipe: DomainRecipe) -> tuple[np.ndarray, np.ndarray]:
    """(held-out indices, sorted; training indices, in training order) of the classifier's images: the
    held-out ones are what its recorded accuracy, and control's per-class accuracy of reals, are measured on."""
    order = np.random.default_rng(recipe.seed).permutation(n)
    if recipe.limit:
        order = order[:recipe.limit]
    n_val = max(1, int(round(len(order) * recipe.val_fraction)))
    return np.sort(order[:n_val]), order[n_val:]


def train_domain_net(images: np.ndarray, labels: np.ndarray, num_classes: int, recipe: DomainRecipe,
                     size: int, progress: bool | None = None, desc: str = "") -> tuple[ConvNet, dict]:
    """Train the classifier; returns the network and a report (accuracies, time)."""
    t0 = time.perf_counter()
    val_idx, train_idx = validation_split(len(images), recipe)
    n_val = len(val_idx)
    g = torch.Generator().manual_seed(recipe.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ConvNet(recipe.width, num_classes)     # NCHW: faster than channels-last for training this small net
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(train_idx) / recipe.batch_size)
    total = max(1, steps_per_epoch * recipe.epochs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total, pct_start=0.15)

    def batch(idx: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images[np.sort(idx)])).permute(0, 3, 1, 2)
        return resize_for(x, size).contiguous()

    net.train()
    quiet = None if progress is None else not progress
    correct = seen = 0
    with tqdm(total=total, desc=desc or "training the domain feature extractor", unit="step", disable=quiet,
              leave=False) as bar:
        for _ in range(recipe.epochs):
            perm = train_idx[torch.randperm(len(train_idx), generator=g).numpy()]
            for s in range(steps_per_epoch):
                idx = np.sort(perm[s * recipe.batch_size:(s + 1) * recipe.batch_size])
                if len(idx) < 2:
                    continue
                x = _augment(batch(idx), g)
                y = torch.from_numpy(labels[idx])
                logits = net(x)
                loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                correct += int((logits.argmax(1) == y).sum())
                seen += len(idx)
                bar.update(1)
                bar.set_postfix_str(f"loss {loss.item():.3f}", refresh=False)
    net.eval()
    with torch.inference_mode():
        preds = torch.cat([net(batch(val_idx[i:i + 256])).argmax(1) for i in range(0, len(val_idx), 256)])
    val_acc = float((preds.numpy() == labels[val_idx]).mean())
    majority = float(np.bincount(labels[val_idx], minlength=num_classes).max() / len(val_idx))
    return net, {"val_accuracy": round(val_acc, 4), "val_majority_baseline": round(majority, 4),
                 "train_accuracy_last_epochs": round(correct / max(seen, 1), 4), "n_train": int(len(train_idx)),
                 "n_val": int(n_val), "seconds": round(time.perf_counter() - t0, 1)}


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _folder(dataset: Any, recipe: DomainRecipe, home: Path | None = None) -> Path:
    """Where the classifier of `dataset` under `recipe` lives in the data home."""
    from ganvas.data import data_home

    fp = (dataset.fingerprint or "nofingerprint").split(":")[-1][:12]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(str(dataset.name)).name) or "data"
    return (home or data_home()) / "extractors" / "domain" / f"{safe}-{fp}-{recipe.key()}"


def is_trained(dataset: Any, recipe: DomainRecipe | None = None, home: Path | None = None) -> bool:
    """Whether the classifier of `dataset` under `recipe` was trained before (so using it costs no training)."""
    folder = _folder(dataset, recipe or DomainRecipe(), home)
    return (folder / "weights.safetensors").exists() and (folder / "recipe.json").exists()


def load_or_train(dataset: Any, recipe: DomainRecipe | None = None, progress: bool | None = None,
                  home: Path | None = None) -> tuple[ConvNet, dict, Path]:
    """The domain network for `dataset`: loaded (hash-checked) if trained before, else trained and saved."""
    recipe = recipe or DomainRecipe()
    labels, names = _labels(dataset)
    images = dataset.arrays["x"]
    size = recipe.input_size or int(np.clip(images.shape[1], 32, 64))
    folder = _folder(dataset, recipe, home)
    weights, meta_path = folder / "weights.safetensors", folder / "recipe.json"
    if weights.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        digest = _file_sha256(weights)
        if digest != meta.get("weights_file_sha256"):
            raise GanvasError(f"extractor weights file '{weights}' has SHA-256 {digest[:16]}…, but its recipe.json "
                              f"records {str(meta.get('weights_file_sha256'))[:16]}…; delete '{folder}' to retrain it")
        net = ConvNet(meta["recipe"]["width"], len(meta["labels"]))
        from ganvas.train.checkpoint import load_weights

        load_weights(net, load_file(str(weights)), f"extractor weights file '{weights}'")
        return net.eval(), meta, folder
    net, report = train_domain_net(images, labels, len(names), recipe, size, progress,
                                   desc=f"training the domain feature extractor on {dataset.name} (once)")
    meta = {
        "format": "ganvas-domain-extractor", "format_version": 1,
        "what": f"a {len(names)}-way classifier of {dataset.name}'s labels; features = its pooled last stage",
        "dataset": {"name": str(dataset.name), "fingerprint": dataset.fingerprint, "count": len(images),
                    "shape": list(images.shape[1:])},
        "labels": names, "input_size": size, "recipe": dataclasses.asdict(recipe), "training": report,
        "torch": torch.__version__,
    }
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    with atomic_dir(folder) as tmp:
        save_file(state, str(tmp / "weights.safetensors"), metadata={"format": "ganvas-domain-extractor"})
        meta["weights_file_sha256"] = _file_sha256(tmp / "weights.safetensors")
        meta["weights_sha256"] = weights_sha256(net)
        write_json(tmp / "recipe.json", meta)
    return net.eval(), meta, folder


def build_extractor(dataset: Any = None, recipe: DomainRecipe | None = None, progress: bool | None = None) -> Extractor:
    if dataset is None:
        raise GanvasError("the 'domain' feature extractor is trained on a dataset's labels: give --data")
    net, meta, folder = load_or_train(dataset, recipe, progress)
    net = net.to(memory_format=torch.channels_last)
    size = int(meta["input_size"])

    def forward(images: torch.Tensor) -> torch.Tensor:
        return net.stages(resize_for(images, size))[-1]

    return Extractor("domain", net, forward, dim=net.dim,
                     preprocessing=f"uint8 RGB to [-1, 1]; bilinear antialiased resize to {size}x{size}; "
                                   "pooled last stage of a classifier of the dataset's labels",
                     source={"folder": str(folder), "dataset": meta["dataset"], "labels": meta["labels"],
                             "recipe": meta["recipe"], "training": meta["training"],
                             "weights_file_sha256": meta["weights_file_sha256"]},
                     batch_size=128)
