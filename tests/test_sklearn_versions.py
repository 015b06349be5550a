"""The scikit-learn versions the drop-in supports, and the private helpers it relies on.

``vqimage.sklearn`` subclasses scikit-learn's ``KBinsDiscretizer`` and uses four private
helpers (``sklearn.base._fit_context``, ``sklearn.utils._param_validation.StrOptions``,
``sklearn.utils.stats._weighted_percentile``, ``sklearn.utils.validation._check_sample_weight``)
and the private class attribute ``_parameter_constraints``. They are tested with scikit-learn
1.7 to 1.9; the ``sklearn`` extra pins ``>=1.7,<1.10`` so that a release that moves them is not
installed silently. A new scikit-learn version is supported once these tests pass with it.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import tomllib

sklearn = pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]
TESTED = ((1, 7), (1, 9))


def _version() -> tuple[int, int]:
    major, minor = sklearn.__version__.split(".")[:2]
    return int(major), int(minor)


def test_installed_version_is_a_tested_one():
    assert TESTED[0] <= _version() <= TESTED[1], (
        f"scikit-learn {sklearn.__version__} is outside the tested {TESTED}: run this suite "
        "with it and widen TESTED and the extra's pin"
    )


def test_extra_pins_the_tested_versions():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert "scikit-learn>=1.7,<1.10" in extras["sklearn"]


def test_private_helpers_exist_with_the_signatures_used():
    from sklearn.base import _fit_context
    from sklearn.preprocessing import KBinsDiscretizer
    from sklearn.utils._param_validation import StrOptions
    from sklearn.utils.stats import _weighted_percentile
    from sklearn.utils.validation import _check_sample_weight

    assert "prefer_skip_nested_validation" in inspect.signature(_fit_context).parameters
    assert {"strategy", "n_bins", "encode"} <= set(KBinsDiscretizer._parameter_constraints)
    assert StrOptions({"a"}).is_satisfied_by("a")
    params = inspect.signature(_weighted_percentile).parameters
    assert {"array", "sample_weight"} <= set(params) and "average" in params
    assert {"sample_weight", "X"} <= set(inspect.signature(_check_sample_weight).parameters)


def test_the_drop_in_imports_and_fits():
    import numpy as np

    from vqimage.sklearn import KBinsDiscretizer

    X = np.arange(40, dtype=float).reshape(-1, 2)
    for strategy in ("uniform", "quantile", "kmeans", "optimal"):
        est = KBinsDiscretizer(n_bins=3, encode="ordinal", strategy=strategy).fit(X)
        assert est.transform(X).shape == X.shape
