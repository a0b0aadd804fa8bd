"""Imports go one way: values <- blocks (ops, nets) <- space adapters <- methods <- loops <- CLI, with no cycle
between modules, counting imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import parsecnas

ROOT = Path(parsecnas.__file__).parent

# the layer of each module (by dotted prefix under parsecnas; the longest prefix wins); imports may only point to
# the same or a lower layer
LAYERS = {
    "_text": 0, "_config_convert": 0, "config": 0, "config_help": 0, "run": 0, "run.distributed": 0, "run.tracking": 0,
    "run.ray_pool": 0,
    "ops": 1,
    "distributions": 1, "spaces.base": 1, "spaces.genotype": 1,
    "spaces.nb201_arch": 1, "spaces.elastic_arch": 1, "data": 1, "optim": 1, "nets": 2, "report": 2, "report.runs": 2,
    "report.html": 2, "export": 3, "evaluation": 3,
    "spaces": 3, "estimators": 4, "predict": 4, "pareto": 1, "strategies": 4, "search": 5, "search_config": 5,
    "elastic_extract": 5,
    "train": 5, "train_config": 5, "train_seeds": 5,
    "warm_start": 5, "demo": 5, "blackbox_run": 5, "library": 5,
    "ensemble": 6, "tune": 6, "tune_space": 1, "scaling": 6, "scaling.base": 1, "scaling.search": 5,
    "scaling.elastic": 6,
    "cli": 7, "cli_estimators": 7, "cli_tune": 7, "cli_library": 7, "cli_scale": 7, "cli_elastic": 7, "cli_models": 7,
    "cli_train": 7,
    "__main__": 8,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every parsecnas module ``path`` imports, at the top or inside functions."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                target = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").startswith("parsecnas"):
                target = (node.module or "").removeprefix("parsecnas").lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if (ROOT / Path(*sub.split("."))).with_suffix(".py").is_file()
                          or (ROOT / Path(*sub.split(".")) / "__init__.py").is_file() else target)
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("parsecnas.") for a in node.names if a.name.startswith("parsecnas.")}
    return {f for f in found if f and f != name}


GRAPH = {module_name(p): imports(p) for p in ROOT.rglob("*.py")}


def layer(module: str) -> int:
    best = max((k for k in LAYERS if module == k or module.startswith(k + ".")), key=len, default=None)
    assert best is not None, f"module {module!r} has no layer in LAYERS"
    return LAYERS[best]


def test_the_graph_sees_imports_inside_functions() -> None:
    assert "report" in GRAPH["spaces.darts"]  # DartsSpace.draw imports the drawing code when it draws
    assert "nets" in GRAPH["spaces.darts"] and "spaces.genotype" in GRAPH["nets.cells"]


def test_no_module_imports_a_higher_layer() -> None:
    wrong = sorted(f"{m} ({layer(m)}) -> {t} ({layer(t)})" for m, targets in GRAPH.items() if m  # "": the root
                   for t in targets if layer(t) > layer(m))
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_modules_import_no_cycle() -> None:
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for t in sorted(GRAPH.get(m, ())):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(t):], t]))
            if t not in state:
                visit(t, [*trail, t])
        state[m] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
