"""Chunked ``.vqi`` files: an image larger than memory, written and read chunk by chunk.

``vqimage.compress(dask_array, n_levels, path=OUT)`` (:func:`vqimage.dask.compress`) fits the
quantizer from merged per-chunk histograms, then encodes every chunk where it lives and hands
its coded codes to a :class:`ChunkedWriter`, which appends them to a temporary file as chunks
finish, writes an index at the end and renames the file into place. ``vqimage.load(OUT)``
recognises the chunked magic number and returns a
:class:`ChunkedImage`, whose :meth:`~ChunkedImage.to_dask` reads chunks lazily. At no point is
the image (or its codes) held whole in memory: one chunk per worker thread, plus the index.

Layout (all integers little-endian; ``docs/format.md`` has the full contract)::

    offset  size  field
    0       8     magic  b"\\x89VQC\\r\\n\\x1a\\n"
    8       2     format version (u16), 1
    10      6     reserved, zero
    16      ...   chunk payloads, back to back, in any order
    I       J     index: canonical JSON (UTF-8), see below
    end-24  8     I, offset of the index (u64)
    end-16  8     J, length of the index (u64)
    end-8   4     CRC-32 of the index (u32)
    end-4   4     b"VQCE"

The index holds ``shape``, ``dtype`` (kind and size, ``"u1"``), ``chunks`` (the chunk sizes
along every axis, as dask writes them), ``n_levels``, the ``quantizer`` (its ``to_dict()``) and
``entries``: for every chunk in C order of the chunk grid, ``[offset, length, codec id, CRC-32
of the payload]``. A chunk's payload is the codes of that chunk (shape
``quantizer.code_shape(chunk shape)``) coded by the codec with that id
(:mod:`vqimage.codecs`), exactly as the payload of a single-image ``.vqi`` file.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vqimage._shared.fs import atomic_file, open_regular
from vqimage._shared.reprs import fields_repr
from vqimage.codecs import codec_from_id
from vqimage.core.protocol import QuantizerProtocol
from vqimage.errors import FormatError, NotRegularFileError
from vqimage.vqi.format import _DTYPES, MAX_ELEMENTS, MAX_NDIM, loads_quantizer
from vqimage.vqi.format import _dtype_code as _format_dtype_code

__all__ = ["MAGIC", "ChunkedImage", "ChunkedWriter", "is_chunked", "open_chunked"]

MAGIC = b"\x89VQC\r\n\x1a\n"
END_MAGIC = b"VQCE"
VERSION = 1
HEADER_SIZE = 16
_HEADER = struct.Struct("<8sH6s")
_TRAILER = struct.Struct("<QQI4s")
TRAILER_SIZE = _TRAILER.size  # 24
MAX_INDEX = 1 << 31  # bytes of index JSON a reader accepts (about 40 million chunks)


def is_chunked(path: str | os.PathLike[str]) -> bool:
    """True when the file at ``path`` starts with the chunked ``.vqi`` magic number."""
    try:
        with open_regular(path) as f:
            return f.read(len(MAGIC)) == MAGIC
    except (IsADirectoryError, FileNotFoundError, NotRegularFileError):
        return False  # never open a device or FIFO just to look at its first bytes


# -- writing -------------------------------------------------------------------------------------
def _write_all(f: Any, data: bytes) -> None:
    """Write ``data`` to ``f`` (kept separate so tests can simulate a full disk)."""
    f.write(data)


class ChunkedWriter:
    """Append coded chunks to a chunked ``.vqi`` file, then its index; atomic as a whole.

    Use as a context manager: the file appears at ``path`` only when the block ends without an
    error after :meth:`finish`; otherwise nothing is left behind. The array adapters
    (:func:`vqimage.dask.compress`) feed it chunks in whatever order they finish.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> import vqimage
    >>> from vqimage.codecs import get_codec
    >>> img = np.arange(12, dtype=np.uint8).reshape(3, 4)
    >>> q = vqimage.fit(img, 4)
    >>> out = os.path.join(tempfile.mkdtemp(), "c.vqi")
    >>> with ChunkedWriter(out) as w:
    ...     for i, rows in enumerate(((0, 2), (2, 3))):
    ...         codes = q.encode(img[rows[0]:rows[1]])
    ...         w.add((i, 0), get_codec("packed").id, get_codec("packed").encode(codes, 4))
    ...     w.finish(img.shape, ((2, 1), (4,)), q)
    >>> np.array_equal(vqimage.load(out).decompress(), q.quantize(img))
    True
    """

    def __init__(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.path = os.fspath(path)
        self._cm = atomic_file(self.path, overwrite=overwrite)
        self._entries: dict[tuple[int, ...], list[int]] = {}
        self._offset = HEADER_SIZE
        self._finished = False

    def __enter__(self) -> ChunkedWriter:
        self._f = self._cm.__enter__()
        _write_all(self._f, _HEADER.pack(MAGIC, VERSION, bytes(6)))
        return self

    def add(self, block_id: Sequence[int], codec_id: int, payload: bytes) -> None:
        """Append the coded codes of the chunk at grid position ``block_id``."""
        _write_all(self._f, payload)
        self._entries[tuple(int(i) for i in block_id)] = [
            self._offset, len(payload), int(codec_id), zlib.crc32(payload)
        ]
        self._offset += len(payload)

    def finish(
        self, shape: Sequence[int], chunks: Sequence[Sequence[int]], quantizer: QuantizerProtocol
    ) -> None:
        """Write the index; every chunk of the grid ``chunks`` must have been added."""
        grid = tuple(len(axis) for axis in chunks)
        missing = [i for i in np.ndindex(grid) if i not in self._entries]
        if missing:
            raise ValueError(f"chunk {missing[0]} was never added")
        index = _index_bytes(shape, chunks, quantizer, [self._entries[i] for i in np.ndindex(grid)])
        _write_all(self._f, index)
        _write_all(self._f, _TRAILER.pack(self._offset, len(index), zlib.crc32(index), END_MAGIC))
        self._finished = True

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        if exc_type is None and not self._finished:
            err = ValueError("ChunkedWriter closed before finish()")
            self._cm.__exit__(ValueError, err, None)
            raise err
        return self._cm.__exit__(exc_type, exc, tb)


def _dtype_code(dtype: np.dtype) -> str:
    return _format_dtype_code(dtype).decode("ascii")


def _index_bytes(
    shape: Sequence[int],
    chunks: Sequence[Sequence[int]],
    quantizer: QuantizerProtocol,
    entries: list[list[int]],
) -> bytes:
    index = {
        "shape": [int(s) for s in shape],
        "dtype": _dtype_code(np.dtype(quantizer.dtype)),
        "chunks": [[int(c) for c in axis] for axis in chunks],
        "n_levels": int(quantizer.n_levels),
        "quantizer": quantizer.to_dict(),
        "entries": entries,
    }
    return json.dumps(index, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


# -- reading -------------------------------------------------------------------------------------
def _fail(path: str, msg: str) -> FormatError:
    return FormatError(f"{path}: not a valid chunked .vqi file: {msg}")


def open_chunked(path: str | os.PathLike[str]) -> ChunkedImage:
    """Open a chunked ``.vqi`` file: read and validate its header and index, not its chunks.

    Raises
    ------
    FormatError
        Wrong magic, unknown version, truncated file, corrupt index or entries that do not fit
        the file (every size is checked before anything is allocated).
    """
    p = os.fspath(path)
    with open_regular(p) as f:
        # The size of the open file, not of the path: it is what the offsets must fit.
        size = os.fstat(f.fileno()).st_size
        head = f.read(HEADER_SIZE)
        if head[: len(MAGIC)] != MAGIC:
            raise _fail(p, "wrong magic bytes")
        if size < HEADER_SIZE + TRAILER_SIZE:
            raise _fail(p, f"truncated: {size} bytes")
        _, version, _ = _HEADER.unpack(head)
        if version != VERSION:
            raise _fail(p, f"unsupported version {version}; this reader knows {VERSION}")
        f.seek(size - TRAILER_SIZE)
        index_at, index_len, crc, end = _TRAILER.unpack(f.read(TRAILER_SIZE))
        if end != END_MAGIC:
            raise _fail(p, "no index at the end (truncated or still being written)")
        if index_len > MAX_INDEX or index_at < HEADER_SIZE or (
            index_at + index_len != size - TRAILER_SIZE
        ):
            raise _fail(p, "the index position does not match the file size")
        f.seek(index_at)
        raw = f.read(index_len)
    if len(raw) != index_len or zlib.crc32(raw) != crc:
        raise _fail(p, "index checksum mismatch (the file is corrupted)")
    try:
        return ChunkedImage._from_index(p, json.loads(raw.decode("utf-8")), index_at, size)
    except FormatError:
        raise
    except Exception as exc:  # untrusted JSON: any inconsistency is a format error
        raise _fail(p, f"{type(exc).__name__}: {exc}") from None


@dataclass(repr=False, eq=False)
class ChunkedImage:
    """A chunked ``.vqi`` file on disk: metadata in memory, chunks read on demand.

    Attributes
    ----------
    path : str
    shape : tuple of int
    dtype : numpy.dtype
    quantizer
    chunks : tuple of tuple of int
        Chunk sizes along every axis (dask's ``chunks``).
    codec : str
        The codec of the chunks (``"mixed"`` when ``auto`` chose differently per chunk).
    nbytes : int
        The file size.
    """

    path: str
    shape: tuple[int, ...]
    quantizer: QuantizerProtocol
    chunks: tuple[tuple[int, ...], ...]
    _entries: list[tuple[int, int, int, int]]  # (offset, length, codec id, crc) per chunk
    nbytes: int

    @classmethod
    def _from_index(cls, path: str, index: dict[str, Any], end: int, size: int) -> ChunkedImage:
        shape = tuple(int(s) for s in index["shape"])
        chunks = tuple(tuple(int(c) for c in axis) for axis in index["chunks"])
        if not 1 <= len(shape) <= MAX_NDIM or len(chunks) != len(shape):
            raise _fail(path, f"bad shape {shape} or chunks")
        if min(shape) < 1 or math.prod(shape) > MAX_ELEMENTS:
            raise _fail(path, f"bad shape {shape}")
        for n, axis in zip(shape, chunks):
            if sum(axis) != n or min(axis) < 1:
                raise _fail(path, f"chunks {axis} do not tile an axis of {n}")
        if index["dtype"] not in _DTYPES:
            raise _fail(path, f"unsupported dtype {index['dtype']!r}")
        q = loads_quantizer(json.dumps(index["quantizer"]).encode("utf-8"))
        n = int(index["n_levels"])
        qdt = np.dtype(q.dtype)
        if int(q.n_levels) != n or f"{qdt.kind}{qdt.itemsize}" != index["dtype"]:
            raise _fail(path, "the quantizer does not match the index's n_levels or dtype")
        grid = tuple(len(axis) for axis in chunks)
        raw = index["entries"]
        if len(raw) != math.prod(grid):
            raise _fail(path, f"{len(raw)} entries for a grid of {grid} chunks")
        entries = []
        for i, block_id in enumerate(np.ndindex(grid)):
            off, length, codec_id, crc = (int(v) for v in raw[i])
            if off < HEADER_SIZE or length < 0 or off + length > end:
                raise _fail(path, f"chunk {block_id} lies outside the payload area")
            block_shape = tuple(axis[j] for axis, j in zip(chunks, block_id))
            code_shape = tuple(int(s) for s in q.code_shape(block_shape))
            codec_from_id(codec_id).check_size(length, math.prod(code_shape), n)
            entries.append((off, length, codec_id, crc))
        return cls(path, shape, q, chunks, entries, size)

    def __repr__(self) -> str:
        return fields_repr("ChunkedImage", self.path, shape=self.shape, dtype=self.dtype,
                           n_levels=self.quantizer.n_levels, chunks=self.n_chunks,
                           codec=self.codec, nbytes=self.nbytes)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.quantizer.dtype)

    @property
    def n_chunks(self) -> int:
        return len(self._entries)

    @property
    def numblocks(self) -> tuple[int, ...]:
        return tuple(len(axis) for axis in self.chunks)

    @property
    def codec(self) -> str:
        names = {codec_from_id(e[2]).name for e in self._entries}
        return names.pop() if len(names) == 1 else "mixed"

    @property
    def code_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.quantizer.code_shape(self.shape))

    def _block_shape(self, block_id: Sequence[int]) -> tuple[int, ...]:
        return tuple(axis[j] for axis, j in zip(self.chunks, block_id))

    def read_codes(self, block_id: Sequence[int]) -> np.ndarray:
        """The codes of one chunk, read from the file (checksum verified)."""
        block_id = tuple(int(i) for i in block_id)
        flat = int(np.ravel_multi_index(block_id, self.numblocks))
        off, length, codec_id, crc = self._entries[flat]
        with open_regular(self.path) as f:
            f.seek(off)
            payload = f.read(length)
        if len(payload) != length or zlib.crc32(payload) != crc:
            raise FormatError(f"{self.path}: chunk {block_id} is corrupted (checksum mismatch)")
        code_shape = self.quantizer.code_shape(self._block_shape(block_id))
        return codec_from_id(codec_id).decode(payload, code_shape, self.quantizer.n_levels)

    def read_chunk(self, block_id: Sequence[int]) -> np.ndarray:
        """The reconstruction of one chunk."""
        return self.quantizer.decode(self.read_codes(block_id))

    def to_dask(self, *, codes: bool = False) -> Any:
        """A lazy dask array of the reconstruction (``codes=True``: of the codes), one task per
        stored chunk; each task reads and decodes only its chunk.
        """
        import dask.array as da
        from dask.base import tokenize

        reader = _ChunkReader(self, codes)
        if codes:
            dtype = np.dtype(self.quantizer.code_dtype)
            chunks = self.chunks if self.code_shape == self.shape else self.chunks[:-1]
        else:
            dtype = self.dtype
            chunks = self.chunks
        st = os.stat(self.path)
        token = tokenize(self.path, st.st_size, st.st_mtime_ns, codes)
        return da.map_blocks(
            reader, chunks=chunks, dtype=dtype, meta=np.empty((0,) * len(chunks), dtype),
            name=f"vqimage-chunked-{token}",
        )

    @property
    def codes(self) -> np.ndarray:
        """All codes in memory (small files only; use ``to_dask(codes=True)`` for big ones)."""
        return np.asarray(self.to_dask(codes=True).compute(scheduler="threads"))

    def decompress(self) -> np.ndarray:
        """The whole reconstruction in memory (small files only; else :meth:`to_dask`)."""
        return np.asarray(self.to_dask().compute(scheduler="threads"))

    def tobytes(self) -> bytes:
        """The file's bytes."""
        with open_regular(self.path) as f:
            return f.read(os.fstat(f.fileno()).st_size)

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Copy the file to ``path`` (atomically: temporary file + rename), chunk-sized reads."""
        with atomic_file(path, overwrite=overwrite) as out, open_regular(self.path) as src:
            while block := src.read(1 << 22):
                _write_all(out, block)


class _ChunkReader:
    """The task function of :meth:`ChunkedImage.to_dask` (small and picklable)."""

    def __init__(self, image: ChunkedImage, codes: bool) -> None:
        self.image = image
        self.codes = codes

    def __call__(self, block_id: tuple[int, ...] | None = None) -> np.ndarray:
        if block_id is None:  # pragma: no cover - dask passes it; meta is given explicitly
            raise ValueError("block_id is required")
        if self.codes:
            ids = block_id if self.image.code_shape == self.image.shape else (*block_id, 0)
            return self.image.read_codes(ids)
        return self.image.read_chunk(block_id)
