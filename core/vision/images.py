"""Reading photos and normalising frames to RGB uint8, with clear errors for bad files."""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.base.errors import ImageError

# Refuse decompression bombs: a kiosk photo never needs more than 50 megapixels.
MAX_PIXELS = 50_000_000
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
DEFAULT_CROP_SIZE = 160  # pixels: the square face crop the FaceNet embedders were trained on


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_suffixes_text() -> str:
    """The photo suffixes as a user reads them: "bmp, gif, jpeg, …"."""
    return ", ".join(sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES))


def photo_file_filter() -> str:
    """A file dialog's filter for every photo Rollcall reads."""
    return f"Images ({' '.join(f'*{suffix}' for suffix in sorted(IMAGE_SUFFIXES))})"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        scale = 255.0 / (65535.0 if top > 255 else max(top, 255.0))
        return np.repeat((arr * scale).clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / ((hi - lo) or 1.0) * 255.0
        return np.repeat(arr.astype(np.uint8)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_image(source: Path | str | bytes) -> np.ndarray:
    """Read a photo file (or its bytes) as an RGB uint8 array, upright per its EXIF orientation.

    Raises ImageError with a message that names the file for anything unreadable.
    """
    label = "image data" if isinstance(source, bytes) else str(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = MAX_PIXELS
            try:
                handle = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
                with handle, Image.open(handle) as img:
                    if img.width * img.height > MAX_PIXELS:
                        raise ImageError(
                            f"{label}: {img.width}x{img.height} is too large "
                            f"(limit {MAX_PIXELS // 1_000_000} megapixels). Resize it and try again."
                        )
                    img.load()
                    return _pil_to_rgb(ImageOps.exif_transpose(img))
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: file not found.") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder, not an image file.") from None
    except PermissionError:
        raise ImageError(f"{label}: permission denied. Check the file's access rights.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{label}: the image is too large (over {MAX_PIXELS // 1_000_000} megapixels); "
            "it may be a decompression bomb. Resize it and try again."
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not an image file (or a format Rollcall cannot read).") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label}: the image is damaged or truncated ({exc}).") from None


def to_rgb(frame: np.ndarray, order: str = "bgr") -> np.ndarray:
    """Normalise a frame to HxWx3 RGB uint8. `order` is the channel order of colour input."""
    if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0:
        raise ImageError("Empty frame: the camera or file gave no picture.")
    if frame.dtype != np.uint8:
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        else:
            frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2RGB)
    if frame.ndim == 3 and frame.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB if order == "bgr" else cv2.COLOR_RGBA2RGB
        return cv2.cvtColor(frame, code)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if order == "bgr" else np.ascontiguousarray(frame)
    raise ImageError(f"Unsupported frame shape {frame.shape}.")


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError("Could not encode the face crop as JPEG.")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """Decode stored crop bytes to RGB uint8."""
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if arr is None:
        raise ImageError("A stored face crop is damaged and cannot be decoded.")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of a face crop: low means blurred."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())
