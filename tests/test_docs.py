"""The documentation builds with no warnings, gallery included.

Runs ``python -m sphinx -W -b html docs <tmp>/_build`` in a subprocess: Sphinx, numpydoc,
sphinx-gallery and myst-parser must be installed (a missing one fails the test, it is not
skipped). The raccoon face reaches the examples through the pooch cache that conftest.py sets
up (``XDG_CACHE_HOME``, inherited by the subprocess); ``docs/conf.py`` never downloads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    out = tmp_path / "_build"
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-b", "html", "docs", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False,
    )
    assert proc.returncode == 0, (
        f"sphinx exited {proc.returncode}\n--- stdout (tail)\n{proc.stdout[-4000:]}"
        f"\n--- stderr\n{proc.stderr[-8000:]}"
    )
    first = out / "auto_examples" / "plot_vector_quantization.html"
    assert first.is_file(), sorted(p.name for p in (out / "auto_examples").glob("*"))
    html = first.read_text(encoding="utf-8")
    assert "Vector quantization of the raccoon face" in html
    assert "sphx_glr_plot_vector_quantization_001.png" in html  # the figures were scraped
    for page in ("index.html", "api.html", "format.html", "benchmarks.html",
                 "architecture.html", "guide/python_api.html"):
        assert (out / page).is_file(), page
