"""sphinx-gallery helpers for the vqimage docs.

``vqimage.plot`` builds every figure as a plain :class:`matplotlib.figure.Figure`, without
pyplot, so sphinx-gallery's own matplotlib scraper (which walks ``pyplot.get_fignums()``)
never sees them. :func:`figure_scraper` saves, after each code block, every Figure bound to
a global name of the example that it has not saved before.
"""

from __future__ import annotations

from typing import Any

# Figures already saved, per example file (kept alive so ``id`` values are never reused).
_SEEN: dict[str, list[Any]] = {}


def _figures(value: Any) -> list[Any]:
    from matplotlib.figure import Figure

    if isinstance(value, Figure):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, Figure)]
    return []


def figure_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    from sphinx_gallery.scrapers import figure_rst

    seen = _SEEN.setdefault(str(block_vars["src_file"]), [])
    new = []
    for value in list(block_vars["example_globals"].values()):
        for fig in _figures(value):
            if not any(fig is s for s in seen) and not any(fig is n for n in new):
                new.append(fig)
    paths = []
    for fig, path in zip(new, block_vars["image_path_iterator"]):
        fig.savefig(path, dpi=80)
        seen.append(fig)
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])
