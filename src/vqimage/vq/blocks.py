"""Block vector quantization: an image cut into small blocks, each replaced by a codeword.

Classic VQ image coding (Linde, Buzo and Gray 1980; Gersho and Gray, *Vector Quantization and
Signal Compression*): the pixels of each ``bh x bw`` block (times the channels of a colour
image) form one vector, a codebook of ``n_levels`` vectors is fitted to them, and the image is
stored as one code per block: ``log2(n_levels) / (bh * bw)`` bits per pixel (2 bits per pixel
for 256 codewords on 2x2 blocks).

Edges are padded by repeating the last row and column (``numpy.pad(mode="edge")``) to whole
blocks; :meth:`BlockQuantizer.decode` returns the padded image and callers crop it
(:meth:`BlockQuantizer.quantize` and :func:`vqimage.compress` do).
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np

from vqimage._shared.reprs import fields_repr
from vqimage._shared.validation import check_choice, check_data, check_n_levels
from vqimage.core.base import FrozenQuantizer, check_codebook, read_description
from vqimage.errors import FewerLevelsWarning
from vqimage.vq.palette import reseed_empty

__all__ = ["STRATEGIES", "BlockQuantizer", "fit_blocks"]

STRATEGIES = ("kmeans", "lbg")
#: Lloyd iterations at most (per codebook size for ``lbg``).
MAX_ITERATIONS = 50
#: Stop once no codeword moves more than this (in the image's units; 1/20 of a grey level).
TOLERANCE = 0.05
_MAX_DIM = 1024


def _check_block(block: Any) -> tuple[int, int]:
    if isinstance(block, numbers.Integral) and not isinstance(block, bool):
        block = (int(block), int(block))
    try:
        bh, bw = block
    except (TypeError, ValueError):
        raise TypeError(
            f"block must be a pair of integers (height, width), got {block!r}"
        ) from None
    for b in (bh, bw):
        if isinstance(b, bool) or not isinstance(b, numbers.Integral):
            raise TypeError(f"block must be a pair of integers (height, width), got {block!r}")
        if b < 1:
            raise ValueError(f"block sizes must be at least 1, got {tuple(block)}")
    return int(bh), int(bw)


def _check_image(image: Any, name: str = "image") -> np.ndarray:
    arr = check_data(image, name)
    if arr.ndim == 3 and not 1 <= arr.shape[2] <= 4:
        raise ValueError(
            f"{name} has shape {arr.shape}; expected (height, width) or (height, width, 1-4 "
            "channels)"
        )
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} has {arr.ndim} dimension{'s' if arr.ndim != 1 else ''} (shape {arr.shape}); "
            "expected an image (height, width) or (height, width, channels)"
        )
    return arr


def _grid_shape(shape: tuple[int, ...], block: tuple[int, int]) -> tuple[int, int]:
    return (-(-shape[0] // block[0]), -(-shape[1] // block[1]))


def _to_vectors(arr: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """(n_blocks, bh * bw * channels) vectors, row-major over blocks, edges padded."""
    bh, bw = block
    gh, gw = _grid_shape(arr.shape, block)
    pad = [(0, gh * bh - arr.shape[0]), (0, gw * bw - arr.shape[1])] + [(0, 0)] * (arr.ndim - 2)
    if any(p[1] for p in pad):
        arr = np.pad(arr, pad, mode="edge")
    ch = arr.shape[2] if arr.ndim == 3 else 1
    v = arr.reshape(gh, bh, gw, bw, ch).transpose(0, 2, 1, 3, 4)
    return v.reshape(gh * gw, bh * bw * ch)


def _from_vectors(vec: np.ndarray, grid: tuple[int, ...], block: tuple[int, int],
                  channels: int | None) -> np.ndarray:
    bh, bw = block
    gh, gw = grid
    ch = channels or 1
    img = vec.reshape(gh, gw, bh, bw, ch).transpose(0, 2, 1, 3, 4).reshape(gh * bh, gw * bw, ch)
    return img[..., 0] if channels is None else img


def _distinct(vec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Distinct rows, counts and inverse map when rows pack into 64 bits; else (vec, 1s, None)."""
    dt = vec.dtype
    nbits = 8 * dt.itemsize
    if dt.kind not in "ui" or nbits * vec.shape[1] > 64:
        return vec, np.ones(vec.shape[0]), None
    u = vec.view(np.dtype(f"u{dt.itemsize}")) if dt.kind == "i" else vec
    key = np.zeros(vec.shape[0], dtype=np.uint64)
    for c in range(vec.shape[1]):
        key = (key << np.uint64(nbits)) | u[:, c].astype(np.uint64)
    uniq, first, inv, counts = np.unique(key, return_index=True, return_inverse=True,
                                         return_counts=True)
    del uniq
    return vec[first], counts.astype(np.float64), inv.ravel()


def _principal_axis(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    mu = w @ X / w.sum()
    Xc = X - mu
    cov = (Xc * w[:, None]).T @ Xc
    _, vecs = np.linalg.eigh(cov)
    return np.ascontiguousarray(vecs[:, -1])


def _round_book(book: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.rint(book), info.min, info.max)
    return book


def _lloyd(X, w, C, v, max_iter, tol, rng):
    """Hamerly-accelerated Lloyd; empty codewords re-seeded at badly coded vectors."""
    from vqimage.vq import _blocks_kernels as K

    for _ in range(3):
        _, labels, dist = K.lloyd_hamerly(X, w, C, v, max_iter, tol)
        if not reseed_empty(X, w, C, labels, dist, rng):
            break
    return C


def _fit_kmeans(X, w, k, tol, rng):
    from vqimage.vq._split_kernel import split_tree

    C, _ = split_tree(X, w, k, False)
    C = np.ascontiguousarray(C)
    return _lloyd(X, w, C, _principal_axis(X, w), MAX_ITERATIONS, tol, rng)


def _fit_lbg(X, w, k, tol, rng):
    """Linde–Buzo–Gray: start from the centroid, split every codeword in two, re-run Lloyd."""
    from vqimage.vq import _blocks_kernels as K

    v = _principal_axis(X, w)
    mu = w @ X / w.sum()
    std = np.sqrt(w @ (X - mu) ** 2 / w.sum())
    eps = 1e-2 * np.maximum(std, 1e-12)
    C = mu[None, :].copy()
    while C.shape[0] < k:
        n_split = min(C.shape[0], k - C.shape[0])
        if n_split < C.shape[0]:
            # Last round: split the codewords that code the most error.
            labels = np.empty(X.shape[0], dtype=np.int64)
            dist = np.empty(X.shape[0])
            K.assign_proj(X, C, v, labels, dist)
            err = np.bincount(labels, weights=w * dist, minlength=C.shape[0])
            which = np.sort(np.argsort(-err, kind="stable")[:n_split])
        else:
            which = np.arange(C.shape[0])
        C = np.concatenate([C, C[which] + eps])
        C[which] -= eps
        C = _lloyd(X, w, np.ascontiguousarray(C), v, MAX_ITERATIONS, tol, rng)
    return C


def fit_blocks(
    image: Any,
    n_levels: int = 256,
    *,
    block: Any = (2, 2),
    strategy: str = "kmeans",
    random_state: int | None = 0,
) -> BlockQuantizer:
    """Fit a codebook of ``n_levels`` pixel blocks to a gray or colour image.

    Parameters
    ----------
    image : array_like of shape (height, width) or (height, width, channels)
        Gray or colour (1 to 4 channels) image of any real dtype.
    n_levels : int
        Codebook size, 2 to 65,536. An image with fewer distinct blocks gets exactly those
        (with a :class:`~vqimage.errors.FewerLevelsWarning`).
    block : (int, int) or int
        Block height and width; at most the image's.
    strategy : {"kmeans", "lbg"}
        ``kmeans`` (default): variance-split initial codebook refined by Lloyd iterations;
        ``lbg``: Linde–Buzo–Gray codebook splitting (1, 2, 4, ... codewords, Lloyd after each
        split), the classic VQ image-coding design.
    random_state : int or None
        Seeds the re-seeding of codewords left empty by Lloyd iterations (the only random step).

    Returns
    -------
    BlockQuantizer

    Notes
    -----
    Integer blocks that pack into 64 bits (e.g. 2x2 blocks of uint8 or uint16 gray) are fitted
    from their histogram of distinct blocks, exactly; others are fitted from every block. Lloyd
    iterations use Hamerly's bounds and an exact projected nearest-codeword search; they stop
    after :data:`MAX_ITERATIONS` or when no codeword moves more than :data:`TOLERANCE`. Integer
    codebooks are rounded to the image's dtype and the blocks are finally assigned to the
    rounded codewords, so :meth:`BlockQuantizer.encode` reproduces the fit's codes.

    Examples
    --------
    >>> import numpy as np
    >>> import vqimage
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 256, size=(30, 41), dtype=np.uint8)
    >>> q = vqimage.fit_blocks(img, 16, block=(2, 2))
    >>> q.codebook.shape, q.code_shape(img.shape)
    ((16, 4), (15, 21))
    >>> q.quantize(img).shape
    (30, 41)
    """
    arr = _check_image(image)
    bh, bw = _check_block(block)
    n = check_n_levels(n_levels)
    check_choice(strategy, "strategy", STRATEGIES)
    if bh > arr.shape[0] or bw > arr.shape[1]:
        raise ValueError(
            f"block {(bh, bw)} is larger than the image ({arr.shape[0]}x{arr.shape[1]})"
        )
    channels = arr.shape[2] if arr.ndim == 3 else None
    dim = bh * bw * (channels or 1)
    if dim > _MAX_DIM:
        raise ValueError(f"blocks of {dim} values are too large (at most {_MAX_DIM})")
    vec = _to_vectors(arr, (bh, bw))
    X0, w, inv = _distinct(vec)
    if inv is None:
        X0, counts = np.unique(vec, axis=0, return_counts=True)
        w = counts.astype(np.float64)
    X = np.ascontiguousarray(X0, dtype=np.float64)
    if X.shape[0] <= n:
        if X.shape[0] < n:
            warnings.warn(
                f"asked for {n} codewords, fitted {X.shape[0]}: the image has {X.shape[0]} "
                f"distinct block{'s' if X.shape[0] != 1 else ''}",
                FewerLevelsWarning,
                stacklevel=2,
            )
        book = X
    else:
        rng = np.random.default_rng(random_state)
        scale = 1.0 if arr.dtype.kind == "f" else float(1 << max(0, 8 * arr.dtype.itemsize - 8))
        if arr.dtype.kind == "f":
            span = float(X.max() - X.min())
            scale = span / 255.0 if span > 0 else 1.0
        tol = TOLERANCE * scale
        fitter = _fit_kmeans if strategy == "kmeans" else _fit_lbg
        book = fitter(X, w, n, tol, rng)
    return BlockQuantizer(
        _round_book(book, arr.dtype), block=(bh, bw), channels=channels, dtype=arr.dtype,
        strategy=strategy,
    )


class BlockQuantizer(FrozenQuantizer):
    """A codebook of pixel blocks; one code per block.

    Create one with :func:`fit_blocks` or :meth:`from_dict`. Immutable.

    Parameters
    ----------
    codebook : array_like of shape (n_levels, bh * bw * channels)
        Codewords, each a block flattened in (row, column, channel) order.
    block : (int, int)
        Block height and width.
    channels : int or None
        Channels of the images (None: 2-D gray images).
    dtype : dtype
        dtype of the images; integer codebooks are rounded and clipped to it.
    strategy : str
        How the codebook was fitted (informative).

    Examples
    --------
    >>> import numpy as np
    >>> q = BlockQuantizer([[0, 0, 0, 0], [255, 0, 255, 0]], block=(2, 2), dtype="uint8")
    >>> img = np.array([[250, 3, 10, 10], [251, 2, 0, 1]], dtype=np.uint8)
    >>> q.encode(img)
    array([[1, 0]], dtype=uint8)
    >>> q.decode(q.encode(img))
    array([[255,   0,   0,   0],
           [255,   0,   0,   0]], dtype=uint8)
    """

    __slots__ = ("_cache", "block", "channels", "codebook", "dtype", "strategy")
    _STATE = ("codebook", "block", "channels", "dtype", "strategy")

    codebook: np.ndarray
    block: tuple[int, int]
    channels: int | None
    dtype: np.dtype
    strategy: str

    def __init__(
        self,
        codebook: Any,
        *,
        block: Any = (2, 2),
        channels: int | None = None,
        dtype: Any = np.uint8,
        strategy: str = "custom",
    ) -> None:
        bh, bw = _check_block(block)
        dt = np.dtype(dtype)
        if dt.kind not in "uif" or dt == np.bool_:
            raise TypeError(f"dtype must be a real integer or float dtype, got {dt}")
        if channels is not None:
            if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or not (
                1 <= channels <= 4
            ):
                raise ValueError(f"channels must be None (gray) or 1 to 4, got {channels!r}")
            channels = int(channels)
        try:
            book = np.array(codebook, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError("codebook must be a 2-D array of numbers") from exc
        dim = bh * bw * (channels or 1)
        if book.ndim != 2 or book.shape[1] != dim:
            raise ValueError(
                f"codebook has shape {book.shape}; blocks of {bh}x{bw}x{channels or 1} need "
                f"(n_levels, {dim})"
            )
        check_codebook(book, "codebook", "codewords")
        book = np.ascontiguousarray(_round_book(book, dt))
        book.flags.writeable = False
        self._set(codebook=book, block=(bh, bw), channels=channels, dtype=dt,
                  strategy=str(strategy))

    def __repr__(self) -> str:
        return fields_repr("BlockQuantizer", strategy=self.strategy, n_levels=self.n_levels,
                           block=self.block, channels=self.channels, dtype=self.dtype)

    # -- derived attributes -------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"blocks"``: the quantizer family, as stored in ``to_dict()``."""
        return "blocks"

    def _check_shape(self, shape: tuple[int, ...]) -> None:
        want = 2 if self.channels is None else 3
        if len(shape) != want or (self.channels is not None and shape[2] != self.channels):
            what = "(height, width)" if self.channels is None else (
                f"(height, width, {self.channels})"
            )
            raise ValueError(f"image has shape {tuple(shape)}; this codebook codes {what} images")

    def code_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the codes of an image of ``shape``: the grid of (edge-padded) blocks."""
        shape = tuple(int(s) for s in shape)
        self._check_shape(shape)
        return _grid_shape(shape, self.block)

    def padded_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape :meth:`decode` returns for an image of ``shape`` (whole blocks)."""
        gh, gw = self.code_shape(shape)
        return (gh * self.block[0], gw * self.block[1], *shape[2:])

    def _decode_table(self) -> np.ndarray:
        return self._cached("dec", lambda: self.codebook.astype(self.dtype))

    # -- the transforms -----------------------------------------------------------------------
    def encode(self, image: Any, *, dither: bool = False) -> np.ndarray:
        """Code of the nearest codeword of every block (edges padded).

        Parameters
        ----------
        image : array_like
            (height, width) or (height, width, channels), as fitted.
        dither : bool
            Not supported for blocks (``ValueError`` if true); accepted for a uniform
            interface with the other quantizers.

        Returns
        -------
        ndarray of shape ``code_shape(image.shape)``, uint8 (up to 256 codewords) or uint16
        """
        from vqimage.vq import _blocks_kernels as K

        if dither:
            raise ValueError("dithering is not supported for block quantizers")
        arr = check_data(image, "image")
        self._check_shape(arr.shape)
        grid = _grid_shape(arr.shape, self.block)
        if self.n_levels == 1:
            return np.zeros(grid, dtype=self.code_dtype)
        vec = _to_vectors(arr, self.block)
        X0, _, inv = _distinct(vec)
        X = np.ascontiguousarray(X0, dtype=np.float64)
        if "axis" not in self._cache:
            self._cache["axis"] = _principal_axis(self.codebook, np.ones(self.n_levels))
        labels = np.empty(X.shape[0], dtype=np.int64)
        dist = np.empty(X.shape[0])
        K.assign_proj(X, np.ascontiguousarray(self.codebook), self._cache["axis"], labels, dist)
        if inv is not None:
            labels = labels[inv]
        return labels.astype(self.code_dtype).reshape(grid)

    def decode(self, codes: Any) -> np.ndarray:
        """The image of the codewords of ``codes`` (a grid of blocks): the *padded* image.

        Crop it to the original shape with ``out[:height, :width]``.
        """
        c = np.asarray(codes)
        if c.dtype.kind not in "ui" or c.dtype == np.bool_:
            raise TypeError(f"codes must have an integer dtype, got {c.dtype}")
        if c.ndim != 2:
            raise ValueError(f"codes must be a 2-D grid of blocks, got shape {c.shape}")
        if c.size and (int(c.min()) < 0 or int(c.max()) >= self.n_levels):
            raise ValueError(
                f"codes must be in [0, {self.n_levels - 1}], got values in "
                f"[{int(c.min())}, {int(c.max())}]"
            )
        vec = np.take(self._decode_table(), c.ravel(), axis=0)
        return _from_vectors(vec, c.shape, self.block, self.channels)

    def quantize(self, image: Any, *, dither: bool = False) -> np.ndarray:
        """Every block replaced by its codeword, cropped back to ``image``'s shape."""
        arr = check_data(image, "image")
        out = self.decode(self.encode(arr, dither=dither))
        return out[: arr.shape[0], : arr.shape[1]]

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; ``BlockQuantizer.from_dict(q.to_dict()) == q``."""
        book = self.codebook
        values = book.astype(np.int64).tolist() if self.dtype.kind in "ui" else book.tolist()
        return {
            "kind": "blocks",
            "strategy": self.strategy,
            "dtype": self.dtype.str,
            "block": list(self.block),
            "channels": self.channels,
            "codebook": values,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BlockQuantizer:
        """Rebuild a block quantizer from :meth:`to_dict` output; ``ValueError`` if malformed."""
        required = {"codebook", "dtype", "block"}
        dtype = read_description(d, "blocks", "block", "block quantizer", required)
        try:
            return cls(
                d["codebook"],
                block=tuple(d["block"]),
                channels=d.get("channels"),
                dtype=dtype,
                strategy=str(d.get("strategy", "custom")),
            )
        except TypeError as exc:
            raise ValueError(str(exc)) from exc
