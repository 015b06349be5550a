"""Read and write image files as numpy arrays, keeping dtype and bit depth.

Formats: PNG (8- and 16-bit), TIFF (any dtype, through tifffile), JPEG, BMP, WebP (8-bit) and
``.npy`` (any real dtype). Writes are atomic: the data goes to a temporary file in the target
directory, which is then renamed into place, so a failure never leaves a partial file and an
existing file is only replaced when asked.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> img = np.arange(0, 65536, 257, dtype=np.uint16).reshape(16, 16)
>>> p = write_image(d / "ramp.png", img)
>>> back = read_image(p)
>>> back.dtype, bool((back == img).all())
(dtype('uint16'), True)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from vqimage._shared.fs import atomic_write, check_regular, open_regular
from vqimage.errors import FormatError

__all__ = [
    "GRAY_FORMULA",
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "encode_image",
    "is_image_path",
    "read_image",
    "to_gray",
    "write_image",
]

_PILLOW_READ = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".webp": "WEBP"}
_TIFF = (".tif", ".tiff")
READ_SUFFIXES: tuple[str, ...] = (*_PILLOW_READ, *_TIFF, ".npy")
"""File name suffixes :func:`read_image` understands (case-insensitive)."""
WRITE_SUFFIXES: tuple[str, ...] = (".png", *_TIFF, ".npy", ".bmp", ".jpg", ".jpeg", ".webp")
"""File name suffixes :func:`write_image` writes."""

GRAY_FORMULA = "ITU-R 601 luma: L = 0.299 R + 0.587 G + 0.114 B (as Pillow's mode 'L')"
"""How :func:`to_gray` turns colour into gray."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has a suffix :func:`read_image` reads.

    >>> is_image_path("scan.TIF"), is_image_path("notes.txt")
    (True, False)
    """
    return Path(path).suffix.lower() in READ_SUFFIXES


# -- reading ------------------------------------------------------------------------------


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file (or ``.npy`` array) into a numpy array with its stored dtype.

    Parameters
    ----------
    path : path-like
        A ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``, ``.bmp``, ``.webp`` or ``.npy``
        file. 16-bit PNG and TIFF give ``uint16``; colour gives shape ``(H, W, 3)`` (or 4 with
        alpha); a palette image is expanded to its colours.

    Returns
    -------
    ndarray

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    vqimage.FormatError
        The file is not a readable image of its kind (corrupt, truncated, unknown suffix).

    Notes
    -----
    16-bit colour PNG needs ``imagecodecs`` (Pillow would silently reduce it to 8 bits).
    """
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(p))
    if not p.exists():
        raise FileNotFoundError(2, "No such file or directory", str(p))
    check_regular(p)  # /dev/zero as .npy would be read until memory runs out; a FIFO blocks
    suffix = p.suffix.lower()
    if suffix not in READ_SUFFIXES:
        raise FormatError(
            f"unknown image type {p.suffix!r}; vqimage reads {', '.join(READ_SUFFIXES)}"
        )
    if suffix == ".npy":
        return _read_npy(p)
    if suffix in _TIFF:
        return _read_tiff(p)
    return _read_pillow(p, _PILLOW_READ[suffix])


def _npy_data_size(f: IO[bytes]) -> int | None:
    """Bytes of array data a ``.npy`` header announces (None when numpy must judge)."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(f)
    else:  # pragma: no cover - version 3 (UTF-8 field names) has no public header reader
        return None
    if dtype.hasobject:
        return None  # refused by allow_pickle=False below
    count = 1
    for n in shape:
        count *= int(n)
    return count * dtype.itemsize


def _read_npy(p: Path) -> np.ndarray:
    try:
        with open_regular(p) as f:
            # np.load allocates what the header claims: compare it with the file first.
            need = _npy_data_size(f)
            have = os.fstat(f.fileno()).st_size - f.tell()
            if need is not None and need > have:
                raise FormatError(
                    f"not a readable .npy array (the header announces {need} bytes of data, "
                    f"the file holds {have})"
                )
            f.seek(0)
            arr = np.load(f, allow_pickle=False)
    except FormatError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise FormatError(f"not a readable .npy array ({_reason(exc)})") from exc
    if not isinstance(arr, np.ndarray):  # pragma: no cover - np.load of .npy gives arrays
        raise FormatError("the .npy file does not hold a single array")
    return arr


def _read_tiff(p: Path) -> np.ndarray:
    import tifffile

    try:
        return np.asarray(tifffile.imread(p))
    except Exception as exc:  # tifffile and its codecs raise many types on corrupt data
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise FormatError(f"not a readable TIFF image ({_reason(exc)})") from exc


def _png_depth(p: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None when it is not a PNG."""
    with open(p, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or not head.startswith(_PNG_MAGIC):
        return None
    return head[24], head[25]


def _read_pillow(p: Path, fmt: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if fmt == "PNG":
        depth = _png_depth(p)
        if depth is not None and depth[0] == 16 and depth[1] in (2, 4, 6):
            return _read_png16_colour(p)
    try:
        with Image.open(p) as im:
            im.load()
            return _pillow_to_array(im)
    except UnidentifiedImageError as exc:
        raise FormatError(f"not a readable {fmt} image (unrecognised content)") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise
        raise FormatError(f"not a readable {fmt} image ({_reason(exc)})") from exc


def _read_png16_colour(p: Path) -> np.ndarray:
    try:
        import imagecodecs
    except ImportError as exc:
        raise FormatError(
            "16-bit colour PNG needs imagecodecs to be read without losing bits "
            "(pip install imagecodecs), or convert it to TIFF"
        ) from exc
    try:
        return np.asarray(imagecodecs.png_decode(p.read_bytes()))
    except Exception as exc:
        raise FormatError(f"not a readable PNG image ({_reason(exc)})") from exc


def _pillow_to_array(im: Any) -> np.ndarray:
    mode = im.mode
    if mode == "P" or mode == "PA":
        im = im.convert("RGBA" if (mode == "PA" or "transparency" in im.info) else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        im = im.convert("RGB")
    elif mode == "La":
        im = im.convert("LA")
    elif mode in ("RGBa", "RGBX"):
        im = im.convert("RGBA" if mode == "RGBa" else "RGB")
    arr = np.asarray(im)
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if im.mode == "I" and im.format == "PNG" and arr.size and arr.min() >= 0 and arr.max() < 65536:
        # Older Pillow versions open 16-bit gray PNG as 32-bit mode "I".
        arr = arr.astype(np.uint16)
    return np.array(arr)  # a writable array that owns its data


# -- colour -------------------------------------------------------------------------------


def to_gray(image: np.ndarray) -> np.ndarray:
    """Colour ``(H, W, 3 or 4)`` to gray ``(H, W)`` in the same dtype (ITU-R 601 luma).

    ``L = 0.299 R + 0.587 G + 0.114 B``, rounded for integer dtypes (the formula of Pillow's
    ``convert("L")``); alpha is dropped. An image whose channels are all equal gives that
    channel exactly. Gray input is returned unchanged; ``(H, W, 2)`` (gray + alpha) gives
    its first channel.

    Examples
    --------
    >>> import numpy as np
    >>> to_gray(np.array([[[255, 0, 0], [10, 10, 10]]], dtype=np.uint8))
    array([[76, 10]], dtype=uint8)
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] not in (2, 3, 4):
        return img
    if img.shape[-1] == 2:
        return np.ascontiguousarray(img[..., 0])
    rgb = img[..., :3]
    first = rgb[..., 0]
    if (rgb[..., 1] == first).all() and (rgb[..., 2] == first).all():
        return np.ascontiguousarray(first)
    if img.dtype.kind in "ui" and img.dtype.itemsize <= 2:
        # Pillow's fixed-point weights (0.299, 0.587, 0.114 in 1/65536), so 8-bit results
        # equal Image.convert("L") exactly.
        wide = rgb.astype(np.int64)
        luma = (wide[..., 0] * 19595 + wide[..., 1] * 38470 + wide[..., 2] * 7471 + 32768) >> 16
        return luma.astype(img.dtype)
    luma = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if img.dtype.kind in "ui":
        info = np.iinfo(img.dtype)
        return np.clip(np.rint(luma), info.min, info.max).astype(img.dtype)
    return luma.astype(img.dtype)


# -- writing ------------------------------------------------------------------------------


def _refuse(arr: np.ndarray, fmt: str, what: str) -> FormatError:
    return FormatError(
        f"{fmt} cannot hold {what} (dtype {arr.dtype}, shape {arr.shape}); "
        "write a .tif or .npy file instead"
    )


def _channels(arr: np.ndarray) -> int | None:
    if arr.ndim == 2:
        return 1
    if arr.ndim == 3 and arr.shape[-1] in (1, 2, 3, 4):
        return arr.shape[-1]
    return None


def write_image(
    path: str | os.PathLike[str], image: Any, *, overwrite: bool = False
) -> Path:
    """Write an array as an image file chosen by the suffix of ``path``, keeping its dtype.

    Parameters
    ----------
    path : path-like
        ``.png`` (uint8; uint16 gray, and uint16 colour with imagecodecs), ``.tif``/``.tiff``
        (any real dtype and shape, zlib-compressed), ``.npy`` (any array), or ``.bmp``,
        ``.jpg``/``.jpeg``, ``.webp`` (uint8 only; JPEG and WebP are lossy).
    image : array_like
        ``(H, W)`` gray or ``(H, W, C)`` with 1 to 4 channels (any shape for TIFF and npy).
    overwrite : bool
        Replace an existing file; otherwise ``FileExistsError``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    vqimage.FormatError
        The format cannot hold this dtype or shape without changing the data (for example
        float into PNG); the message names the formats that can.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_image(d / "x.png", np.zeros((4, 4), np.float32))
    Traceback (most recent call last):
    ...
    vqimage.errors.FormatError: PNG cannot hold floating-point values ... write a .tif or .npy ...
    """
    p = Path(path)
    return atomic_write(p, _writer(image, p.suffix), overwrite=overwrite)


def encode_image(image: Any, suffix: str) -> bytes:
    """The bytes :func:`write_image` would write to a file with ``suffix`` (e.g. ``".png"``).

    >>> import numpy as np
    >>> encode_image(np.zeros((2, 2), np.uint8), ".png")[:4]
    b'\\x89PNG'
    """
    import io

    buf = io.BytesIO()
    _writer(image, suffix)(buf)
    return buf.getvalue()


def _writer(image: Any, suffix_: str) -> Callable[[IO[bytes]], Any]:
    """Check that the format of ``suffix_`` holds ``image`` exactly; return its writer."""
    arr = np.asarray(image)
    suffix = suffix_.lower()
    if suffix not in WRITE_SUFFIXES:
        raise FormatError(
            f"cannot write {suffix_ or 'a file without suffix'!r}; "
            f"choose one of {', '.join(WRITE_SUFFIXES)}"
        )
    if suffix == ".npy":
        return lambda f: np.save(f, arr, allow_pickle=False)
    if arr.dtype.kind not in "uifb":
        raise TypeError(f"image has dtype {arr.dtype}, expected a real dtype")
    if suffix in _TIFF:
        return lambda f: _write_tiff(f, arr)
    fmt = {".png": "PNG", ".bmp": "BMP", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}[suffix]
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * np.uint8(255)
    ch = _channels(arr)
    if arr.dtype.kind == "f":
        raise _refuse(arr, fmt, "floating-point values")
    if ch is None:
        raise _refuse(arr, fmt, "an array of this shape")
    if ch == 1 and arr.ndim == 3:
        arr = arr[..., 0]
    if arr.dtype == np.uint16 and fmt == "PNG":
        if ch > 1:
            return lambda f: f.write(_png16_colour(arr))
        return lambda f: _write_pillow(f, arr, fmt, "I;16")
    if arr.dtype != np.uint8:
        what = "16-bit values" if arr.dtype == np.uint16 else f"{arr.dtype} values"
        if fmt == "PNG":
            raise _refuse(arr, fmt, what)
        raise FormatError(
            f"{fmt} holds 8-bit images only (dtype {arr.dtype}); "
            "write a .png (16-bit), .tif or .npy file instead"
        )
    if fmt == "JPEG" and ch in (2, 4):
        raise FormatError("JPEG cannot hold an alpha channel; write a .png or .tif file instead")
    if fmt == "BMP" and ch == 2:
        raise FormatError("BMP cannot hold gray + alpha; write a .png or .tif file instead")
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[ch]
    return lambda f: _write_pillow(f, arr, fmt, mode)


def _write_pillow(f: IO[bytes], arr: np.ndarray, fmt: str, mode: str) -> None:
    from PIL import Image

    dtype = "<u2" if mode == "I;16" else arr.dtype
    im = Image.fromarray(np.ascontiguousarray(arr, dtype=dtype))
    kwargs: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = 95
    im.save(f, format=fmt, **kwargs)


def _png16_colour(arr: np.ndarray) -> bytes:
    try:
        import imagecodecs
    except ImportError as exc:
        raise FormatError(
            "writing 16-bit colour PNG needs imagecodecs (pip install imagecodecs); "
            "write a .tif or .npy file instead"
        ) from exc
    return bytes(imagecodecs.png_encode(np.ascontiguousarray(arr)))


def _write_tiff(f: IO[bytes], arr: np.ndarray) -> None:
    import tifffile

    ch = _channels(arr)
    photometric = "rgb" if ch in (3, 4) and arr.ndim == 3 else "minisblack"
    extra = {"extrasamples": ["unassalpha"]} if photometric == "rgb" and ch == 4 else {}
    tifffile.imwrite(f, arr, photometric=photometric, compression="zlib", **extra)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
