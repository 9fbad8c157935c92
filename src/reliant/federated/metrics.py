"""Reconstruction quality (MSE, PSNR, SSIM) and model accuracy: numbers in, numbers out.

PSNR and SSIM come from scikit-image (``skimage.metrics``), on images in [0, 1] laid out
channels-last; SSIM's window shrinks to the largest odd size the image allows (7 x 7 by
default, so 8 x 8 digits use 7 and nothing smaller than 3).
"""

from __future__ import annotations

import numpy as np

__all__ = ["image_scores", "mse", "psnr", "ssim"]


def _as_images(a, b) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    if x.ndim == 3 and x.shape[0] in (1, 3) and x.shape[-1] not in (1, 3):  # CHW -> HWC
        x, y = x.transpose(1, 2, 0), y.transpose(1, 2, 0)
    if x.ndim == 3 and x.shape[-1] == 1:
        x, y = x[..., 0], y[..., 0]
    return x, y


def mse(reconstruction, original) -> float:
    x, y = _as_images(reconstruction, original)
    return float(np.mean((x - y) ** 2))


def psnr(reconstruction, original, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB (infinite for an exact copy)."""
    from skimage.metrics import peak_signal_noise_ratio  # deliberate: heavy import, only when scoring

    x, y = _as_images(reconstruction, original)
    if np.array_equal(x, y):
        return float("inf")
    return float(peak_signal_noise_ratio(y, np.clip(x, 0.0, data_range), data_range=data_range))


def ssim(reconstruction, original, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004), Gaussian-free 7 x 7 window as scikit-image's default."""
    from skimage.metrics import structural_similarity

    x, y = _as_images(reconstruction, original)
    side = min(x.shape[0], x.shape[1])
    window = min(7, side if side % 2 else side - 1)
    return float(structural_similarity(y, np.clip(x, 0.0, data_range), data_range=data_range, win_size=window,
                                       channel_axis=-1 if x.ndim == 3 else None))


def image_scores(reconstruction, original) -> dict[str, float]:
    """MSE, PSNR and SSIM of one reconstruction against its original (both in [0, 1])."""
    return {"mse": mse(reconstruction, original), "psnr": psnr(reconstruction, original),
            "ssim": ssim(reconstruction, original)}
