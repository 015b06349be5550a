"""A first run that compiles the numba kernels says so, at a terminal only."""

from __future__ import annotations

import importlib.util
import io
from types import SimpleNamespace

import click

from vqimage._shared import jit
from vqimage.cli import _ui


def test_uncompiled_kernels_looks_for_numba_index_files(tmp_path, monkeypatch):
    src = tmp_path / "_kernel.py"
    src.write_text("")
    spec = SimpleNamespace(origin=str(src))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert jit.uncompiled_kernels(("pkg._kernel",)) == ["pkg._kernel"]
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "_kernel._encode-12.py311.nbi").write_bytes(b"")
    assert jit.uncompiled_kernels(("pkg._kernel",)) == []


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_note_at_a_terminal_only(monkeypatch):
    monkeypatch.setattr(jit, "uncompiled_kernels", lambda modules=jit.KERNELS: ["k"])
    for stream, expected in ((_Tty(), True), (io.StringIO(), False)):
        monkeypatch.setattr(_ui.sys, "stderr", stream)
        with click.Context(click.Command("x")):
            _ui.note_first_compile()
        assert ("compiling kernels, first run only" in stream.getvalue()) is expected
