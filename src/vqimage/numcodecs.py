"""A numcodecs codec (id ``"vqimage"``) storing arrays as quantized, packed codes; zarr 2 and 3.

:class:`VQImageCodec` is a lossy codec: ``encode`` quantizes a chunk with a fitted quantizer and
stores its codes with one of vqimage's code codecs (``packed``: ``ceil(log2 n_levels)`` bits per
code; ``lzma``, ``context``, ``context2``: entropy coded), and ``decode`` returns the
**reconstruction** (``quantizer.decode(codes)``, in the chunk's dtype and shape), which is what
an array store hands back to readers. The quantizer travels in the codec's configuration (its
``to_dict()``), so a store is self-describing; each encoded chunk carries its shape, dtype and
the code codec.

The codec is registered with numcodecs under ``"vqimage"`` through the ``numcodecs.codecs``
entry point, so ``numcodecs.get_codec({"id": "vqimage", ...})`` finds it without importing
vqimage first. For zarr format 3 it is wrapped as an array-to-bytes codec (a *serializer*) by
:func:`zarr3_codec`, a subclass of zarr's public ``zarr.abc.codec.ArrayBytesCodec``; its zarr
name is ``"numcodecs.vqimage"`` and zarr finds it through the ``zarr.codecs`` entry point. For
zarr format 2 use :class:`VQImageCodec` as the ``compressor``.

Chunk layout (little-endian): ``b"VQIC"``, version ``1`` (u8), the code codec's name (u8 length
+ ASCII), the dtype (u8 length + numpy ``dtype.str``), ``ndim`` (u8) and the shape
(``ndim`` x u64), then the code codec's payload for ``quantizer.code_shape(shape)`` codes.
A codec configured with an error bound instead of a quantizer (``max_abs_error=``,
``max_rel_error=``) fits each chunk on its own and writes version ``2``: the same fields, then
the chunk's quantizer as u32 length + canonical JSON (as in ``.vqi`` files), then the payload.

A reader trusts none of it: the dtype must be one of the real dtypes a ``.vqi`` file holds
(matched as text, never handed to numpy's parser), the shape at most 2**48 elements, and every
problem, including a shape the quantizer cannot decode, is a :class:`vqimage.FormatError`.

Examples
--------
>>> import numpy as np
>>> import vqimage
>>> from vqimage.numcodecs import VQImageCodec
>>> img = np.arange(64, dtype=np.uint8).reshape(8, 8)
>>> codec = VQImageCodec(vqimage.fit(img, 4, strategy="uniform"), codec="packed")
>>> buf = codec.encode(img)
>>> len(buf) < img.nbytes
True
>>> np.array_equal(codec.decode(buf), vqimage.fit(img, 4, strategy="uniform").quantize(img))
True
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray, ndarray_copy

from vqimage._shared.dtypes import parse_dtype
from vqimage.codecs import CODECS, encode_best, get_codec
from vqimage.core.bounds import check_bound
from vqimage.core.protocol import QuantizerProtocol
from vqimage.core.quantizer import fit
from vqimage.errors import FormatError
from vqimage.vqi.format import MAX_ELEMENTS, MAX_NDIM, dumps_quantizer, loads_quantizer

__all__ = ["MAGIC", "VQImageCodec", "register_zarr3", "zarr3_codec"]

MAGIC = b"VQIC"
VERSION = 1
ZARR3_NAME = "numcodecs.vqimage"


def _quantizer_from_dict(d: dict[str, Any]) -> Any:
    """Rebuild any kind of quantizer through the ``.vqi`` format's kind registry."""
    if not isinstance(d, dict):
        raise TypeError(f"quantizer must be a fitted quantizer or its to_dict(), got {d!r}")
    try:
        text = json.dumps({"kind": "scalar", **d}, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise FormatError(f"the quantizer description is not JSON data: {exc}") from None
    return loads_quantizer(text.encode("utf-8"))


class VQImageCodec(Codec):
    """Quantize a chunk and store its codes compactly; decode to the reconstruction.

    Parameters
    ----------
    quantizer : Quantizer or dict
        A fitted quantizer (any kind: scalar, palette, blocks) or its ``to_dict()``. Chunks
        must have its dtype (``quantizer.dtype``).
    codec : str
        How codes are stored: a name of :data:`vqimage.codecs.CODECS` (``"packed"``,
        ``"lzma"``, ``"context"``, ``"context2"``) or ``"auto"`` (the smallest, chosen per
        chunk).
    max_abs_error, max_rel_error : float, optional
        Instead of ``quantizer``: every chunk gets its own quantizer with the fewest levels
        keeping each value within this absolute error (or this fraction of the chunk's range),
        stored in the chunk (:func:`vqimage.fit`), like ZFP's or SZ's error-bounded modes.

    Notes
    -----
    ``decode`` returns ``quantizer.decode(codes)`` with the chunk's shape (a blocks quantizer's
    padding is cropped): the values readers see, not the codes. The codes of a chunk are
    ``quantizer.encode(codec.decode(buf))`` again, since quantizing a reconstruction is
    idempotent.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.0, 1.0, 1000).reshape(10, 100)
    >>> codec = VQImageCodec(max_abs_error=0.01)
    >>> codec.get_config()
    {'id': 'vqimage', 'codec': 'auto', 'max_abs_error': 0.01}
    >>> float(np.abs(codec.decode(codec.encode(x)) - x).max()) <= 0.01
    True
    """

    codec_id = "vqimage"

    def __init__(
        self,
        quantizer: QuantizerProtocol | None = None,
        codec: str = "auto",
        *,
        max_abs_error: float | None = None,
        max_rel_error: float | None = None,
    ) -> None:
        self.max_abs_error = self.max_rel_error = None
        if max_abs_error is not None or max_rel_error is not None:
            if quantizer is not None:
                raise ValueError("give a quantizer or an error bound (max_abs_error, "
                                 "max_rel_error), not both")
            if max_abs_error is not None and max_rel_error is not None:
                raise ValueError("give one of max_abs_error and max_rel_error, not both")
            if max_abs_error is not None:
                self.max_abs_error = check_bound(max_abs_error, "max_abs_error")
            else:
                self.max_rel_error = check_bound(max_rel_error, "max_rel_error")
            self.quantizer = None
            self.codec = _check_codec_name(codec)
            return
        if isinstance(quantizer, dict):
            q = _quantizer_from_dict(quantizer)
        elif hasattr(quantizer, "to_dict") and hasattr(quantizer, "encode"):
            q = quantizer
        else:
            raise TypeError(
                f"quantizer must be a fitted quantizer or its to_dict(), got "
                f"{type(quantizer).__name__}"
            )
        self.quantizer = q
        self.codec = _check_codec_name(codec)

    def get_config(self) -> dict[str, Any]:
        if self.quantizer is None:
            key = "max_abs_error" if self.max_abs_error is not None else "max_rel_error"
            return {"id": self.codec_id, "codec": self.codec, key: getattr(self, key)}
        return {"id": self.codec_id, "quantizer": self.quantizer.to_dict(), "codec": self.codec}

    def __repr__(self) -> str:
        if self.quantizer is None:
            bound = (f"max_abs_error={self.max_abs_error!r}" if self.max_abs_error is not None
                     else f"max_rel_error={self.max_rel_error!r}")
            return f"VQImageCodec({bound}, codec={self.codec!r})"
        q = self.quantizer
        return (
            f"VQImageCodec(kind={q.kind!r}, n_levels={q.n_levels}, dtype={q.dtype.name}, "
            f"codec={self.codec!r})"
        )

    # -- numcodecs API -------------------------------------------------------------------------
    def encode(self, buf: Any) -> bytes:
        """Quantize ``buf`` (an array of the quantizer's dtype) and return the chunk bytes."""
        arr = ensure_ndarray(buf)
        if self.quantizer is None:
            return self._encode_bounded(arr)
        q = self.quantizer
        if arr.dtype != q.dtype:
            raise TypeError(
                f"the vqimage codec's quantizer reconstructs {q.dtype}, got a chunk of {arr.dtype}"
            )
        codes = np.ascontiguousarray(q.encode(arr))
        name, payload = _encode_codes(codes, q.n_levels, self.codec)
        return _header(name, arr.dtype, arr.shape) + payload

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        """The reconstruction of an encoded chunk (written into ``out`` when given).

        Raises
        ------
        FormatError
            For any malformed, truncated or corrupted chunk (chunks come from storage: nothing
            in them is trusted).
        """
        data = ensure_contiguous_ndarray(buf).view(np.uint8).tobytes()
        rec = self._reconstruct(data)
        return ndarray_copy(rec, out) if out is not None else rec

    def _reconstruct(self, data: bytes) -> np.ndarray:
        name, dtype, shape, offset = _parse_header(data)
        q = self.quantizer
        if data[4] == _BOUNDED_VERSION:  # the chunk carries its own quantizer
            q, offset = _read_chunk_quantizer(data, offset)
        elif q is None:
            raise FormatError("this vqimage chunk has no quantizer, and an error-bounded codec "
                              "has none to decode it with")
        if dtype != q.dtype:
            raise FormatError(
                f"vqimage chunk holds {dtype} data but the codec's quantizer reconstructs {q.dtype}"
            )
        try:
            code_shape = tuple(int(s) for s in q.code_shape(shape))
        except (TypeError, ValueError) as exc:  # e.g. no channel axis for a palette
            raise FormatError(
                f"vqimage chunk shape {shape} does not fit the quantizer: {exc}"
            ) from None
        codes = _decode_codes(name, data[offset:], code_shape, q.n_levels)
        try:
            rec = np.asarray(q.decode(codes))
            if rec.shape != shape:
                # A blocks quantizer reconstructs whole blocks: crop the padding.
                rec = rec[tuple(slice(0, s) for s in shape)]
            if rec.shape != shape:
                raise ValueError(f"decoded to shape {rec.shape}")
            return np.ascontiguousarray(rec, dtype=dtype)
        except (TypeError, ValueError, IndexError) as exc:
            raise FormatError(f"vqimage chunk of shape {shape} does not decode: {exc}") from None

    def _encode_bounded(self, arr: np.ndarray) -> bytes:
        q = fit(arr, max_abs_error=self.max_abs_error, max_rel_error=self.max_rel_error)
        codes = np.ascontiguousarray(q.encode(arr))
        name, payload = _encode_codes(codes, q.n_levels, self.codec)
        qjson = dumps_quantizer(q)
        head = bytearray(_header(name, arr.dtype, arr.shape))
        head[4] = _BOUNDED_VERSION
        return bytes(head) + struct.pack("<I", len(qjson)) + qjson + payload


_BOUNDED_VERSION = 2


def _read_chunk_quantizer(data: bytes, offset: int) -> tuple[Any, int]:
    try:
        (n,) = struct.unpack_from("<I", data, offset)
    except struct.error:
        raise FormatError("truncated vqimage chunk: its quantizer is missing") from None
    start = offset + 4
    if start + n > len(data):
        raise FormatError("truncated vqimage chunk: its quantizer is cut short")
    return loads_quantizer(data[start : start + n]), start + n


# -- code codecs (vqimage.codecs) ------------------------------------------------------------------
def _check_codec_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"codec must be a codec name, got {name!r}")
    if name != "auto":
        get_codec(name)  # raises ValueError naming the choices
    return name


def _encode_codes(codes: np.ndarray, n_levels: int, name: str) -> tuple[str, bytes]:
    if name == "auto":
        return encode_best(codes, n_levels)
    return name, bytes(get_codec(name).encode(codes, n_levels))


def _decode_codes(name: str, payload: bytes, shape: tuple[int, ...], n_levels: int) -> np.ndarray:
    try:
        codec = get_codec(name)
    except ValueError as exc:
        raise FormatError(f"vqimage chunk uses an unknown code codec {name!r}") from exc
    return codec.decode(payload, shape, n_levels)


# -- chunk header ----------------------------------------------------------------------------------
def _header(codec: str, dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    name = codec.encode("ascii")
    dt = dtype.str.encode("ascii")
    return b"".join([
        MAGIC,
        struct.pack("<BB", VERSION, len(name)), name,
        struct.pack("<B", len(dt)), dt,
        struct.pack(f"<B{len(shape)}Q", len(shape), *shape),
    ])


def _parse_header(data: bytes) -> tuple[str, np.dtype, tuple[int, ...], int]:
    """Codec name, dtype, shape and payload offset of a chunk; :class:`FormatError` if bad."""
    try:
        if data[:4] != MAGIC:
            raise FormatError("not a vqimage chunk (bad magic number)")
        version, n = struct.unpack_from("<BB", data, 4)
        if version not in (VERSION, _BOUNDED_VERSION):
            raise FormatError(f"vqimage chunk version {version} is not supported (expected 1 or 2)")
        pos = 6
        raw_name = data[pos : pos + n]
        pos += n
        (n,) = struct.unpack_from("<B", data, pos)
        raw_dtype = data[pos + 1 : pos + 1 + n]
        pos += 1 + n
        (ndim,) = struct.unpack_from("<B", data, pos)
        shape = tuple(int(s) for s in struct.unpack_from(f"<{ndim}Q", data, pos + 1))
        pos += 1 + 8 * ndim
    except struct.error:
        raise FormatError("truncated vqimage chunk header") from None
    name = raw_name.decode("ascii", "replace")
    if name not in CODECS:
        raise FormatError(f"vqimage chunk uses an unknown code codec {name!r}")
    try:
        # An allow-list: np.dtype would hand some strings ("(3,)u1") to ast.literal_eval.
        dtype = parse_dtype(raw_dtype.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise FormatError(f"vqimage chunk has an unsupported dtype {raw_dtype!r}") from None
    # Zero-length axes are legal chunks; anything beyond MAX_ELEMENTS fits no machine.
    if ndim > MAX_NDIM or max(shape, default=0) > MAX_ELEMENTS or math.prod(shape) > MAX_ELEMENTS:
        raise FormatError(f"vqimage chunk has an impossible shape {shape}")
    return name, dtype, shape, pos


# -- zarr 3 ----------------------------------------------------------------------------------------
_ZARR3_CLASS: Any = None


def _zarr3_class() -> Any:
    """Build (once) the zarr 3 array-to-bytes codec class and register it with zarr.

    Built on zarr's public :class:`zarr.abc.codec.ArrayBytesCodec` (not the private numcodecs
    adapter), so it can check each decoded chunk against the array's chunk spec: a corrupted
    chunk whose header claims another shape or dtype is a :class:`FormatError`, not a reshape
    error deep inside zarr.
    """
    global _ZARR3_CLASS
    if _ZARR3_CLASS is not None:
        return _ZARR3_CLASS
    import asyncio
    from dataclasses import dataclass

    from zarr.abc.codec import ArrayBytesCodec
    from zarr.registry import register_codec

    @dataclass(frozen=True)
    class VQImageZarr3Codec(ArrayBytesCodec):  # type: ignore[misc]
        """zarr 3 serializer wrapping :class:`VQImageCodec` (name ``numcodecs.vqimage``)."""

        codec_config: dict[str, Any]
        is_fixed_size = False
        codec_name = ZARR3_NAME

        def __init__(self, **codec_config: Any) -> None:
            config = {k: v for k, v in codec_config.items() if k != "id"}
            if "quantizer" not in config:
                raise ValueError(f"the {ZARR3_NAME} codec configuration lacks its quantizer")
            inner = VQImageCodec(config["quantizer"], config.get("codec", "auto"))
            object.__setattr__(self, "codec_config", {"id": VQImageCodec.codec_id, **config})
            object.__setattr__(self, "_inner", inner)

        @classmethod
        def from_dict(cls, data: dict[str, Any]) -> VQImageZarr3Codec:
            config = data.get("configuration") if isinstance(data, dict) else None
            if not isinstance(data, dict) or data.get("name") != ZARR3_NAME or not isinstance(
                config, dict
            ):
                raise FormatError(f"not a {ZARR3_NAME} codec description: {data!r}"[:200])
            try:
                return cls(**config)
            except (TypeError, ValueError) as exc:  # the store's metadata: untrusted as well
                raise FormatError(f"bad {ZARR3_NAME} codec configuration: {exc}") from None

        def to_dict(self) -> dict[str, Any]:
            config = {k: v for k, v in self.codec_config.items() if k != "id"}
            return {"name": ZARR3_NAME, "configuration": config}

        def compute_encoded_size(self, input_byte_length: int, chunk_spec: Any) -> int:
            raise NotImplementedError  # variable-size output, like any compressor

        def _decode_sync(self, data: bytes, chunk_spec: Any) -> np.ndarray:
            rec = self._inner._reconstruct(data)
            want = np.dtype(chunk_spec.dtype.to_native_dtype())
            if rec.shape != tuple(chunk_spec.shape) or rec.dtype != want:
                raise FormatError(
                    f"vqimage chunk holds {rec.dtype} data of shape {rec.shape}, the array's "
                    f"chunks are {want} of shape {tuple(chunk_spec.shape)}"
                )
            return rec

        async def _decode_single(self, chunk_data: Any, chunk_spec: Any) -> Any:
            rec = await asyncio.to_thread(self._decode_sync, chunk_data.to_bytes(), chunk_spec)
            return chunk_spec.prototype.nd_buffer.from_ndarray_like(rec)

        async def _encode_single(self, chunk_data: Any, chunk_spec: Any) -> Any:
            arr = chunk_data.as_ndarray_like()
            out = await asyncio.to_thread(self._inner.encode, arr)
            return chunk_spec.prototype.buffer.from_bytes(out)

    VQImageZarr3Codec.__module__ = __name__
    VQImageZarr3Codec.__qualname__ = "VQImageZarr3Codec"
    register_codec(ZARR3_NAME, VQImageZarr3Codec)
    _ZARR3_CLASS = VQImageZarr3Codec
    return _ZARR3_CLASS


def register_zarr3() -> Any:
    """Register the zarr 3 codec ``numcodecs.vqimage`` and return its class.

    Installing vqimage registers it through the ``zarr.codecs`` entry point already; call this
    where entry points are not available.
    """
    return _zarr3_class()


def zarr3_codec(quantizer: QuantizerProtocol, codec: str = "auto") -> Any:
    """The zarr 3 serializer for ``quantizer``: pass it as ``serializer=`` to ``zarr.create_array``.

    Examples
    --------
    >>> import numpy as np, warnings, zarr
    >>> import vqimage
    >>> from vqimage.numcodecs import zarr3_codec
    >>> img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    >>> q = vqimage.fit(img, 4)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # zarr: numcodecs codecs are not in the v3 spec
    ...     z = zarr.create_array(zarr.storage.MemoryStore(), shape=img.shape, chunks=(8, 8),
    ...                           dtype=img.dtype, serializer=zarr3_codec(q, "packed"),
    ...                           compressors=None)
    ...     z[:] = img
    ...     same = np.array_equal(z[:], q.quantize(img))
    >>> same
    True
    """
    inner = VQImageCodec(quantizer, codec)
    return _zarr3_class()(**inner.get_config())


def __getattr__(name: str) -> Any:
    # The zarr 3 class is built on first access (the ``zarr.codecs`` entry point loads it), so
    # importing this module does not import zarr.
    if name == "VQImageZarr3Codec":
        return _zarr3_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
