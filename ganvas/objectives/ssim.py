"""SSIM (Wang, Bovik, Sheikh and Simoncelli 2004), differentiable, for losses and for evaluation alike.

11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03. It lives here, below the models, so that a
training objective (FastGAN's reconstruction loss) and the evaluation of translation models
(`ganvas.eval.translation`, which calls it in float64 on uint8 images) share one definition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5            # 11 taps: the paper's window, and scikit-image's for σ = 1.5 (truncate 3.5)
K1, K2 = 0.01, 0.03


def gaussian_window(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS,
                    dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The normalised 1-D Gaussian of SSIM's separable window."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return (w / w.sum()).to(dtype)


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, sigma: float = SSIM_SIGMA,
         radius: int = SSIM_RADIUS) -> torch.Tensor:
    """Mean structural similarity of each image pair in N×C×H×W batches `x`, `y` (one value per image).

    Computed in the inputs' dtype, so gradients flow to both (a float32 training loss stays cheap;
    evaluation passes float64). Local means, variances and covariance are Gaussian-weighted averages
    over each window that lies wholly inside the image (no padding), averaged over positions and
    channels, as in Wang et al. and scikit-image's
    ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)``.
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim needs two N×C×H×W batches of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    side = 2 * radius + 1
    if min(x.shape[2:]) < side:
        raise ValueError(f"ssim's {side}×{side} window needs images of at least {side} px, got {tuple(x.shape[2:])}")
    c = x.shape[1]
    w = gaussian_window(sigma, radius, x.dtype).to(x.device)
    wh, wv = w.view(1, 1, 1, -1).repeat(c, 1, 1, 1), w.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, wh, groups=c), wv, groups=c)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3))
