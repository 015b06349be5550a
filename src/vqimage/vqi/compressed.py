"""`compress` / `load`: the short path from an image to a ``.vqi`` file and back.

A :class:`CompressedImage` holds a quantizer and its codes in coded form (the codec payload):
with the ``packed`` codec that is the in-memory representation the seed example was missing,
``ceil(log2 n_levels)`` bits per pixel.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from vqimage import io as vio
from vqimage._shared.arrays import adapter_for
from vqimage._shared.fs import atomic_write, open_regular
from vqimage._shared.reprs import fields_repr
from vqimage._shared.validation import check_choice, check_data
from vqimage.codecs import CODEC_CHOICES, encode_best, get_codec
from vqimage.core.protocol import QuantizerProtocol
from vqimage.core.quantizer import fit
from vqimage.errors import FormatError
from vqimage.io import encode_webp_lossless
from vqimage.vq.dither import dither as dither_codes
from vqimage.vqi import format as _format
from vqimage.vqi.chunked import MAGIC as CHUNKED_MAGIC
from vqimage.vqi.chunked import open_chunked

__all__ = ["CompressedImage", "compress", "load"]


def _crop(out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if out.shape == shape:
        return out
    return out[tuple(slice(0, s) for s in shape)]


class CompressedImage:
    """A quantized image held as its quantizer plus coded codes.

    Build one with :func:`compress` or :func:`load`.

    Attributes
    ----------
    shape : tuple of int
        Shape of the image.
    dtype : numpy.dtype
        dtype of :meth:`decompress`'s result (the quantizer's).
    quantizer
        The quantizer (scalar, palette or blocks) that maps codes to values.
    codec : str
        ``"packed"``, ``"lzma"`` or ``"context"``.
    code_shape : tuple of int
        Shape of :attr:`codes`.

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> img = np.arange(64, dtype=np.uint8).reshape(8, 8)
    >>> c = vqimage.compress(img, 4, codec="packed")
    >>> c.codes.dtype, c.codes.shape, len(c.payload)
    (dtype('uint8'), (8, 8), 16)
    >>> np.array_equal(vqimage.load(c.tobytes()).decompress(), c.decompress())
    True
    """

    __slots__ = ("_header", "code_shape", "codec", "payload", "quantizer", "shape")

    def __init__(
        self,
        quantizer: QuantizerProtocol,
        shape: tuple[int, ...],
        codec: str,
        payload: bytes,
        *,
        code_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.quantizer = quantizer
        self.shape = tuple(int(s) for s in shape)
        self.codec = get_codec(codec).name
        self.payload = bytes(payload)
        cs = quantizer.code_shape(self.shape) if code_shape is None else code_shape
        self.code_shape = tuple(int(s) for s in cs)
        self._header: bytes | None = None

    def __repr__(self) -> str:
        return fields_repr("CompressedImage", shape=self.shape, dtype=self.dtype,
                           n_levels=self.quantizer.n_levels, codec=self.codec, nbytes=self.nbytes)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.quantizer.dtype)

    @property
    def header(self) -> bytes:
        """The file's bytes before the payload (fixed header, shapes, quantizer JSON)."""
        if self._header is None:
            self._header = _format.header_bytes(
                self.quantizer, self.shape, self.code_shape, self.codec, len(self.payload)
            )
        return self._header

    @property
    def codes(self) -> np.ndarray:
        """The codes, decoded from the payload on every access (not cached).

        Raises :class:`~vqimage.errors.FormatError` if a loaded payload is corrupt.
        """
        return get_codec(self.codec).decode(self.payload, self.code_shape, self.quantizer.n_levels)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory: payload + codebook (float64) + header.

        For the ``packed`` codec this is the honest version of the seed's memory comparison.
        """
        return len(self.payload) + int(np.asarray(self.quantizer.codebook).nbytes) + len(
            self.header
        )

    def decompress(self) -> np.ndarray:
        """The quantized image: exactly ``quantizer.quantize(image)``."""
        return _crop(self.quantizer.decode(self.codes), self.shape)

    def tobytes(self) -> bytes:
        """The ``.vqi`` file's bytes; ``len(c.tobytes())`` is the file size."""
        return _format.assemble(self.header, self.payload)

    def to_png(self, *, level: int | None = None, keep_palette: bool = False) -> bytes:
        """The quantized image as a standard PNG file's bytes (lossless).

        Palette and scalar quantizers of at most 256 8-bit levels give an indexed PNG of the
        codes with the quantizer's colours (gray levels for scalar) as its palette, at the
        smallest bit depth (1, 2, 4 or 8 bits for up to 2, 4, 16, 256 colours); other kinds
        give an indexed PNG when the reconstruction has at most 256 colours, else a
        truecolour or gray one. Deflate is optimized by oxipng when ``pyoxipng`` is installed
        (``pip install 'vqimage[png]'``), else by Pillow (:func:`vqimage.io.encode_indexed_png`).

        Parameters
        ----------
        level : int, optional
            oxipng preset 0-6 (default :data:`vqimage.io.PNG_LEVEL`).
        keep_palette : bool
            Keep every palette colour, in the quantizer's order (files sharing a quantizer then
            carry identical palettes); by default unused colours are dropped and oxipng may
            reorder them.

        Returns
        -------
        bytes
            A PNG that decodes to exactly :meth:`decompress`.

        Examples
        --------
        >>> import io
        >>> import numpy as np
        >>> import vqimage
        >>> from PIL import Image
        >>> rng = np.random.default_rng(0)
        >>> img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        >>> c = vqimage.compress(img, quantizer=vqimage.fit_palette(img, 16))
        >>> im = Image.open(io.BytesIO(c.to_png()))
        >>> im.mode, np.array_equal(np.asarray(im.convert("RGB")), c.decompress())
        ('P', True)
        """
        lv = vio.PNG_LEVEL if level is None else int(level)
        q = self.quantizer
        kind = getattr(q, "kind", "scalar")
        if (kind in ("palette", "scalar") and q.dtype == np.uint8 and q.n_levels <= 256
                and len(self.code_shape) == 2 and self.code_shape == self.shape[:2]):
            palette = q.decode(np.arange(q.n_levels, dtype=np.uint16))
            return vio.encode_indexed_png(self.codes, palette, level=lv,
                                          keep_palette=keep_palette)
        return vio.encode_png(self.decompress(), level=lv)

    def to_webp(self) -> bytes:
        """The quantized image as a lossless WebP file's bytes (8-bit images only).

        Pillow's ``lossless=True, quality=100, method=6``
        (:func:`vqimage.io.encode_webp_lossless`). WebP has no gray mode: gray images are
        stored as RGB with three equal channels.

        >>> import numpy as np
        >>> import vqimage
        >>> from vqimage.io import read_image_bytes
        >>> img = np.arange(256, dtype=np.uint8).reshape(16, 16)
        >>> c = vqimage.compress(img, 4)
        >>> back = read_image_bytes(c.to_webp())
        >>> back.shape, np.array_equal(back[..., 0], c.decompress())
        ((16, 16, 3), True)
        """
        return encode_webp_lossless(self.decompress())

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the ``.vqi`` file to ``path`` atomically.

        The bytes go to a temporary file in the same directory, which is then renamed into
        place: readers never see a partial file, and a failure leaves no file behind.

        Parameters
        ----------
        path : str or path-like
            Destination file (conventionally ``*.vqi``).
        overwrite : bool
            Replace an existing file. Without it an existing ``path`` raises
            ``FileExistsError`` and is left untouched.
        """
        try:
            atomic_write(path, self.tobytes(), overwrite=overwrite)
        except FileExistsError as exc:
            raise FileExistsError(
                exc.errno, f"{exc.filename} exists; pass overwrite=True to replace it", exc.filename
            ) from None


def compress(
    image: Any,
    n_levels: int | None = None,
    *,
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    quantizer: QuantizerProtocol | None = None,
    codec: str = "auto",
    path: Any = None,
    dither: bool = False,
    max_abs_error: float | None = None,
    max_rel_error: float | None = None,
) -> CompressedImage:
    """Quantize ``image`` and code its codes: the in-memory form of a ``.vqi`` file.

    Parameters
    ----------
    image : array_like
        Real array of any shape (gray or colour image, volume, signal), integer or float.
    n_levels : int, optional
        Levels to fit (ignored when ``quantizer`` is given); 8 when no error bound is given.
    strategy, reconstruction : str
        Passed to :func:`vqimage.fit`.
    quantizer : optional
        A fitted quantizer (scalar, palette or blocks) to reuse instead of fitting one.
    codec : {"auto", "packed", "lzma", "context"}
        ``auto`` (default) keeps whichever payload is smallest (see
        :func:`vqimage.codecs.encode_best`); ``packed`` is the fastest.
    path : str or path-like, optional
        For a dask array (required there): write a chunked ``.vqi`` file chunk by chunk and
        return it as a :class:`~vqimage.vqi.chunked.ChunkedImage` (see
        :func:`vqimage.dask.compress`).
    dither : bool
        Encode with Floyd–Steinberg error diffusion (:func:`vqimage.vq.dither.dither`; palette
        and scalar quantizers). Off by default.
    max_abs_error, max_rel_error : float, optional
        Fit the fewest levels keeping every value within this absolute error (or this fraction
        of the data's range) instead of ``n_levels``: see :func:`vqimage.fit`. The bound holds
        for ``decompress()``; ``quantizer.max_error`` is the error reached.

    Returns
    -------
    CompressedImage
        ``decompress()`` returns exactly ``quantizer.quantize(image)``; with ``dither=True``,
        ``quantizer.decode`` of the dithered codes.

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 256, size=(64, 64), dtype=np.uint8)
    >>> c = vqimage.compress(img, 8, codec="packed")
    >>> c.codec, len(c.payload), c.nbytes < img.nbytes
    ('packed', 1536, True)
    >>> np.array_equal(c.decompress(), c.quantizer.quantize(img))
    True
    >>> x = img.astype(np.float32) / 255
    >>> b = vqimage.compress(x, max_abs_error=0.01)
    >>> b.quantizer.n_levels, float(np.abs(b.decompress() - x).max()) <= 0.01
    (43, True)
    """
    bounded = max_abs_error is not None or max_rel_error is not None
    if bounded and (quantizer is not None or n_levels is not None):
        raise ValueError("an error bound chooses the levels: give it without n_levels or "
                         "quantizer")
    if n_levels is None:
        n_levels = 8
    check_choice(codec, "codec", CODEC_CHOICES)
    adapter = adapter_for(image)
    if adapter is not None or path is not None:
        if adapter is None:
            raise TypeError(
                "path= writes a chunked .vqi from a dask array; for an in-memory image use "
                "compress(image).save(path)"
            )
        if path is None:
            raise ValueError("compressing a dask array needs path= (a chunked .vqi is written)")
        if dither:
            raise ValueError("dither=True is not supported for chunked (dask) compression")
        if bounded:
            raise ValueError("error bounds are not supported for chunked (dask) compression")
        return adapter.compress(image, n_levels, strategy=strategy,  # type: ignore[no-any-return]
                                reconstruction=reconstruction, quantizer=quantizer,
                                codec=codec, path=path)
    arr = check_data(image, "image")
    if not 1 <= arr.ndim <= _format.MAX_NDIM:
        raise ValueError(
            f"image must have 1 to {_format.MAX_NDIM} dimensions, got {arr.ndim}"
        )
    if quantizer is None:
        quantizer = fit(arr, None if bounded else n_levels, strategy=strategy,
                        reconstruction=reconstruction, max_abs_error=max_abs_error,
                        max_rel_error=max_rel_error)
    elif not hasattr(quantizer, "encode") or not hasattr(quantizer, "to_dict"):
        raise TypeError(f"quantizer must be a fitted vqimage quantizer, got {type(quantizer)}")
    if dither:
        codes = np.asarray(dither_codes(quantizer, arr))
    else:
        codes = np.asarray(quantizer.encode(arr))
    code_shape = tuple(int(s) for s in quantizer.code_shape(arr.shape))
    if codes.shape != code_shape:
        raise ValueError(f"the quantizer made codes of shape {codes.shape}, expected {code_shape}")
    n = int(quantizer.n_levels)
    if codec == "auto":
        name, payload = encode_best(codes, n)
    else:
        name, payload = codec, get_codec(codec).encode(codes, n)
    return CompressedImage(quantizer, arr.shape, name, payload, code_shape=code_shape)


def _read_vqi_file(path: str) -> bytes | None:
    """The bytes of the single-image ``.vqi`` file at ``path`` (None for a chunked one).

    Only a regular file is opened, and no more is read than its header announces: the fixed
    header first, then, once the announced length matches the file's size, exactly the rest.
    """
    with open_regular(path) as f:
        head = f.read(_format.FIXED_SIZE + 4)
        if head.startswith(CHUNKED_MAGIC):
            return None
        try:
            expected = _format.expected_size(head)
            size = os.fstat(f.fileno()).st_size
            if expected != size:
                what = "truncated" if expected > size else "has trailing bytes"
                raise FormatError(
                    f"not a valid .vqi file: {what}: the header describes {expected} bytes, "
                    f"the file has {size}"
                )
        except FormatError as exc:
            raise FormatError(f"{path}: {exc}") from None
        return head + f.read(expected - len(head))


def load(source: Any) -> CompressedImage:
    """Read a ``.vqi`` file from a path or from bytes.

    The header, checksum and sizes are validated here; the payload is decoded when
    :attr:`CompressedImage.codes` or :meth:`CompressedImage.decompress` is used.

    Parameters
    ----------
    source : str, path-like, bytes, bytearray or memoryview

    Raises
    ------
    FormatError
        If the data is not a valid ``.vqi`` file (wrong magic, unknown version, truncated,
        corrupted, inconsistent sizes).

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> c = vqimage.compress(np.linspace(0, 1, 100, dtype=np.float32), 4)
    >>> d = vqimage.load(c.tobytes())
    >>> d.shape, d.dtype, d.quantizer == c.quantizer
    ((100,), dtype('float32'), True)
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            path = os.fspath(source)
        except TypeError:
            raise TypeError(
                f"load() takes a path or bytes, got {type(source).__name__}"
            ) from None
        data = _read_vqi_file(path)
        if data is None:  # a chunked .vqi (vqimage.chunked): index only, chunks on demand
            return open_chunked(path)  # type: ignore[return-value]
    parsed = _format.read(data)
    return CompressedImage(
        parsed.quantizer, parsed.shape, parsed.codec, parsed.payload,
        code_shape=parsed.code_shape,
    )
