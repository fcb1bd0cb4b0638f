"""The package's shape, checked over its source: method names stay inside methods/, imports point one way."""

from __future__ import annotations

import ast
from pathlib import Path

from pix2pix.methods import method_names

SRC = Path(__file__).resolve().parents[1] / "src" / "pix2pix"

# Where the package's own name is the program's name (``python -m pix2pix``), not a method.
PROGRAM_NAME_USES = {("launcher.py", "pix2pix")}

# Lower layers first: a module may import its own layer and the ones before it, never a later one.
LAYERS = [
    {"errors", "__init__", "stop_signals", "allocator"},
    {"config"},
    {"data", "metrics"},
    {"models"},
    {"runtime"},
    {"methods"},
    {"runs", "model_files"},
    {"training"},
    {"inference", "export", "research_import"},
    {"evaluation"},
    {"api", "demo_run"},
    {"serve"},
    {"launcher", "cli", "__main__"},
]


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _top(path: Path) -> str:
    """The first component under the package: 'training' for training/trainer.py, 'cli' for cli.py."""
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _layer(name: str) -> int:
    for index, layer in enumerate(LAYERS):
        if name in layer:
            return index
    raise AssertionError(f"{name} is in no layer of tests/test_architecture.py: add it where it belongs")


def _string_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants in comparisons, dict keys and container literals: the places a name is dispatched on."""
    found = []
    for node in ast.walk(tree):
        candidates: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            candidates = [node.left, *node.comparators]
        elif isinstance(node, ast.Dict):
            candidates = [k for k in node.keys if k is not None]
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            candidates = list(node.elts)
        for item in candidates:
            if isinstance(item, ast.Constant) and isinstance(item.value, str):
                found.append((item.lineno, item.value))
    return found


def test_no_module_outside_methods_dispatches_on_a_method_name():
    names = set(method_names())
    assert {"pix2pix", "cyclegan"} <= names
    offenders = []
    for path in _modules():
        if path.relative_to(SRC).parts[0] == "methods":
            continue
        for line, value in _string_uses(ast.parse(path.read_text())):
            if value in names and (path.name, value) not in PROGRAM_NAME_USES:
                offenders.append(f"{path.relative_to(SRC)}:{line}: '{value}'")
    assert not offenders, "method names outside methods/:\n" + "\n".join(offenders)


def test_the_check_finds_a_method_name_where_one_is_planted(tmp_path: Path):
    planted = ast.parse('if cfg.model.method == "cyclegan":\n    pass\nx = {"pix2pix": 1}\ny = ["cut"]\n')
    assert {v for _, v in _string_uses(planted)} == {"cyclegan", "pix2pix", "cut"}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported package-level module) for every import of the package, module level and in functions."""
    return [(line, dotted.split(".")[0]) for line, dotted in _imported_modules(path)]


def test_imports_point_one_way():
    upward = []
    for path in _modules():
        here = _top(path)
        for line, target in _imports(path):
            if target != here and _layer(target) > _layer(here):
                upward.append(f"{path.relative_to(SRC)}:{line} imports {target} (layer {_layer(target)} > {_layer(here)})")
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycle_between_top_level_modules():
    graph: dict[str, set[str]] = {}
    for path in _modules():
        here = _top(path)
        graph.setdefault(here, set()).update(t for _, t in _imports(path) if t != here)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if reaches(b, a, {b}))
    assert not cycles, "import cycles: " + ", ".join(cycles)


def _is_module(dotted: str, src: Path = SRC) -> bool:
    target = src.joinpath(*dotted.split("."))
    return target.with_suffix(".py").exists() or (target / "__init__.py").exists()


def _imported_modules(path: Path, src: Path = SRC, run_time_only: bool = False) -> list[tuple[int, str]]:
    """(line, dotted module under the package) for every import of the package in ``path``, module level and in
    functions; ``run_time_only`` leaves out imports under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    typing_only = {id(sub) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for child in node.body for sub in ast.walk(child)} if run_time_only else set()
    package = list(path.relative_to(src).with_suffix("").parts)[:-1]  # for __init__.py the package itself
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                module = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "pix2pix":
                module = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:  # "from .x import y": y may be a module of its own, else an attribute of x
                candidate = ".".join([*module, alias.name])
                found.append((node.lineno, candidate if _is_module(candidate, src) else ".".join(module) or "__init__"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, ".".join(a.name.split(".")[1:])) for a in node.names
                      if a.name.split(".")[0] == "pix2pix" and "." in a.name]
    return found


def _module_cycles(src: Path = SRC) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a loop, at run time (Tarjan's components)."""
    graph = {_module_name_in(p, src): {d for _, d in _imported_modules(p, src, run_time_only=True)}
             for p in sorted(src.rglob("*.py"))}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node] - {node}:
            if nxt not in graph:
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def _module_name_in(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "__init__"


def test_no_import_cycle_between_modules_of_one_package_at_run_time():
    assert not _module_cycles(), "modules that import each other at run time: " + "; ".join(
        " <-> ".join(group) for group in _module_cycles())


def test_the_module_cycle_check_sees_a_loop_and_ignores_type_checking_imports(tmp_path: Path):
    src = tmp_path / "pkg"
    (src / "methods").mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "methods" / "__init__.py").write_text("from .registry import resolve\n")
    (src / "methods" / "registry.py").write_text("def resolve():\n    from .base import build\n")
    (src / "methods" / "base.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                             "    from .registry import resolve\n")
    assert _module_cycles(src) == []  # a type-checking import is no cycle
    (src / "methods" / "base.py").write_text("from . import registry\n")  # a function-level import counts
    assert _module_cycles(src) == [["methods.base", "methods.registry"]]
