"""What every model provides to the training loop, the sampler and the checkpoint code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from ganvas.config import check_fields
from ganvas.errors import GanvasError, unknown_name
from ganvas.nets.conditional import class_weights, one_hot, split_code

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.objectives.base import Objective


@dataclass(frozen=True)
class DataSpec:
    """What one training sample looks like to a model, so the model can size itself."""

    domain: str                     # the domain of the data, e.g. "image"
    shape: tuple[int, ...]          # one sample as a tensor, e.g. (3, 32, 32)
    num_classes: int = 0            # number of labels; 0 when the data is unlabelled
    domain_args: dict = dataclasses.field(default_factory=dict, hash=False)  # the domain's layout (music: tracks,
                                    # pitch range, steps per bar); empty for images
    classes: tuple[str, ...] = ()   # the label names, in label order (a conditional model asks for them by name)
    style_classes: tuple[str, ...] = ()  # classes D's style head tells apart while G stays unconditional (config `can`)

    def to_dict(self) -> dict[str, Any]:
        d = {"domain": self.domain, "shape": list(self.shape), "num_classes": self.num_classes}
        if self.domain_args:
            d["domain_args"] = self.domain_args
        if self.classes:
            d["classes"] = list(self.classes)
        if self.style_classes:
            d["style_classes"] = list(self.style_classes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataSpec:
        return cls(d["domain"], tuple(d["shape"]), int(d.get("num_classes", 0)), dict(d.get("domain_args") or {}),
                   tuple(d.get("classes") or ()), tuple(d.get("style_classes") or ()))


SPACES = ("z", "w")              # the latent spaces a model may have: z (drawn), w (mapped, per style layer)


@dataclass
class NoOptions:
    pass


class GanModel(nn.Module):
    """A generator and a discriminator (or several of each) and how to sample the generator.

    Subclasses set `G` and `D` in ``__init__``. The loop builds optimisers over `generator_names` and
    `discriminator_names`, keeps a weight average of each generator, and asks `objective` for losses.

    The generator contract (the "latent" section below) is all that the explore tools, ganvas.style,
    the API and the studio know of a model: they never look inside G. The defaults describe a
    z-model (a code of `latent_shape` drawn from N(0, I) and fed to G); a style-based model
    overrides them with its w space, and a translation model declares it has no latent at all.
    """

    name: ClassVar[str] = ""
    domain: ClassVar[str] = "image"
    Options: ClassVar[type] = NoOptions
    default_resolution: ClassVar[int] = 64
    resolutions: ClassVar[tuple[int, ...]] = ()     # the image sides it can be built for (empty: not an image side)
    generator_names: ClassVar[tuple[str, ...]] = ("G",)
    discriminator_names: ClassVar[tuple[str, ...]] = ("D",)
    data_layout: ClassVar[str] = "single"   # single | paired | unpaired: what it trains on (data.dataset.LAYOUTS)
    config_defaults: ClassVar[dict[str, Any]] = {}  # the paper's config values; presets and options override
    compile_modules: ClassVar[tuple[str, ...]] = ()  # sub-networks its objective calls directly ("G.synthesis"),
                                            # compiled with the networks when config `compile` is on
    has_latent: ClassVar[bool] = True       # False: it translates inputs (nets.translation) and has no codes
    can_condition: ClassVar[bool] = False   # its G and D take class labels (ganvas.nets.conditional) when asked
    editable: ClassVar[bool] = True         # its codes can be edited (interpolation, GANSpace, breeding, projection);
                                            # False for text, whose "code" is sampling noise (ganvas.writer)
    edit_space: ClassVar[str] = "z"         # where people edit codes: z, or w (one w per style layer)

    def __init__(self, spec: DataSpec, options: Any) -> None:
        super().__init__()
        self.spec = spec
        self.options = options
        self.tileable = False       # G wraps around its edges (config `tileable`; ganvas.nets.tileable)

    @property
    def num_classes(self) -> int:
        """K, the classes G and D are conditioned on; 0 for an unconditional model (even on labelled data)."""
        return self.spec.num_classes

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def parse_options(cls, args: dict[str, Any]) -> Any:
        """Options from a mapping; unknown names and out-of-range values are one-line errors."""
        names = [f.name for f in dataclasses.fields(cls.Options)]
        for key in args:
            if key not in names:
                raise unknown_name(f"option of model '{cls.name}'", key, names)
        opts = cls.Options(**args)
        check_fields(opts, f"{cls.name} option")
        return opts

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        """Refuse data this model cannot be built for (wrong domain, unsupported size)."""
        if spec.domain != cls.domain:
            raise GanvasError(f"model '{cls.name}' works on {cls.domain} data, not {spec.domain}")

    @classmethod
    def check_resolution(cls, side: int) -> None:
        """Refuse an image side this model cannot be built for, before any data is read at that side."""
        if cls.resolutions and side not in cls.resolutions:
            raise GanvasError(f"model '{cls.name}' supports resolution {' | '.join(map(str, cls.resolutions))}, "
                              f"got {side}")

    @classmethod
    def build(cls, spec: DataSpec, args: dict[str, Any], tileable: bool = False,
              conditional: bool = False) -> GanModel:
        """The model for `spec` with options `args`; `tileable`: its generators wrap around their edges;
        `conditional`: G and D take the spec's classes (without it the model ignores any labels).

        The one place a tileable or conditional model is made, for a new run, a resumed one and a loaded
        checkpoint alike."""
        cls.check_spec(spec)
        if tileable:
            cls.check_tileable()
        if conditional:
            cls.check_conditional(spec)
        if spec.style_classes:
            cls.check_style_head(spec, conditional)
        if not conditional:
            spec = dataclasses.replace(spec, num_classes=0, classes=())
        model = cls(spec, cls.parse_options(args))
        if tileable:
            from ganvas.nets.tileable import make_tileable

            for name in cls.generator_names:
                make_tileable(getattr(model, name), name)
            model.tileable = True
        return model

    @classmethod
    def check_tileable(cls) -> None:
        """Refuse `tileable` for models whose outputs are not pictures drawn from noise."""
        if cls.domain != "image" or cls.data_layout != "single" or not cls.has_latent:
            raise GanvasError(f"config field 'tileable' needs an image model that generates from noise "
                              f"(dcgan, stylegan...); model '{cls.name}' is not one")

    @classmethod
    def check_conditional(cls, spec: DataSpec) -> None:
        """Refuse `conditional` for a model that cannot take labels, or data without at least two classes."""
        if not cls.can_condition:
            raise GanvasError(f"config field 'conditional' needs a model that takes class labels (dcgan, stylegan, "
                              f"fastgan, musegan); model '{cls.name}' does not")
        if spec.num_classes < 2 or len(spec.classes) != spec.num_classes:
            raise GanvasError(f"config field 'conditional' needs labelled data with at least two classes; this data "
                              f"has {spec.num_classes} (label a folder with one sub-folder per class, or a "
                              "labels.csv)")

    @classmethod
    def check_style_head(cls, spec: DataSpec, conditional: bool) -> None:
        """Refuse a style head (config `can`) on a model whose D has no class projection, on data without two
        classes, or on a conditional run."""
        if not cls.can_condition or cls.domain != "image":
            raise GanvasError(f"config field 'can' needs an image model whose D can classify (dcgan, stylegan, "
                              f"fastgan); model '{cls.name}' is not one")
        if len(spec.style_classes) < 2:
            raise GanvasError(f"config field 'can' needs labelled data with at least two classes (styles); this data "
                              f"has {len(spec.style_classes)} (label a folder with one sub-folder per class)")
        if conditional:
            raise GanvasError("config field 'can' needs an unconditional run (conditional = false)")

    @property
    def d_classes(self) -> int:
        """Classes D scores: those G is conditioned on, else the style head's (config `can`), else 0."""
        return self.num_classes or len(self.spec.style_classes)

    def describe(self) -> dict[str, Any]:
        """What a checkpoint needs to rebuild this model (no code, only names and numbers)."""
        out = {"name": self.name, "options": dataclasses.asdict(self.options), "spec": self.spec.to_dict()}
        if self.tileable:
            out["tileable"] = True
        if self.num_classes:
            out["conditional"] = True
        return out

    # --- the generator contract: latent codes, the edit space, truncation, synthesis -----------------

    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one z code, as `sample_latent` draws it (z-models: the option `z_dim`)."""
        return (int(self.options.z_dim),)

    def code_shape(self, space: str | None = None) -> tuple[int, ...]:
        """Shape of one code in `space` (default: the edit space); a one-line error for a space it lacks."""
        space = space or self.edit_space
        if space not in SPACES:
            raise GanvasError(f"latent space must be one of {', '.join(SPACES)}, got {space!r}")
        if space == "w":
            raise GanvasError(f"model '{self.name}' has no w space (only style-based models such as 'stylegan' "
                              "do); use space z")
        return (self.latent_shape[0] + self.num_classes,) if self.num_classes else tuple(self.latent_shape)

    def to_edit_space(self, z: torch.Tensor) -> torch.Tensor:
        """z codes [n, *latent_shape] as edit-space codes, mapped together as one batch (z-models: z itself).

        A style model's mapping network may round differently at different batch sizes: callers that
        need a code independent of its batch (a seed's code) map one row at a time.
        """
        return z

    def check_truncation(self, psi: float | None, cutoff: int | None = None) -> None:
        """Refuse a ψ outside [0, 1], and a cutoff this model cannot apply (z-models have no style layers)."""
        check_truncation(psi)
        if cutoff is not None:
            raise GanvasError(f"truncation cutoff needs a style-based model; '{self.name}' has no style layers")

    def truncate(self, codes: torch.Tensor, psi: float | None, cutoff: int | None = None) -> torch.Tensor:
        """Edit-space codes pulled towards `average_code` by ψ (None: unchanged).

        The one truncation of ganvas (sampling, explore, style mixing and the studio all call it), so
        one ψ means the same output everywhere. z-models scale z towards its mean 0.
        """
        self.check_truncation(psi, cutoff)
        if self.num_classes and psi is not None:          # the class weights are not pulled anywhere
            z, c = split_code(codes, self.num_classes)
            return torch.cat([truncate_z(z, psi), c], dim=1)
        return truncate_z(codes, psi)

    def average_code(self) -> torch.Tensor:
        """The edit-space code that truncation ψ = 0 collapses every code onto (z-models: zeros)."""
        return torch.zeros(self.code_shape(), device=self._device())

    def synthesize(self, codes: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """Outputs of edit-space codes, run through G as one batch (differentiable).

        What projection descends through and what GANSpace hooks into. `generate` is the batch-
        independent way to draw outputs; for one code the two agree exactly. `noise_mode` is for
        models with noise inputs (z-models have none and ignore it).
        """
        return self.generate(codes)

    @property
    def ganspace_layer(self) -> str:
        """The module of G (a name in ``G.named_modules()``) whose activations GANSpace's `activations`
        method analyses: an early layer, where the output's layout is decided. Each model names its
        own; this default is G's first activation function."""
        for name, m in self.G.named_modules():
            if isinstance(m, nn.ReLU | nn.LeakyReLU | nn.SiLU | nn.GELU):
                return name
        raise GanvasError(f"cannot pick an early layer of '{self.name}' for activation directions; "
                          "name one (--layer)")

    def layer(self, name: str) -> nn.Module:
        """The module of G called `name` (where GANSpace hooks in); a one-line error naming some if absent."""
        modules = dict(self.G.named_modules())
        if name not in modules or name == "":
            some = [n for n in modules if n][:12]
            raise GanvasError(f"generator of '{self.name}' has no layer '{name}'; layers include {', '.join(some)}")
        return modules[name]

    def _device(self) -> torch.device:
        return next(self.G.parameters()).device

    # --- sampling -------------------------------------------------------------------------------

    def sample_latent(self, n: int, generator: torch.Generator, truncation: float | None = None,
                      condition: torch.Tensor | None = None) -> torch.Tensor:
        """`n` latent codes drawn from `generator`; truncation ψ in [0, 1] pulls them to the average.

        Untruncated codes are z (``[z | c]`` for a conditional model, c = `condition`, class weights
        n×K or 1×K); truncated ones are edit-space codes (`generate` takes either), since a style model
        truncates in w, after its mapping network.
        """
        check_truncation(truncation)
        z = torch.randn(n, *self.latent_shape, generator=generator, device=generator.device)
        z = self.with_condition(z, condition)
        if truncation is None:
            return z
        with torch.no_grad():
            return self.truncate(self.to_edit_space(z), truncation)

    def latents_for_seeds(self, seeds: list[int], truncation: float | None = None,
                          device: torch.device | str = "cpu", label: Any = None) -> torch.Tensor:
        """One latent per seed, each drawn from its own generator: a seed names one output for good.

        (A single batched draw would not do: torch's vectorised normal sampler gives different
        numbers for the same seed at different batch sizes.) `label`: what a conditional model makes,
        see `condition_for`.
        """
        condition = self.condition_for(seeds, label)
        rows = [None] * len(seeds) if condition is None else list(condition[:, None])
        def one(seed: int, c: torch.Tensor | None) -> torch.Tensor:
            gen = torch.Generator(device).manual_seed(int(seed))
            return self.sample_latent(1, gen, truncation) if c is None else self.sample_latent(1, gen, truncation, c)

        return torch.cat([one(s, c) for s, c in zip(seeds, rows, strict=True)])

    def condition_for(self, seeds: list[int], label: Any = None) -> torch.Tensor | None:
        """Class weights, one row per seed: for `label` (a class name, a blend "A:0.5,B:0.5" or a mapping,
        see `nets.conditional.class_weights`; or class weights, 1×K or a row per seed); without one, seed s
        asks for class s mod K, so a grid cycles through the classes and a seed still names one output.
        None for an unconditional model, which refuses a label."""
        if not self.num_classes:
            self._refuse_class(label)
            return None
        if label is None:
            return one_hot(torch.tensor([int(s) for s in seeds]) % self.num_classes, self.num_classes)
        if torch.is_tensor(label):
            return label.float().reshape(-1, self.num_classes).expand(len(seeds), -1)
        return class_weights(self.spec.classes, label).expand(len(seeds), -1)

    def _refuse_class(self, label: Any) -> None:
        if label is not None:
            raise GanvasError(f"this {self.name} model was trained without classes, so it takes no class "
                              "(train with --conditional on labelled data to choose classes)")

    def random_condition(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """Class weights of `n` classes drawn uniformly (for BatchNorm recalibration); None if unconditional."""
        if not self.num_classes:
            return None
        labels = torch.randint(self.num_classes, (n,), generator=generator, device=generator.device)
        return one_hot(labels, self.num_classes)

    def with_condition(self, z: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        """``[z | c]`` for a conditional model (c: class weights n×K or 1×K), z itself otherwise."""
        if not self.num_classes:
            self._refuse_class(condition)
            return z
        if condition is None:
            raise GanvasError(f"this {self.name} model is conditional: give a class, one of "
                              f"{', '.join(self.spec.classes)}")
        c = condition.to(z.device, torch.float32).reshape(-1, self.num_classes).expand(z.shape[0], -1)
        return torch.cat([z.flatten(1), c], dim=1)

    def condition_of(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The class weights of a training batch's labels (None for an unconditional model)."""
        return one_hot(batch["y"], self.num_classes) if self.num_classes else None

    def prepare_data(self, x: torch.Tensor) -> None:
        """A new run's training samples ([N, …] tensors), shown once before the first step, for a model that
        keeps statistics of its data in buffers (text: token frequencies); most models need nothing."""

    def class_scores(self) -> torch.Tensor | None:
        """D's score of every class (N×K) in its last forward pass, from its projection (None when D has none).

        Objectives read it right after the pass whose samples they mean (an auxiliary classification loss;
        the creative adversarial network's style ambiguity), so D needs no second output."""
        from ganvas.nets.conditional import Projection

        for name in self.discriminator_names:
            for m in getattr(self, name).modules():
                if isinstance(m, Projection):
                    return m.class_scores
        return None

    def generate(self, latent: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """Outputs of the generator `net` (default: the trained G) for `latent` (z or edit-space codes).

        Outside training an output must not depend on the batch it came in (a seed names one output).
        """
        return (net if net is not None else self.G)(latent)

    def grid_input(self, seeds: list[int], dataset: Any, device: torch.device | str = "cpu") -> Any:
        """What the run's sample grids are drawn from: one latent per seed (translation models: fixed inputs);
        a conditional model's grid cycles through its classes (`condition_for`)."""
        return self.latents_for_seeds(seeds, device=device)

    def preview(self, grid_input: Any, nets: dict[str, nn.Module], domain: Any) -> Any:
        """The sample grid picture, drawn with the weight-averaged generators `nets` (by name)."""
        return domain.preview(self.generate(grid_input, net=nets["G"]))

    def objective(self, cfg: TrainConfig, latent_rng: torch.Generator) -> Objective:
        """How this model's losses are computed; plain adversarial training unless overridden."""
        from ganvas.objectives.adversarial import AdversarialObjective

        return AdversarialObjective(self, cfg, latent_rng)


def check_truncation(psi: float | None) -> None:
    """ψ must lie in [0, 1]: 1 leaves latents as drawn, 0 collapses them onto the average latent."""
    if psi is not None and not (0.0 <= psi <= 1.0):
        raise GanvasError(f"truncation ψ must be in [0, 1] (1 = none, 0 = the average image), got {psi}")


def normal_latent(n: int, dim: int, generator: torch.Generator, truncation: float | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard normal codes, pulled towards their mean (0) by truncation ψ.

    Scaling z by ψ trades variety for typicality, the same dial as StyleGAN's ψ in w space, so one
    slider means the same thing for every model. Draws come from `generator` only: the same seed
    gives the same codes, and the first k of n codes equal the k codes of a smaller request.
    """
    check_truncation(truncation)
    return truncate_z(torch.randn(n, dim, generator=generator, device=device), truncation)


def truncate_z(z: torch.Tensor, psi: float | None) -> torch.Tensor:
    """z scaled towards its mean 0 by ψ: the truncation of every z-model (`GanModel.truncate`)."""
    return z if psi is None else z * psi


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN's initialisation: conv weights N(0, std), BatchNorm scale N(1, std) and shift 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


def image_side(spec: DataSpec, model: str, allowed: tuple[int, ...]) -> int:
    """The square image side of `spec`, refused unless it is one of `allowed`."""
    if len(spec.shape) != 3 or spec.shape[1] != spec.shape[2]:
        raise GanvasError(f"model '{model}' needs square images C×H×W, got shape {spec.shape}")
    side = spec.shape[1]
    if side not in allowed:
        raise GanvasError(f"model '{model}' supports resolution {' | '.join(map(str, allowed))}, got {side}")
    return side
