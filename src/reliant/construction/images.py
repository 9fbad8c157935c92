"""Reading image files: decode, convert to RGB, resize; a file that will not decode is reported, not fatal.

One bad image among thousands is what a real collection looks like, so :func:`load_images`
returns the decoded images, which rows decoded, and one problem record per file that did
not (``{"path", "reason"}``); the workflows write those to ``unreadable.jsonl`` and stop
with a one-line error only when *no* image decodes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from reliant.core.progress import track

__all__ = ["IMAGE_SUFFIXES", "file_sha256", "is_image_name", "load_images", "read_image"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
MAX_PIXELS = 50_000_000  # refuse decompression bombs well before PIL's own (warning-only) limit


def is_image_name(path: str | Path) -> bool:
    return Path(str(path)).suffix.lower() in IMAGE_SUFFIXES


class UnreadableImage(Exception):
    """A file that is not a decodable image (the reason is the message)."""


def read_image(source: str | Path | bytes, size: int) -> np.ndarray:
    """Decode one image (a path or the file's bytes) to ``uint8 (size, size, 3)``."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    except OSError as exc:
        raise UnreadableImage(f"cannot open ({exc.strerror or exc})") from None
    try:
        with handle, Image.open(handle) as image:
            if image.width * image.height > MAX_PIXELS:
                raise UnreadableImage(f"too large ({image.width}x{image.height} pixels)")
            image.load()  # decode now: a truncated file fails here, not later
            rgb = image.convert("RGB")
            if rgb.size != (size, size):
                rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except UnidentifiedImageError:
        raise UnreadableImage("not an image PIL can read") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"corrupt image ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") \
            from None


def load_images(paths: list[str], size: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, str]]]:
    """``(images of the readable rows, boolean mask over paths, problems)``."""
    images, ok, problems = [], np.zeros(len(paths), dtype=bool), []
    for i, path in enumerate(track(paths, "decoding images")):
        try:
            images.append(read_image(path, size))
            ok[i] = True
        except UnreadableImage as exc:
            problems.append({"path": str(path), "reason": str(exc)})
    stacked = np.stack(images) if images else np.zeros((0, size, size, 3), dtype=np.uint8)
    return stacked, ok, problems


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
