"""Chunked ``.vqi`` files: an image larger than memory, written and read chunk by chunk.

``vqimage.compress(dask_array, n_levels, path=OUT)`` fits the quantizer from merged per-chunk
histograms (:func:`vqimage.dask.fit`), then encodes every chunk where it lives and appends its
coded codes to a temporary file as chunks finish, writes an index at the end and renames the file
into place. ``vqimage.load(OUT)`` recognises the chunked magic number and returns a
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
import secrets
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .errors import FormatError

__all__ = ["MAGIC", "ChunkedImage", "compress_chunked", "is_chunked", "open_chunked"]

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
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except (IsADirectoryError, FileNotFoundError):
        return False


# -- writing -------------------------------------------------------------------------------------
def _write_all(f: Any, data: bytes) -> None:
    """Write ``data`` to ``f`` (kept separate so tests can simulate a full disk)."""
    f.write(data)


def _encode_chunk(
    block: np.ndarray, quantizer: Any, codec: str, block_id: tuple[int, ...]
) -> tuple[tuple[int, ...], int, bytes]:
    """Encode one chunk on a worker: ``(block index, codec id, payload)``."""
    from .codecs import encode_best, get_codec
    from .dask import _check_block

    block = np.asarray(block)
    _check_block(block, block_id)
    codes = np.asarray(quantizer.encode(block))
    n = int(quantizer.n_levels)
    if codec == "auto":
        name, payload = encode_best(codes, n)
    else:
        name, payload = codec, get_codec(codec).encode(codes, n)
    return block_id, get_codec(name).id, bytes(payload)


def _as_completed(tasks: list[Any]) -> Iterator[Any]:
    """Compute dask delayed objects, yielding results as they finish (never all at once)."""
    import dask
    from dask.base import get_scheduler

    sched = get_scheduler(collections=tasks[:1])
    client = getattr(sched, "__self__", None)
    if client is not None and type(client).__name__ == "Client":
        from distributed import as_completed

        # Bounded in flight: results are written and released as they arrive.
        window = max(4, 2 * sum(client.nthreads().values()))
        pending = iter(tasks)
        futures = as_completed(client.compute([t for _, t in zip(range(window), pending)]),
                               with_results=True)
        for fut, result in futures:
            nxt = next(pending, None)
            if nxt is not None:
                futures.add(client.compute(nxt))
            fut.release()
            yield result
        return
    window = max(4, 2 * (os.cpu_count() or 1))
    for start in range(0, len(tasks), window):
        yield from dask.compute(*tasks[start : start + window])


def compress_chunked(
    data: Any,
    n_levels: int = 8,
    *,
    path: str | os.PathLike[str],
    strategy: str = "optimal",
    reconstruction: str = "centroid",
    quantizer: Any = None,
    codec: str = "auto",
    overwrite: bool = False,
) -> ChunkedImage:
    """Write a dask array to a chunked ``.vqi`` file, chunk by chunk; see the module notes.

    ``vqimage.compress(dask_array, ..., path=...)`` calls this.

    Parameters
    ----------
    data : dask.array.Array
        Real integer or float data; its chunks become the file's chunks.
    n_levels, strategy, reconstruction
        Fit a scalar quantizer from the merged per-chunk histograms (:func:`vqimage.dask.fit`:
        bit for bit the in-memory fit for integer data).
    quantizer : optional
        A fitted quantizer (scalar, or palette with the channels on the last axis) to use
        instead of fitting.
    codec : {"auto", "packed", "lzma", "context"}
        Code codec of every chunk; ``auto`` picks the smallest per chunk.
    path : str or path-like
        The file to write. It appears only when complete (temporary file + rename); any failure
        leaves nothing behind.
    overwrite : bool
        Replace an existing file; otherwise ``FileExistsError`` before any work.

    Returns
    -------
    ChunkedImage
        The written file, opened for reading.

    Examples
    --------
    >>> import dask.array as da, numpy as np, os, tempfile
    >>> import vqimage
    >>> img = (np.arange(120 * 90) % 251).astype(np.uint8).reshape(120, 90)
    >>> out = os.path.join(tempfile.mkdtemp(), "big.vqi")
    >>> c = vqimage.compress(da.from_array(img, chunks=50), 16, codec="packed", path=out)
    >>> c.shape, c.n_chunks, c.quantizer == vqimage.fit(img, 16)
    ((120, 90), 6, True)
    >>> np.array_equal(vqimage.load(out).to_dask().compute(), c.quantizer.quantize(img))
    True
    """
    from dask import delayed

    from .compressed import CODEC_CHOICES
    from .dask import _as_dask, _layout, fit

    if type(data).__module__.split(".", 1)[0] != "dask":
        raise TypeError(
            "path= writes a chunked .vqi from a dask array; for an in-memory image use "
            "compress(image).save(path)"
        )
    x = _as_dask(data, "image")
    if not isinstance(codec, str) or codec not in CODEC_CHOICES:
        raise ValueError(
            f"codec must be one of {', '.join(map(repr, CODEC_CHOICES))}; got {codec!r}"
        )
    target = os.fspath(path)
    if os.path.isdir(target):
        raise IsADirectoryError(f"{target} is a directory; give a file path to write to")
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
    if quantizer is None:
        quantizer = fit(x, n_levels, strategy=strategy, reconstruction=reconstruction)
    elif not hasattr(quantizer, "encode") or not hasattr(quantizer, "to_dict"):
        raise TypeError(f"quantizer must be a fitted vqimage quantizer, got {type(quantizer)}")
    if _layout(quantizer, x) == "pixel":
        x = x.rechunk({x.ndim - 1: -1})
    _dtype_code(np.dtype(quantizer.dtype))
    blocks = x.to_delayed()
    encode_d = delayed(_encode_chunk, pure=True)
    tasks = [encode_d(blocks[idx], quantizer, codec, idx) for idx in np.ndindex(blocks.shape)]

    directory, base = os.path.split(os.path.abspath(target))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    entries: dict[tuple[int, ...], list[int]] = {}
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, _HEADER.pack(MAGIC, VERSION, bytes(6)))
            offset = HEADER_SIZE
            for block_id, codec_id, payload in _as_completed(tasks):
                _write_all(f, payload)
                entries[tuple(block_id)] = [offset, len(payload), codec_id, zlib.crc32(payload)]
                offset += len(payload)
            index = _index_bytes(x, quantizer, [entries[i] for i in np.ndindex(blocks.shape)])
            _write_all(f, index)
            _write_all(f, _TRAILER.pack(offset, len(index), zlib.crc32(index), END_MAGIC))
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            from .compressed import _link_no_clobber

            _link_no_clobber(tmp, target)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return open_chunked(target)


def _dtype_code(dtype: np.dtype) -> str:
    from .format import _dtype_code as code

    return code(dtype).decode("ascii")


def _index_bytes(x: Any, quantizer: Any, entries: list[list[int]]) -> bytes:
    index = {
        "shape": [int(s) for s in x.shape],
        "dtype": _dtype_code(np.dtype(quantizer.dtype)),
        "chunks": [[int(c) for c in axis] for axis in x.chunks],
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
    size = os.path.getsize(p)
    with open(p, "rb") as f:
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
    if zlib.crc32(raw) != crc:
        raise _fail(p, "index checksum mismatch (the file is corrupted)")
    try:
        return ChunkedImage._from_index(p, json.loads(raw.decode("utf-8")), index_at, size)
    except FormatError:
        raise
    except Exception as exc:  # untrusted JSON: any inconsistency is a format error
        raise _fail(p, f"{type(exc).__name__}: {exc}") from None


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

    def __init__(
        self,
        path: str,
        shape: tuple[int, ...],
        quantizer: Any,
        chunks: tuple[tuple[int, ...], ...],
        entries: list[tuple[int, int, int, int]],
        nbytes: int,
    ) -> None:
        self.path = path
        self.shape = shape
        self.quantizer = quantizer
        self.chunks = chunks
        self._entries = entries
        self.nbytes = nbytes

    @classmethod
    def _from_index(cls, path: str, index: dict[str, Any], end: int, size: int) -> ChunkedImage:
        from .codecs import codec_from_id
        from .format import _DTYPES, MAX_ELEMENTS, MAX_NDIM, loads_quantizer

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
        return (
            f"ChunkedImage({self.path!r}, shape={self.shape}, dtype={self.dtype.name}, "
            f"n_levels={self.quantizer.n_levels}, chunks={self.n_chunks}, codec={self.codec!r}, "
            f"nbytes={self.nbytes})"
        )

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
        from .codecs import codec_from_id

        names = {codec_from_id(e[2]).name for e in self._entries}
        return names.pop() if len(names) == 1 else "mixed"

    @property
    def code_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.quantizer.code_shape(self.shape))

    def _block_shape(self, block_id: Sequence[int]) -> tuple[int, ...]:
        return tuple(axis[j] for axis, j in zip(self.chunks, block_id))

    def read_codes(self, block_id: Sequence[int]) -> np.ndarray:
        """The codes of one chunk, read from the file (checksum verified)."""
        from .codecs import codec_from_id

        block_id = tuple(int(i) for i in block_id)
        flat = int(np.ravel_multi_index(block_id, self.numblocks))
        off, length, codec_id, crc = self._entries[flat]
        with open(self.path, "rb") as f:
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
        with open(self.path, "rb") as f:
            return f.read()

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Copy the file to ``path`` (atomically: temporary file + rename), chunk-sized reads."""
        dst = os.fspath(path)
        if os.path.isdir(dst):
            raise IsADirectoryError(f"{dst} is a directory; give a file path to save to")
        if not overwrite and os.path.lexists(dst):
            raise FileExistsError(f"{dst} exists; pass overwrite=True to replace it")
        directory, base = os.path.split(os.path.abspath(dst))
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        try:
            with os.fdopen(fd, "wb") as out, open(self.path, "rb") as src:
                while block := src.read(1 << 22):
                    _write_all(out, block)
                out.flush()
                os.fsync(out.fileno())
            if overwrite:
                os.replace(tmp, dst)
            else:
                from .compressed import _link_no_clobber

                _link_no_clobber(tmp, dst)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)


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
