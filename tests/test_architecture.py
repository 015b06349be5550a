"""The package's layers, checked: imports go one way, no cycles, no heavy imports in the core.

Layers, lowest first (a module may import its own package and any lower layer)::

    errors               the exception and warning classes
    _shared              validation, dtypes, filesystem, arrays, kinds, optional, version
    core                 histogram, strategies, quantizer, metrics, the protocol
    codecs | vq          one module per codec | palettes, blocks, channels, dithering
    io | data            image files | sample images
    vqi                  the .vqi file: format, chunked, compress/load, inspect
    viz | sklearn | dask | numcodecs     figures and report | the adapters
    cli                  the command line

Every ``import`` counts, at module level or inside a function. Layers reach higher ones only
through a registry read by name (``_shared.kinds``, ``_shared.arrays``), never by an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "vqimage"

LAYERS: list[set[str]] = [
    {"errors"},
    {"_shared"},
    {"core"},
    {"codecs", "vq"},
    {"io", "data"},
    {"vqi"},
    {"viz", "sklearn", "dask", "numcodecs"},
    {"cli"},
]
# Optional or heavy third-party packages, and the lowest layer allowed to import them.
HEAVY = {
    "matplotlib": "viz", "sklearn": "sklearn", "dask": "vqi", "distributed": "dask",
    "zarr": "numcodecs", "numcodecs": "numcodecs", "PIL": "io", "tifffile": "io",
    "skimage": "data", "pooch": "data", "rich": "cli", "click": "cli", "imagecodecs": "io",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    p = SRC.parent / Path(*name.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module ``path`` imports (absolute names), with line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # "from vqimage.vq import palette" imports the submodule vqimage.vq.palette (and
            # runs vqimage.vq's __init__, which is the package, not a module with code).
            subs = [f"{mod}.{a.name}" for a in node.names if _is_module(f"{mod}.{a.name}")]
            out += [(sub, node.lineno) for sub in subs]
            if len(subs) < len(node.names):
                out.append((mod, node.lineno))
    return out


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "vqimage" and len(parts) > 1 else None


def _layer(room: str) -> int:
    for i, rooms in enumerate(LAYERS):
        if room in rooms:
            return i
    raise AssertionError(f"vqimage.{room} is in no layer: add it to LAYERS")


FILES = sorted(p for p in SRC.rglob("*.py"))
GRAPH = {_module_name(p): _imports(p) for p in FILES}


def test_every_module_has_a_layer():
    for mod in GRAPH:
        room = _room(mod)
        if room is not None:
            _layer(room)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_one_way(path):
    me = _module_name(path)
    room = _room(me)
    if room is None:  # vqimage/__init__.py: the public face, served lazily by name
        return
    bad = []
    for target, line in GRAPH[me]:
        other = _room(target)
        if target == "vqimage":
            bad.append(f"line {line}: imports the vqimage package itself")
        elif other is not None and other != room and _layer(other) >= _layer(room):
            bad.append(f"line {line}: vqimage.{room} (layer {_layer(room)}) imports {target} "
                       f"(layer {_layer(other)})")
        top = target.split(".")[0]
        if top in HEAVY and _layer(room) < _layer(HEAVY[top]):
            bad.append(f"line {line}: vqimage.{room} imports {top}, allowed from "
                       f"vqimage.{HEAVY[top]}'s layer up")
    assert not bad, f"{me}:\n" + "\n".join(bad)


def test_no_import_cycles():
    internal = {m: {t for t, _ in deps if t in GRAPH and t != m} for m, deps in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in internal[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in internal:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_stub_lists_every_lazily_served_name():
    import vqimage

    stub = (SRC / "__init__.pyi").read_text(encoding="utf-8")
    served = set(vqimage._LAZY) | set(vqimage.__all__)
    missing = sorted(n for n in served if f" as {n}\n" not in stub)
    assert not missing, f"add to src/vqimage/__init__.pyi: {missing}"
    for name in served:
        assert getattr(vqimage, name) is not None


def test_lazy_internal_imports_are_kernels_or_cli():
    """Inside functions, vqimage imports only numba kernels (so that ``import vqimage`` does not
    import numba) or, in the CLI, what a subcommand needs (start-up time): anything else is a
    module-level import, where the layering is visible."""
    bad = []
    for path in FILES:
        me = _module_name(path)
        if me.startswith("vqimage.cli"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (
                    node.level or (node.module or "").startswith("vqimage")
                ):
                    names = [f"{node.module}.{a.name}" for a in node.names] + [node.module or ""]
                    if not any("kernel" in n for n in names):
                        bad.append(f"{me} line {node.lineno}: {node.module}")
    assert not bad, "\n".join(bad)
