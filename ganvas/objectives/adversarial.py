"""The classic adversarial game as an objective: D's step on real against generated, G's step through D."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from ganvas.objectives.augment import Augment, build_augment
from ganvas.objectives.base import Batch, Objective, Stats
from ganvas.objectives.losses import get_loss
from ganvas.objectives.penalties import DPenalties

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.base import GanModel


class AdversarialObjective(Objective):
    """The classic game: D tells real from generated, G tries to fool D, under a chosen loss.

    With one D step per G step, the fake batch made for D's step is reused for G's step (as the
    reference DCGAN does): one generator forward per iteration instead of two. Every image D sees,
    real or generated, goes through `augment` (config field ``augment``); adaptive augmentations
    get D's real logits after each D step. Zero-centred R1 (on reals) and R2 (on fakes) apply lazily,
    every `r1_every` D steps, to any loss; a relativistic loss (``rpgan``) also gets D's logits on the
    batch's reals in G's step, and only then does G's step pass the reals through D.

    A conditional model (ganvas.nets.conditional) generates the fakes of a step for the labels of
    the step's reals, and its D judges both with those labels: fakes follow the data's class balance,
    and a relativistic loss pairs each fake with a real of its own class.
    """

    def __init__(self, model: GanModel, cfg: TrainConfig, latent_rng: torch.Generator) -> None:
        self.model = model
        self.loss = get_loss(cfg.loss)
        self.penalties = DPenalties.from_config(cfg, self.loss.gradient_penalty)
        self.latent_rng = latent_rng
        self.reuse_fake = cfg.n_critic == 1
        self.augment: Augment = build_augment(cfg, model.spec.domain)      # what D sees of any image
        self.d_steps = 0
        self._fake: torch.Tensor | None = None
        self.class_loss = cfg.class_loss          # AC-GAN's auxiliary classification (conditional models)
        if self.class_loss and not model.num_classes:
            from ganvas.errors import GanvasError

            raise GanvasError(f"config field 'class_loss' ({self.class_loss}) needs a conditional run "
                              "(--conditional, on labelled data)")
        self.can = cfg.can                        # the creative adversarial network's style-ambiguity weight

    def style_classification(self, batch: Batch) -> torch.Tensor:
        """D's style head on the reals of its last pass against their labels (CAN: D learns the styles)."""
        return self.classification(torch.nn.functional.one_hot(batch["y"].long(), self.model.d_classes).float())

    def style_ambiguity(self) -> torch.Tensor:
        """CAN's generator term: cross-entropy of D's style posterior on the fakes of its last pass against the
        uniform distribution over the K styles. Its least value, log K, means D cannot tell which style an
        output belongs to; reported minus log K, so 0 is "perfectly ambiguous"."""
        scores = self.model.class_scores()
        if scores is None:
            from ganvas.errors import GanvasError

            raise GanvasError(f"config field 'can' needs a D with a style head; model '{self.model.name}' has none")
        return -torch.log_softmax(scores.float(), dim=1).mean(dim=1).mean()

    def classification(self, c: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of D's class scores in its last pass against the class weights `c` (a blend is a soft
        target). On D's step it reads the reals only: classifying fakes too would teach D the classes of
        whatever G makes (Odena et al.'s D does; later work such as TAC-GAN found it biases G)."""
        scores = self.model.class_scores()
        if scores is None:
            from ganvas.errors import GanvasError

            raise GanvasError(f"config field 'class_loss' needs a D with a class projection; model "
                              f"'{self.model.name}' has none")
        return torch.nn.functional.cross_entropy(scores.float(), c.float())

    def _fake_batch(self, n: int, phase: str, c: torch.Tensor | None = None) -> torch.Tensor:
        """`n` generated samples for D's step (phase "D") or G's step ("G"), of classes `c` (class weights
        n×K) for a conditional model."""
        rng = self.latent_rng                   # a model that takes no class need not know the argument
        z = self.model.sample_latent(n, rng) if c is None else self.model.sample_latent(n, rng, condition=c)
        return self.model.generate(z)

    def judge_real(self, D: Callable[..., torch.Tensor], real: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor | None, Stats]:
        """D's logits on the (augmented) reals, and any loss of D's own on them (None: none).

        A model whose D has more to learn from reals than real/fake (FastGAN's reconstruction) overrides
        this and gets them in the same forward pass.
        """
        return D(real), None, {}

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        real = batch["x"]
        c = self.model.condition_of(batch)
        if self.reuse_fake:
            self._fake = self._fake_batch(real.shape[0], "D", c)
            fake = self._fake.detach()
        else:
            with torch.no_grad():
                fake = self._fake_batch(real.shape[0], "D", c)
        D, real, fake, now = self.penalties.inputs(with_class(self.model.D, c), real, fake, self.d_steps)
        real_logits, own, own_stats = self.judge_real(D, self.augment(real))
        cls = self.classification(c) if self.class_loss else None
        style = self.style_classification(batch) if self.can else None
        fake_logits = D(self.augment(fake))
        self.augment.observe(real_logits)
        adv = self.loss.d(real_logits, fake_logits)
        loss = adv if own is None else adv + own
        stats: Stats = {"loss/D": adv.detach(), "D/real": real_logits.detach().mean(),
                        "D/fake": fake_logits.detach().mean(), **self.augment.stats(), **own_stats}
        if cls is not None:
            loss = loss + self.class_loss * cls
            stats["loss/D_class"] = cls.detach()
        if style is not None:           # weight 1, as in Elgammal et al.: D's two losses are summed
            loss = loss + style
            stats["loss/D_style"] = style.detach()
        loss = self.penalties.add(loss, stats, "D", lambda x: D(self.augment(x)), real, fake, real_logits,
                                  fake_logits, now)
        self.d_steps += 1
        return loss, stats

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        fake, self._fake = self._fake, None
        c = self.model.condition_of(batch)
        if fake is None:
            fake = self._fake_batch(batch["x"].shape[0], "G", c)
        D = with_class(self.model.D, c)
        fake_logits = D(self.augment(fake))
        cls = self.classification(c) if self.class_loss else None
        ambiguity = self.style_ambiguity() if self.can else None
        real_logits = None
        if self.loss.relativistic:          # only a relativistic loss pays for D's pass over the reals
            with torch.no_grad():           # G's gradient flows through the fakes alone
                real_logits = D(self.augment(batch["x"]))
        loss = self.loss.g_loss(fake_logits, real_logits)
        stats: Stats = {"loss/G": loss.detach()}
        if cls is not None:
            stats["loss/G_class"] = cls.detach()
            loss = loss + self.class_loss * cls
        if ambiguity is not None:
            stats["loss/G_ambiguity"] = ambiguity.detach() - math.log(self.model.d_classes)
            loss = loss + self.can * ambiguity
        return loss, stats

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps, "augment": self.augment.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))
        self.augment.load_state_dict(state.get("augment", {}))


def with_class(D: Callable[..., torch.Tensor], c: torch.Tensor | None) -> Callable[..., torch.Tensor]:
    """D with the class weights `c` bound, so objectives call a conditional D as they call any D."""
    if c is None:
        return D

    def judge(x: torch.Tensor, *args: object) -> torch.Tensor:
        return D(x, *args, c=c)

    return judge
