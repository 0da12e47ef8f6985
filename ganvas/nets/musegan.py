"""`musegan`: multi-track piano-roll generation after MuseGAN (Dong, Hsiao, Yang and Yang, AAAI 2018).

Generator. A phrase is a sequence of bars. Temporal generators turn a latent code into one code per
bar; a bar generator turns each (bar, track) code into that track's bar. The latent code has up to
four parts, chosen by the variant:

- ``jamming``: per track, a time-independent code z_i and a temporal one z_i,t (each track has its own
  temporal generator), like musicians improvising without a shared plan;
- ``composer``: one time-independent code z and one temporal code z_t shared by every track, like a
  composer writing all parts from one idea;
- ``hybrid``: all four — the bar of track i at bar b is made from [z, G_temp(z_t)_b, z_i, G_temp,i(z_i,t)_b].
The bar generator's weights are shared across tracks (each track's input also carries a learned
track code), as in the later MuseGAN code's shared network; each track keeps a private output layer.
Inside it, a shared trunk widens beats and octaves, then two branches — pitch-then-time and
time-then-pitch — are merged, so that both the chord (pitch) and rhythm (time) structure are modelled.

Discriminator (a WGAN-GP critic: no normalisation) over the whole phrase, factorised 3-D convolutions
on bars × steps × pitches: private per-track pitch-time and time-pitch streams, a shared stream over
all tracks, plus (``d_streams``) a per-beat chroma stream and an onset stream, merged across bars.

Binarisation. G ends in tanh; notes are where the output is positive. Samples are binarised by
`binarize` (``threshold`` at 0, or ``bernoulli`` with P(note) = (x + 1)/2 drawn from a generator
seeded by the latent, so a seed still names one output). With `straight_through` G's output is
binarised during training as well and gradients pass straight through (BinaryMuseGAN, Dong & Yang
2018), so D judges binary rolls like the real ones.

Train it as the paper did with WGAN-GP: ``loss = "wgan-gp"``, ``n_critic = 5``, Adam lr 0.001,
β = (0.5, 0.9), batch 64 — the ``chorales-musegan-*`` presets set these.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from ganvas.config import option
from ganvas.errors import GanvasError
from ganvas.nets.base import DataSpec, GanModel
from ganvas.nets.conditional import LabelEmbedding, Projection, split_code

VARIANTS = ("jamming", "composer", "hybrid")
BINARIZE = ("threshold", "bernoulli")
STRAIGHT_THROUGH = ("none", "threshold", "bernoulli")


@dataclass
class MuseGANOptions:
    variant: str = option("hybrid", "jamming (a code per track) | composer (one shared code) | hybrid (both)",
                          choices=VARIANTS)
    z_dim: int = option(32, "length of each latent part (shared, per track, and their temporal ones); >= 1", min=1)
    temporal_width: int = option(256, "hidden width of each temporal generator; >= 1", min=1)
    track_dim: int = option(8, "length of the learned track code fed to the shared bar generator; >= 1", min=1)
    g_width: int = option(256, "channels of the bar generator's first stage, halved at each later one; >= 16",
                          min=16)
    d_width: int = option(64, "base channels of the discriminator; >= 8", min=8)
    d_streams: bool = option(True, "add D's chroma and onset streams to its piano-roll streams")
    binarize: str = option("threshold", "how samples become notes: threshold (x > 0) | bernoulli (P = (x+1)/2)",
                           choices=BINARIZE)
    straight_through: str = option("none", "binarise G's output in training too, gradients passed straight "
                                           "through: none | threshold | bernoulli", choices=STRAIGHT_THROUGH)


def _layout(spec: DataSpec) -> tuple[int, int, int, int, int, int]:
    """(tracks, bars, beats per bar, steps per beat, pitches, octaves) of a music data spec."""
    tracks, steps, pitches = spec.shape
    args = spec.domain_args
    beat_steps, bar_steps = int(args.get("beat_steps", 4)), int(args.get("bar_steps", 16))
    return tracks, steps // bar_steps, bar_steps // beat_steps, beat_steps, pitches, math.ceil(pitches / 12)


class TrackLinear(nn.Module):
    """A private linear map per track: x (N × tracks × … × cin) → (N × tracks × … × cout)."""

    def __init__(self,
                 tracks: int,           # one weight matrix per track
                 cin: int,              # input features
                 cout: int,             # output features
                 ) -> None:
        super().__init__()
        bound = 1 / math.sqrt(cin)                        # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(tracks, cin, cout).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(tracks, cout).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, *mid, cin = x.shape
        # a broadcast batched product over (sample, track): no copy of x, whatever its size
        h = torch.matmul(x.reshape(n, t, -1, cin), self.weight[None]) + self.bias[None, :, None]
        return h.view(n, t, *mid, -1)


class NormReLU(nn.BatchNorm1d):
    """BatchNorm over the last (feature) axis of any shape, then ReLU (in place, on the normalised
    tensor itself rather than on a view of it: autograd would otherwise copy it back in the backward)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu_(super().forward(x.reshape(-1, x.shape[-1]))).view(x.shape)


def expand(x: torch.Tensor, layer: nn.Linear, k: int, axis: int) -> torch.Tensor:
    """A transposed convolution whose kernel equals its stride (k) along `axis` of a channels-last map:
    each position becomes k positions. Such a convolution is exactly this matrix product."""
    h = layer(x)                                           # … × (k·cout)
    h = h.view(*x.shape[:-1], k, -1)                       # … × k × cout
    h = h.movedim(-2, axis + 1)                            # put the k new positions right after `axis`
    shape = list(x.shape[:-1])
    shape[axis] *= k
    return h.reshape(*shape, -1)


class TemporalGenerator(nn.Module):
    """A latent code → one code per bar (MuseGAN: dense, then a transposed convolution along bars)."""

    def __init__(self,
                 z_dim: int,            # input and output code length
                 bars: int,             # codes to produce
                 width: int,            # hidden channels
                 ) -> None:
        super().__init__()
        k = min(2, bars)                                   # transposed kernel along bars
        self.length, self.width = bars - k + 1, width
        self.fc = nn.Sequential(nn.Linear(z_dim, width * self.length), nn.BatchNorm1d(width * self.length),
                                nn.ReLU(True))
        self.conv = nn.Sequential(nn.ConvTranspose1d(width, z_dim, k), nn.BatchNorm1d(z_dim), nn.ReLU(True))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], self.width, self.length)
        return self.conv(h).transpose(1, 2)                # N × bars × z_dim


class BarGenerator(nn.Module):
    """A (bar, track) code → that track's bar of steps × pitches; weights shared by all tracks.

    Feature maps are channels-last (… × time × pitch × channels). Every up-sampling step is a
    transposed convolution with kernel = stride along one axis (as in MuseGAN), written as the matrix
    product it is (`expand`): the same function, several times faster on a CPU.
    """

    def __init__(self,
                 in_dim: int,           # code length per (bar, track)
                 tracks: int,           # number of private output layers
                 beats: int,            # beats per bar
                 beat_steps: int,       # steps per beat
                 octaves: int,          # pitches are generated as octaves × 12, then cropped
                 width: int,            # channels of the first stage
                 ) -> None:
        super().__init__()
        w = width
        self.beats, self.beat_steps, self.octaves = beats, beat_steps, octaves
        self.time0, self.norm0 = nn.Linear(in_dim, beats * w), NormReLU(w)             # 1 → beats
        self.pitch0, self.norm1 = nn.Linear(w, octaves * (w // 2)), NormReLU(w // 2)   # 1 → octaves
        self.pt_pitch, self.pt_norm1 = nn.Linear(w // 2, 12 * (w // 4)), NormReLU(w // 4)    # octaves → pitches
        self.pt_time, self.pt_norm2 = nn.Linear(w // 4, beat_steps * (w // 8)), NormReLU(w // 8)  # beats → steps
        self.tp_time, self.tp_norm1 = nn.Linear(w // 2, beat_steps * (w // 4)), NormReLU(w // 4)
        self.tp_pitch, self.tp_norm2 = nn.Linear(w // 4, 12 * (w // 8)), NormReLU(w // 8)
        # private per-track output layer over both branches' features (split in two to avoid a concat)
        self.out_pt, self.out_tp = TrackLinear(tracks, w // 8, 1), TrackLinear(tracks, w // 8, 1)
        with torch.no_grad():
            self.out_tp.bias.zero_()                        # one bias for the sum

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """codes: M × tracks × in_dim (M = samples × bars) → M × tracks × steps × octaves·12."""
        m, t, _ = codes.shape
        bs, pitches = self.beat_steps, self.octaves * 12
        h = self.norm0(self.time0(codes).view(m, t, self.beats, 1, -1))   # M × T × beats × 1 × w
        h = self.norm1(expand(h, self.pitch0, self.octaves, 3))          # … × beats × octaves × w/2
        # pitch first, then time: the last expansion stays as (beat, pitch, step-in-beat); every layer after
        # it works per position, so only the one-channel result is moved into time order
        a = self.pt_norm1(expand(h, self.pt_pitch, 12, 3))               # … × beats × pitches × w/4
        a = self.pt_norm2(self.pt_time(a).view(m, t, self.beats, pitches, bs, -1))
        a = self.out_pt(a).view(m, t, self.beats, pitches, bs).transpose(3, 4).reshape(m, t, -1, pitches)
        # time first, then pitch
        b = self.tp_norm1(expand(h, self.tp_time, bs, 2))                # … × steps × octaves × w/4
        b = self.tp_norm2(expand(b, self.tp_pitch, 12, 3))               # … × steps × pitches × w/8
        return torch.tanh(a + self.out_tp(b).squeeze(-1))


class Generator(nn.Module):
    def __init__(self,
                 variant: str,          # jamming | composer | hybrid
                 z_dim: int,            # length of each latent part
                 temporal_width: int,   # hidden width of the temporal generators
                 track_dim: int,        # length of the learned track code
                 width: int,            # bar generator's first-stage channels
                 tracks: int,           # tracks in a phrase
                 bars: int,             # bars in a phrase
                 beats: int,            # beats per bar
                 beat_steps: int,       # steps per beat
                 pitches: int,          # pitch rows of the output
                 num_classes: int = 0,  # classes it is conditioned on (0: none); an embedding joins every bar's code
                 ) -> None:
        super().__init__()
        self.embed = LabelEmbedding(num_classes, z_dim) if num_classes else None
        self.variant, self.z_dim, self.tracks, self.bars, self.pitches = variant, z_dim, tracks, bars, pitches
        self.shared = variant in ("composer", "hybrid")
        self.private = variant in ("jamming", "hybrid")
        self.latent_dim = z_dim * ((2 if self.shared else 0) + (2 * tracks if self.private else 0))
        if self.shared:
            self.temporal_shared = TemporalGenerator(z_dim, bars, temporal_width)
        if self.private:
            self.temporal_private = nn.ModuleList(TemporalGenerator(z_dim, bars, temporal_width)
                                                  for _ in range(tracks))
        self.track_code = nn.Parameter(torch.randn(tracks, track_dim))
        in_dim = z_dim * ((2 if self.shared else 0) + (2 if self.private else 0) + (1 if num_classes else 0)) \
            + track_dim
        self.bar = BarGenerator(in_dim, tracks, beats, beat_steps, math.ceil(pitches / 12), width)

    def codes(self, z: torch.Tensor) -> torch.Tensor:
        """The bar generator's inputs, N × bars × tracks × in_dim, from flat latents N × latent_dim."""
        n, d, t, b = z.shape[0], self.z_dim, self.tracks, self.bars
        parts, at = [], 0
        if self.shared:
            parts.append(z[:, None, None, at:at + d].expand(n, b, t, d))                       # z
            parts.append(self.temporal_shared(z[:, at + d:at + 2 * d])[:, :, None].expand(n, b, t, d))  # z_t
            at += 2 * d
        if self.private:
            zi = z[:, at:at + t * d].view(n, t, d)
            parts.append(zi[:, None].expand(n, b, t, d))                                      # z_i
            zit = z[:, at + t * d:at + 2 * t * d].view(n, t, d)
            parts.append(torch.stack([g(zit[:, i]) for i, g in enumerate(self.temporal_private)], 2))  # z_i,t
        if self.embed is not None:                                                            # the class
            parts.append(self.embed(split_code(z, self.embed.num_classes)[1])[:, None, None].expand(n, b, t, d))
        parts.append(self.track_code[None, None].expand(n, b, t, -1))
        return torch.cat(parts, -1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = z.shape[0]
        c = self.codes(z)
        bars = self.bar(c.reshape(n * self.bars, self.tracks, -1))          # (N·B) × T × steps × P'
        steps = bars.shape[2]
        x = bars.view(n, self.bars, self.tracks, steps, -1).transpose(1, 2)
        return x.reshape(n, self.tracks, self.bars * steps, -1)[..., : self.pitches]


class Discriminator(nn.Module):
    """The critic over a whole phrase, factorised 3-D convolutions over bars × steps × pitches.

    Each convolution has kernel = stride along one axis (steps within a beat, pitches within an
    octave, beats within a bar, octaves) and is written as the matrix product it is. Private layers
    keep one weight matrix per track (`TrackLinear`).
    """

    def __init__(self,
                 tracks: int,           # tracks in a phrase
                 bars: int,             # bars in a phrase
                 beats: int,            # beats per bar
                 beat_steps: int,       # steps per beat
                 pitches: int,          # pitch rows of the input
                 width: int,            # base channels
                 streams: bool,         # add the chroma and onset streams
                 num_classes: int = 0,  # classes of a conditional critic (a projection on its last features)
                 ) -> None:
        super().__init__()
        t, w, o = tracks, width, math.ceil(pitches / 12)
        self.tracks, self.bars, self.beats, self.beat_steps, self.pitches, self.octaves = t, bars, beats, beat_steps, \
            pitches, o
        c1, c2, c3 = max(4, w // 4), max(4, w // 2), w
        self.act = nn.LeakyReLU(0.2)
        # private per-track streams: pitch-then-time and time-then-pitch
        self.pt_pitch, self.pt_time = TrackLinear(t, 12, c1), TrackLinear(t, beat_steps * c1, c2)
        self.tp_time, self.tp_pitch = TrackLinear(t, beat_steps, c1), TrackLinear(t, 12 * c1, c2)
        self.private = TrackLinear(t, 2 * c2, c3)
        self.shared = nn.Linear(t * beats * o * c3, 2 * w)                         # per bar, all tracks
        merged = 2 * w
        self.streams = streams
        if streams:
            self.chroma1, self.chroma2 = nn.Linear(t * 12, c2), nn.Linear(beats * c2, w)        # per beat, per bar
            self.onset1, self.onset2 = nn.Linear(t * beat_steps, c1), nn.Linear(beats * c1, w)
            merged += 2 * w
        self.k = min(2, bars)                                                     # neighbouring bars
        self.merge = nn.Linear(self.k * merged, 4 * w)
        self.fc = nn.Linear(4 * w * (bars - self.k + 1), 1)
        self.project = Projection(num_classes, 4 * w * (bars - self.k + 1)) if num_classes else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        classes = c                                       # class weights of a conditional critic
        n, t, s, p = x.shape
        o, a, bs, nb = self.octaves, self.beats, self.beat_steps, self.bars
        full = o * 12
        if p < full:                                      # pad to whole octaves with silence (−1)
            x = torch.cat([x, x.new_full((n, t, s, full - p), -1.0)], 3)
        h = x.view(n, t, nb, a, bs, o, 12)
        pt = self.act(self.pt_pitch(h))                                         # … × beats × bs × o × c1
        pt = self.act(self.pt_time(pt.movedim(4, -2).reshape(n, t, nb, a, o, -1)))          # … × a × o × c2
        tp = self.act(self.tp_time(h.movedim(4, -1)))                          # … × a × o × 12 × c1
        tp = self.act(self.tp_pitch(tp.reshape(n, t, nb, a, o, -1)))           # … × a × o × c2
        h = self.act(self.private(torch.cat([pt, tp], -1)))                    # N × T × bars × a × o × c3
        feats = [self.act(self.shared(h.movedim(1, 3).reshape(n, nb, -1)))]   # N × bars × 2w
        if self.streams:
            on = (x + 1) / 2                                                   # note activity in [0, 1]
            chroma = on.view(n, t, nb, a, bs, o, 12).sum((4, 5))               # per-beat pitch classes
            c = self.act(self.chroma1(chroma.movedim(1, 3).reshape(n, nb, a, -1)))
            feats.append(self.act(self.chroma2(c.reshape(n, nb, -1))))
            prev = torch.cat([on.new_zeros(n, t, 1, full), on[:, :, :-1]], 2)
            onsets = torch.relu(on - prev).sum(3).view(n, t, nb, a, bs)        # where notes start
            c = self.act(self.onset1(onsets.movedim(1, 3).reshape(n, nb, a, -1)))
            feats.append(self.act(self.onset2(c.reshape(n, nb, -1))))
        h = torch.cat(feats, -1)                                               # N × bars × F
        pairs = torch.cat([h[:, i:nb - self.k + 1 + i] for i in range(self.k)], -1)
        h = self.act(self.merge(pairs)).flatten(1)
        logits = self.fc(h).flatten()
        return logits if self.project is None else logits + self.project(h, classes)


def straight_through(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Binarise to ±1 in the forward pass; the backward pass sees the identity."""
    hard = (x > 0) if mode == "threshold" else (torch.rand_like(x) < (x + 1) / 2)
    return x + (hard.to(x.dtype) * 2 - 1 - x).detach()


def binarize_by_latent(x: torch.Tensor, latent: torch.Tensor, mode: str) -> torch.Tensor:
    """±1 notes; Bernoulli draws come from a generator seeded by each latent, so a seed names one output."""
    if mode == "threshold":
        return torch.where(x > 0, 1.0, -1.0).to(x.dtype)
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        seed = int.from_bytes(hashlib.sha256(latent[i].detach().float().cpu().numpy().tobytes()).digest()[:8],
                              "little") % 2**63
        u = torch.rand(x.shape[1:], generator=torch.Generator().manual_seed(seed)).to(x.device)
        out[i] = torch.where(u < (x[i] + 1) / 2, 1.0, -1.0)
    return out


class MuseGAN(GanModel):
    name = "musegan"
    domain = "music"
    Options = MuseGANOptions
    default_resolution = 0                   # not an image: the data fixes the shape
    can_condition = True
    ganspace_layer = "bar.norm0"             # the bar generator's first stage (per bar and track)

    def __init__(self, spec: DataSpec, options: MuseGANOptions) -> None:
        super().__init__(spec, options)
        tracks, bars, beats, beat_steps, pitches, _ = _layout(spec)
        o = options
        self.G = Generator(o.variant, o.z_dim, o.temporal_width, o.track_dim, o.g_width, tracks, bars, beats,
                           beat_steps, pitches, self.num_classes)
        self.D = Discriminator(tracks, bars, beats, beat_steps, pitches, o.d_width, o.d_streams, self.num_classes)
        self.binary = not spec.domain_args.get("velocity", False)

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)
        if len(spec.shape) != 3:
            raise GanvasError(f"model '{cls.name}' needs piano-rolls tracks × steps × pitches, got shape {spec.shape}")
        tracks, bars, beats, beat_steps, pitches, _ = _layout(spec)
        bar_steps = beats * beat_steps
        if beats < 1 or spec.shape[1] % bar_steps or bars < 1:
            raise GanvasError(f"model '{cls.name}' needs whole bars of {bar_steps} steps, got {spec.shape[1]} steps")
        if tracks < 1 or pitches < 1:
            raise GanvasError(f"model '{cls.name}' needs at least one track and one pitch, got shape {spec.shape}")

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """One flat code holding every latent part of the variant (shared, per track, and their temporal ones)."""
        return (self.G.latent_dim,)

    def generate(self, latent: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        net = net if net is not None else self.G
        x = net(latent)
        if not self.binary:
            return x
        if net.training:
            return x if self.options.straight_through == "none" else straight_through(x, self.options.straight_through)
        return binarize_by_latent(x, latent, self.options.binarize)
