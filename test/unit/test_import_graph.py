"""The import graph of the npuc package: no cycles, and every import points down the layers.

ARCHITECTURE.md's layering: tools -> api (and dse, the sweep) -> passes ->
backend/quantization/importers -> cost/emit/sim/reference -> targets/dialects.
Imports inside functions count (a lazy import for start-up speed must still
point down); imports under `if TYPE_CHECKING:` do not. `from package import
name` counts as importing the package (its `__init__` runs) and, when `name`
is a submodule, the submodule too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from support.paths import TEST

REPOSITORY = TEST.parent
SOURCE_ROOTS = {
    "npuc": REPOSITORY / "npuc",
    "npuc.dialects": REPOSITORY / "dialects",
    "npuc.passes": REPOSITORY / "passes",
    "npuc.tools": REPOSITORY / "tools",
}
"""Package -> source folder, as pyproject's package-dir installs them."""

LAYERS = (
    ("tools",),
    ("npuc", "api", "universe", "dse"),
    ("passes",),
    ("backend", "quantization", "importers", "report"),
    ("cost", "emit", "sim", "reference"),
    ("context", "data", "ir"),
    ("targets", "dialects"),
    ("errors",),
)
"""Top-level parts of the package, highest layer first; a module imports its own layer or lower ones."""


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found: dict[str, Path] = {}
    for package, folder in SOURCE_ROOTS.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, list[str]]]:
    """(module imported, names taken from it) for every import outside `if TYPE_CHECKING:`."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            yield base, [alias.name for alias in node.names]
        pending.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        targets: set[str] = set()
        for imported, names in _imported_names(ast.parse(path.read_text()), module, path.name == "__init__.py"):
            if not imported.startswith("npuc"):
                continue
            target = resolve(imported)
            if target:
                targets.add(target)
            targets.update(f"{imported}.{name}" for name in names if f"{imported}.{name}" in known)
        graph[module] = targets - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> int:
    """The layer of a module: its top-level part after `npuc` (the package itself for `npuc`)."""
    part = module.split(".")[1] if "." in module else "npuc"
    return next(number for number, parts in enumerate(LAYERS) if part in parts)


def test_the_graph_sees_lazy_imports_and_skips_type_checking_ones():
    graph = import_graph()
    assert "npuc.importers.onnx.importer" in graph["npuc.importers"]  # imported inside import_model
    assert "npuc.importers.onnx.importer" not in graph["npuc.importers.onnx.qdq_lower"]  # TYPE_CHECKING only
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_package_has_no_import_cycles():
    assert cycles(import_graph()) == []


def test_every_import_points_down_the_layers():
    upward = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if layer(target) < layer(module)
    ]
    assert upward == []
