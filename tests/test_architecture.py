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
    tree = ast.parse(path.read_text())
    package_parts = path.relative_to(SRC).parts[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = list(package_parts[: len(package_parts) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # "from . import x" at the top: x is the module
                    target = [alias.name for alias in node.names][:1]
                elif not node.module:
                    target = target + [node.names[0].name]
            elif node.module and node.module.split(".")[0] == "pix2pix":
                target = node.module.split(".")[1:] or [node.names[0].name]
            else:
                continue
            name = target[0]
            if not (SRC / name).is_dir() and not (SRC / f"{name}.py").exists():
                name = "__init__"  # an attribute of the package itself, e.g. __version__
            found.append((node.lineno, name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "pix2pix" and len(parts) > 1:
                    found.append((node.lineno, parts[1]))
    return found


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
