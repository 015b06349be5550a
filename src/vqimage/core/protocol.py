"""What every quantizer is: the structural type that codecs, files, figures and adapters accept.

Scalar levels (:class:`vqimage.Quantizer`), palettes, per-channel levels and block codebooks
all satisfy :class:`QuantizerProtocol`; code that takes "a quantizer" is typed with it rather
than with ``Any``. ``tests/common.py`` runs one contract test over every kind.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["QuantizerProtocol"]


@runtime_checkable
class QuantizerProtocol(Protocol):
    """A fitted, immutable map between values and integer codes.

    Attributes
    ----------
    kind : str
        The family, a key of :data:`vqimage._shared.kinds.KINDS` (stored in files).
    n_levels : int
        Size of the codebook.
    dtype : numpy.dtype
        dtype of the reconstruction.
    bits : int
        Bits per packed code, ``ceil(log2(n_levels))``.
    codebook : ndarray
        The reconstruction values, one row (or value) per code.
    """

    @property
    def kind(self) -> str: ...

    @property
    def n_levels(self) -> int: ...

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def bits(self) -> int: ...

    @property
    def code_dtype(self) -> np.dtype: ...

    @property
    def codebook(self) -> np.ndarray: ...

    def encode(self, data: Any) -> Any:
        """Codes of ``data`` (shape :meth:`code_shape` of the data's shape)."""
        ...

    def decode(self, codes: Any) -> Any:
        """Reconstruction from codes."""
        ...

    def quantize(self, data: Any) -> Any:
        """``decode(encode(data))``."""
        ...

    def code_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the codes of data of ``shape``."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Every parameter as JSON-compatible values, with ``"kind"``."""
        ...

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuantizerProtocol:
        """Rebuild from :meth:`to_dict`'s output."""
        ...
