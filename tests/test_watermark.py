"""The invisible watermark: round trips at the sizes ganvas makes, the attacks it must survive (counted over
several pictures and payloads, with margins), silence on unmarked pictures and under another key."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from ganvas.errors import GanvasError
from ganvas.publish.watermark import detect, embed


def picture(seed: int, side: int = 64, channels: int = 3) -> np.ndarray:
    """A smooth picture with edges and a white margin, like the emoji and icons ganvas learns from."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] / side
    img = np.full((side, side, 3), 255.0)
    body = (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.16
    colour = rng.uniform(40, 220, 3)
    img[body] = colour + 40 * np.sin(7 * x + rng.uniform(0, 6))[body, None] + 20 * (y[body, None] - 0.5)
    img = np.clip(img + rng.normal(0, 3, img.shape), 0, 255).astype(np.uint8)
    if channels == 1:
        return img[..., :1]
    if channels == 4:
        return np.concatenate([img, np.where(body, 255, 0).astype(np.uint8)[..., None]], axis=2)
    return img


def jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def webp(a: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "WEBP", quality=90)
    return np.asarray(Image.open(buf).convert("RGB"))


def resize(a: np.ndarray, f: float) -> np.ndarray:
    h, w = a.shape[:2]
    return np.asarray(Image.fromarray(a).resize((round(w * f), round(h * f)), Image.Resampling.BICUBIC))


ATTACKS = {
    "png": lambda a: a,
    "webp q90": webp,
    "jpeg 90": lambda a: jpeg(a, 90),
    "jpeg 75": lambda a: jpeg(a, 75),
    "resize 0.5": lambda a: resize(a, 0.5),
    "resize 0.75": lambda a: resize(a, 0.75),
    "resize 1.5": lambda a: resize(a, 1.5),
    "resize 2": lambda a: resize(a, 2),
    "saturation 1.2": lambda a: np.asarray(ImageEnhance.Color(Image.fromarray(a)).enhance(1.2)),
    "gamma 0.9": lambda a: (255 * (a / 255.0) ** 0.9).round().astype(np.uint8),
    "contrast 1.1": lambda a: np.asarray(ImageEnhance.Contrast(Image.fromarray(a)).enhance(1.1)),
}
# the share of 20 pictures (32–128 px) read right, two pictures below what was measured here (a margin for
# other machines' rounding): png 1.0, webp 0.95, jpeg 90 0.9, jpeg 75 0.75, resize 0.5 0.8, 0.75 0.9,
# 1.5 and 2 1.0, saturation 1.0, gamma 0.95, contrast 1.0
FLOOR = {"png": 0.9, "webp q90": 0.85, "jpeg 90": 0.8, "jpeg 75": 0.65, "resize 0.5": 0.7, "resize 0.75": 0.8,
         "resize 1.5": 0.9, "resize 2": 0.9, "saturation 1.2": 0.9, "gamma 0.9": 0.85, "contrast 1.1": 0.9}


@pytest.fixture(scope="module")
def marked() -> list[tuple[np.ndarray, int]]:
    rng = np.random.default_rng(7)
    return [(embed(picture(i, side), p), p) for i, side in enumerate([64] * 12 + [32] * 4 + [128] * 4)
            for p in [int(rng.integers(0, 2**32))]]


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_the_payload_survives(attack: str, marked) -> None:
    read = [detect(ATTACKS[attack](m)) for m, _ in marked]
    rate = np.mean([d.found and d.payload == p for d, (_, p) in zip(read, marked, strict=True)])
    assert rate >= FLOOR[attack], f"{attack}: {rate:.2f}"
    assert not any(d.found and d.payload != p for d, (_, p) in zip(read, marked, strict=True))   # never wrong


@pytest.mark.parametrize("side, channels", [(32, 3), (64, 1), (64, 4), (128, 3), (48, 3), (200, 3)])
def test_round_trip_at_every_size_and_channel_count(side: int, channels: int) -> None:
    img = picture(side + channels, side, channels)
    out = embed(img, 0xDEADBEEF)
    assert out.shape == img.shape and out.dtype == np.uint8
    if channels == 4:
        assert np.array_equal(out[..., 3], img[..., 3])                 # alpha untouched
    d = detect(out)
    assert d.found and d.payload == 0xDEADBEEF and d.score > 0.75
    mse = ((out.astype(float) - img) ** 2).mean()
    assert 10 * np.log10(255**2 / mse) > 34                              # invisible (bench: median ~38 dB)
    assert np.array_equal(embed(img, 0xDEADBEEF), out)                  # deterministic


def test_unmarked_pictures_and_other_keys_find_nothing(marked) -> None:
    rng = np.random.default_rng(3)
    unmarked = [picture(100 + i) for i in range(150)]
    unmarked += [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(50)]
    assert sum(detect(a).found for a in unmarked) == 0
    assert sum(detect(m, key=b"someone else").found for m, _ in marked) == 0


def test_cropping_loses_it_honestly(marked) -> None:
    """Documented weakness: a crop moves the grid, and nothing (not a wrong payload) is found."""
    found = [detect(m[6:-6, 6:-6]) for m, _ in marked[:6]]
    assert not any(d.found and d.payload != p for d, (_, p) in zip(found, marked[:6], strict=True))


@pytest.mark.parametrize("image, payload, needle", [
    (np.zeros((64, 64, 3), np.float32), 1, "uint8"),
    (np.zeros((64, 64, 2), np.uint8), 1, "H×W"),
    (np.zeros((8, 64, 3), np.uint8), 1, "too small"),
    (np.zeros((64, 64, 3), np.uint8), 2**32, "payload"),
])
def test_bad_input_is_one_line(image, payload, needle) -> None:
    with pytest.raises(GanvasError, match=needle) as err:
        embed(image, payload)
    assert "\n" not in str(err.value)
