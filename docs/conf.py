"""Sphinx configuration for the vqimage docs: ``python -m sphinx -W docs docs/_build``.

Nothing here reaches the network: intersphinx is off, the theme is Sphinx's bundled
``alabaster``, and the raccoon face the examples use is placed in pooch's cache from a local
copy (``$VQIMAGE_FACE_DAT`` or ``shared/data/face.dat`` beside the repository), never
downloaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT / "src"))  # document this checkout, not another install
os.environ.setdefault("MPLBACKEND", "Agg")

import vqimage  # noqa: E402

# -- the raccoon face, offline ---------------------------------------------------------------
FACE_SHA256 = "9d8b0b4d081313e2b485748c770472e5a95ed1738146883d84c7030493e82886"


def _face_sources() -> list[Path]:
    found = []
    if os.environ.get("VQIMAGE_FACE_DAT"):
        found.append(Path(os.environ["VQIMAGE_FACE_DAT"]))
    # ../shared/data/face.dat beside the repository (or beside any folder above it, so a git
    # worktree nested deeper finds the same file).
    found += [p / "shared" / "data" / "face.dat" for p in ROOT.parents]
    return found


def _place_face() -> None:
    from vqimage.data import face_cache_path

    target = face_cache_path()
    if target.is_file():
        return
    for src in _face_sources():
        if src.is_file() and hashlib.sha256(src.read_bytes()).hexdigest() == FACE_SHA256:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, target)
            return
    # Not found: the examples fail with vqimage.data.face's FileNotFoundError, which names
    # the cache path; nothing is downloaded.


_place_face()

# -- project ---------------------------------------------------------------------------------
project = "vqimage"
author = "vqimage developers"
copyright = "vqimage developers, BSD-3-Clause"
release = vqimage.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "_ext", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "**/*.md5",
                    "auto_examples/*.codeobj.json"]
# No network: no intersphinx, no remote images.
default_role = "code"
# Attribute names such as n_levels exist on every quantizer: numpydoc's Attributes sections would
# otherwise warn that a bare name has several targets.
suppress_warnings = ["ref.python"]

# -- autodoc / autosummary / numpydoc --------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "none"  # the numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- myst (the .md pages: docs/format.md, the user guide, generated benchmark tables) --------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- sphinx-gallery --------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    # vqimage.plot draws Figures without pyplot: collect them from the examples' globals.
    "image_scrapers": ("matplotlib", "vqimage_gallery.figure_scraper"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
    "abort_on_example_error": True,
    "min_reported_time": 0,
}

# -- HTML ------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"vqimage {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Quantize images into a few levels; store them in the bits they need.",
    "fixed_sidebar": False,
    "show_powered_by": False,
}


# -- docstring fixes applied at build time (the sources are not edited) ----------------------
_META_REQUEST = re.compile(r"set_\w+_request")
# A numpydoc "name : type" line; in its type, a bare identifier ending in "_" (such as
# "(n_features_in_,)") would be read by reStructuredText as a link to a missing target.
_FIELD = re.compile(r"^(\s*\w[\w, ]* : )(.*)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`])([A-Za-z]\w*_)(?![\w`])")


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods (metadata routing) on every estimator
    # subclass; their docstrings point into scikit-learn's own docs.
    if what == "class" and _META_REQUEST.fullmatch(name):
        return True
    return None


def _quote_type_identifiers(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        m = _FIELD.match(line)
        if m:
            lines[i] = m.group(1) + _TRAILING_UNDERSCORE.sub(r"``\1``", m.group(2))


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
    # Before numpydoc (priority 500) turns the sections into field lists.
    app.connect("autodoc-process-docstring", _quote_type_identifiers, priority=400)
