"""Read and write image files as numpy arrays, keeping dtype and bit depth.

Formats: PNG (8- and 16-bit), TIFF (any dtype, through tifffile), JPEG, BMP, WebP (8-bit) and
``.npy`` (any real dtype). Writes are atomic: the data goes to a temporary file in the target
directory, which is then renamed into place, so a failure never leaves a partial file and an
existing file is only replaced when asked.

Standard files of quantized images: :func:`encode_indexed_png` (an indexed PNG of codes and
a palette, smallest bit depth, deflate optimized by oxipng when ``pyoxipng`` is installed),
:func:`encode_png` (any image: indexed when it has at most 256 colours) and
:func:`encode_webp_lossless`; :meth:`vqimage.CompressedImage.to_png` and ``to_webp`` use them.

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
from vqimage._shared.optional import require
from vqimage.errors import FormatError

__all__ = [
    "GRAY_FORMULA",
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "encode_image",
    "encode_indexed_png",
    "encode_png",
    "encode_webp_lossless",
    "is_image_path",
    "optimize_png",
    "png_optimizer",
    "read_image",
    "read_image_bytes",
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


_MAGIC = (
    (_PNG_MAGIC, ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
    (b"II+\x00", ".tif"),
    (b"MM\x00+", ".tif"),
    (b"BM", ".bmp"),
    (b"\x93NUMPY", ".npy"),
)


def sniff_suffix(data: bytes) -> str | None:
    """The file suffix of image bytes from their signature, or None when unknown.

    >>> import numpy as np
    >>> sniff_suffix(encode_image(np.zeros((1, 1), np.uint8), ".png")), sniff_suffix(b"GIF89a")
    ('.png', None)
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    for magic, suffix in _MAGIC:
        if data.startswith(magic):
            return suffix
    return None


def read_image_bytes(data: bytes) -> np.ndarray:
    """Read an image from its bytes (read from a pipe, say), the format sniffed from them.

    Same formats and results as :func:`read_image`.

    >>> import numpy as np
    >>> img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    >>> np.array_equal(read_image_bytes(encode_image(img, ".png")), img)
    True
    """
    import tempfile

    suffix = sniff_suffix(bytes(data[:16]))
    if suffix is None:
        raise FormatError(
            "not a known image format (expected PNG, JPEG, TIFF, BMP, WebP or .npy data)"
        )
    # read_image's readers (tifffile, imagecodecs, Pillow's 16-bit paths) work on files:
    # one temporary file keeps a single code path for every format.
    with tempfile.TemporaryDirectory(prefix="vqimage-") as tmp:
        path = Path(tmp) / f"stdin{suffix}"
        path.write_bytes(data)
        return read_image(path)


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
    tifffile = require("tifffile", "reading and writing TIFF")

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
    require("PIL", "reading PNG, JPEG, BMP and WebP")
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
    require("PIL", "writing PNG, JPEG, BMP and WebP")
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
    tifffile = require("tifffile", "reading and writing TIFF")

    ch = _channels(arr)
    photometric = "rgb" if ch in (3, 4) and arr.ndim == 3 else "minisblack"
    extra = {"extrasamples": ["unassalpha"]} if photometric == "rgb" and ch == 4 else {}
    tifffile.imwrite(f, arr, photometric=photometric, compression="zlib", **extra)


# -- standard files of quantized images ------------------------------------------------------

PNG_LEVEL = 4
"""Default oxipng preset: on the sample photographs it gives the same bytes as the slowest
preset 6 (within 0.1 %) at about two thirds of its time; preset 2 is 1-10 % larger."""


def png_optimizer() -> str:
    """``"oxipng"`` when ``pyoxipng`` is importable (``pip install 'vqimage[png]'``), else
    ``"pillow"`` (Pillow's ``optimize=True``, zlib at its best setting)."""
    try:
        import oxipng  # noqa: F401
    except ImportError:
        return "pillow"
    return "oxipng"


def optimize_png(data: bytes, *, level: int = PNG_LEVEL, keep_palette: bool = False) -> bytes:
    """Recompress a PNG losslessly with oxipng; unchanged when ``pyoxipng`` is missing.

    Parameters
    ----------
    data : bytes
        A PNG file.
    level : int
        oxipng preset, 0 (fast) to 6 (slowest, smallest).
    keep_palette : bool
        Keep the palette and its order as they are (oxipng otherwise drops unused entries
        and reorders the palette for deflate). The colour type is always kept.

    Returns
    -------
    bytes
        The smaller of ``data`` and oxipng's result; both decode to the same pixels.
    """
    try:
        import oxipng
    except ImportError:
        return data
    # The colour type stays: an indexed PNG stays indexed (tools that want a palette get one),
    # a truecolour one truecolour.
    kw: dict[str, Any] = {"level": int(level), "strip": oxipng.StripChunks.safe(),
                          "color_type_reduction": False, "grayscale_reduction": False}
    if keep_palette:
        kw.update(palette_reduction=False, bit_depth_reduction=False)
    out = bytes(oxipng.optimize_from_memory(data, **kw))
    return out if len(out) < len(data) else data


def encode_indexed_png(
    codes: Any, palette: Any, *, level: int = PNG_LEVEL, keep_palette: bool = False
) -> bytes:
    """An indexed (palette) PNG of ``codes``: the smallest file vqimage can make of them.

    Parameters
    ----------
    codes : array_like of shape (height, width)
        Integer indices into ``palette``.
    palette : array_like of shape (n,), (n, 1), (n, 3) or (n, 4)
        Up to 256 uint8 colours: gray (expanded to RGB), RGB, or RGBA (alpha goes to the
        PNG's tRNS chunk).
    level : int
        oxipng preset (:func:`optimize_png`), when ``pyoxipng`` is installed.
    keep_palette : bool
        Write the palette whole and in order, unused colours included (shared palettes: every
        file of a set then carries the same PLTE). By default unused colours are dropped.

    Returns
    -------
    bytes

    Notes
    -----
    The bit depth is the smallest of 1, 2, 4 and 8 that indexes the palette (at most 2, 4, 16,
    256 colours). Deflate: Pillow's ``optimize=True``, then oxipng (which also reorders the
    palette for deflate and picks row filters; the file stays indexed). Lossless: the file
    decodes to exactly ``palette[codes]``.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from PIL import Image
    >>> codes = np.array([[0, 1, 2, 3]] * 4, dtype=np.uint8)
    >>> pal = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    >>> data = encode_indexed_png(codes, pal)
    >>> im = Image.open(io.BytesIO(data))
    >>> im.mode, data[24]  # palette mode; bit depth (IHDR) 2 for 4 colours
    ('P', 2)
    >>> np.array_equal(np.asarray(im.convert("RGB")), pal[codes])
    True
    """
    import io

    from PIL import Image

    c = np.asarray(codes)
    pal = np.asarray(palette)
    if c.ndim != 2 or c.dtype.kind not in "ui":
        raise ValueError(f"codes must be a (height, width) integer array, got {c.dtype} "
                         f"{c.shape}")
    if pal.ndim == 1:
        pal = pal[:, None]
    if pal.ndim != 2 or pal.shape[1] not in (1, 3, 4) or pal.dtype != np.uint8:
        raise ValueError(f"palette must be (n, 1|3|4) uint8 colours, got {pal.dtype} {pal.shape}")
    if not 1 <= pal.shape[0] <= 256:
        raise ValueError(f"an indexed PNG holds 1 to 256 colours, got {pal.shape[0]}")
    if c.size and (int(c.min()) < 0 or int(c.max()) >= pal.shape[0]):
        raise ValueError(f"codes must be in [0, {pal.shape[0] - 1}]")
    if pal.shape[1] == 1:
        pal = np.repeat(pal, 3, axis=1)
    if not keep_palette:
        # Unused colours cost PLTE bytes and can force a deeper bit depth.
        used = np.flatnonzero(np.bincount(c.ravel(), minlength=pal.shape[0]))
        remap = np.zeros(pal.shape[0], dtype=np.uint8)
        remap[used] = np.arange(used.size)
        c, pal = remap[c], pal[used]
    im = Image.fromarray(np.ascontiguousarray(c, dtype=np.uint8), mode="P")
    im.putpalette(np.ascontiguousarray(pal).tobytes(),
                  rawmode="RGBA" if pal.shape[1] == 4 else "RGB")
    buf = io.BytesIO()
    # optimize=True makes Pillow pick the bit depth from the palette size (1/2/4/8).
    im.save(buf, format="PNG", optimize=True)
    return optimize_png(buf.getvalue(), level=level, keep_palette=keep_palette)


def encode_png(image: Any, *, level: int = PNG_LEVEL) -> bytes:
    """A PNG of an image, indexed when it is 8-bit with at most 256 distinct colours.

    Images with more colours (or 16 bits) go to a truecolour or gray PNG (:func:`encode_image`),
    optimized as :func:`optimize_png`. Lossless either way.

    >>> import numpy as np
    >>> img = np.zeros((8, 8, 3), np.uint8); img[:4] = [200, 10, 10]
    >>> data = encode_png(img)
    >>> data[:4], np.array_equal(read_image_bytes(data), img)
    (b'\\x89PNG', True)
    """
    arr = np.asarray(image)
    ch = _channels(arr)
    if arr.dtype == np.uint8 and ch in (1, 3, 4):
        flat = arr.reshape(-1, ch) if arr.ndim == 3 else arr.reshape(-1, 1)
        # Packing a colour into one integer makes np.unique a 1-D sort.
        key = np.zeros(flat.shape[0], dtype=np.uint32)
        for i in range(flat.shape[1]):
            key = (key << np.uint32(8)) | flat[:, i].astype(np.uint32)
        uniq, inverse = np.unique(key, return_inverse=True)
        if uniq.size <= 256:
            first = np.zeros(uniq.size, dtype=np.int64)
            first[inverse[::-1]] = np.arange(inverse.size)[::-1]
            return encode_indexed_png(inverse.reshape(arr.shape[:2]), flat[first], level=level)
    return optimize_png(encode_image(arr, ".png"), level=level)


def encode_webp_lossless(image: Any) -> bytes:
    """A lossless WebP of an 8-bit gray, RGB or RGBA image (Pillow: ``lossless=True,
    quality=100, method=6``, its slowest and smallest).

    >>> import numpy as np
    >>> img = np.zeros((8, 8, 3), np.uint8); img[2:5] = [0, 120, 250]
    >>> np.array_equal(read_image_bytes(encode_webp_lossless(img)), img)
    True
    """
    import io

    from PIL import Image

    arr = np.asarray(image)
    ch = _channels(arr)
    if arr.dtype != np.uint8 or ch not in (1, 3, 4):
        raise FormatError(
            f"WebP holds 8-bit gray, RGB or RGBA images, not {arr.dtype} with shape "
            f"{'x'.join(map(str, arr.shape))}; write a .png, .tif or .vqi file instead"
        )
    if arr.ndim == 3 and ch == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        # WebP has no gray mode: RGB with equal channels, which decodes back to equal channels.
        arr = np.repeat(arr[..., None], 3, axis=2)
    im = Image.fromarray(np.ascontiguousarray(arr), mode="RGBA" if ch == 4 else "RGB")
    buf = io.BytesIO()
    im.save(buf, format="WEBP", lossless=True, quality=100, method=6, exact=True)
    return buf.getvalue()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
