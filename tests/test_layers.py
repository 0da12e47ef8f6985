"""The layers of docs/overview.md, enforced: every import of ganvas points down (or sideways where allowed).

The walk reads each module's source with `ast` (nothing is imported) and records every import of a
ganvas module, at module level or inside a function: a lazy import is a dependency all the same.
Imports under ``if TYPE_CHECKING:`` are left out: they exist for annotations only and never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "ganvas"

# Top to bottom. A package may import packages of lower layers; within a layer only the pairs in
# SIDEWAYS. The package `ganvas` itself (ganvas/__init__.py: ganvas.load) is the public facade, on top.
LAYERS: list[tuple[str, ...]] = [
    ("ganvas", "__main__", "cli", "commands"),      # the command line and the public facade
    ("app",),                                        # presets and options → prepared runs
    ("studio",),                                     # the web studio: routers over services
    ("explore", "eval", "publish"),                  # steering, judging and publishing trained models' outputs
    ("api", "translator", "writer", "style", "loaded"),  # trained models loaded from checkpoints
    ("train",),                                      # the loop, checkpoints, logs
    ("nets",),                                       # generator/discriminator pairs
    ("objectives",),                                 # losses, penalties, augmentations, objectives
    ("domains", "data", "music", "text"),            # kinds of data, datasets, notes ↔ piano-rolls, verse
    ("accel", "distributed", "seeds", "config", "registry", "files", "console", "errors", "version"),  # leaves
]
SIDEWAYS = {
    ("__main__", "cli"), ("cli", "commands"), ("ganvas", "api"), ("ganvas", "version"),
    ("explore", "eval"),            # projection's feature loss uses eval's random CNN
    ("publish", "eval"),            # the memorization guard finds neighbours in eval's features
    ("publish", "explore"),         # an output's manifest signs explore's provenance record
    ("api", "translator"), ("api", "style"), ("api", "loaded"), ("translator", "loaded"),
    ("api", "writer"), ("writer", "loaded"),
    ("data", "music"), ("domains", "music"), ("data", "text"), ("domains", "text"),
    ("config", "registry"), ("config", "errors"), ("registry", "errors"), ("files", "errors"),
    ("console", "errors"), ("accel", "errors"), ("distributed", "errors"),
}
LAYER_OF = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def exists(module: str) -> bool:
    base = ROOT.parent.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def package(module: str) -> str:
    """The top-level part of ganvas a module belongs to: `train` for ganvas.train.loop, `ganvas` for ganvas."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "ganvas"


def runtime_nodes(tree: ast.AST):
    """Every node of `tree` outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path, me: str | None = None) -> set[str]:
    """The ganvas modules `path` (module `me`) imports at run time (`from pkg import sub` counts as pkg.sub)."""
    me = me or module_name(path)
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = me.split(".") if path.name == "__init__.py" else me.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            subs = [f"{base}.{a.name}" for a in node.names if exists(f"{base}.{a.name}")]
            found.update(subs if subs else [base])
    return {m for m in found if m == "ganvas" or m.startswith("ganvas.")}


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package → imported package → the modules whose imports make that arrow."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        src = module_name(path)
        for target in imports_of(path):
            a, b = package(src), package(target)
            if a != b:
                graph.setdefault(a, {}).setdefault(b, []).append(f"{src} → {target}")
    return graph


def test_every_package_has_a_layer() -> None:
    packages = {package(module_name(p)) for p in ROOT.rglob("*.py")}
    assert packages <= set(LAYER_OF), f"put these in LAYERS (and docs/overview.md): {packages - set(LAYER_OF)}"


def test_imports_point_down() -> None:
    wrong = []
    for a, targets in package_graph().items():
        for b, why in targets.items():
            down = LAYER_OF[b] > LAYER_OF[a]
            if not down and (a, b) not in SIDEWAYS:
                wrong.append(f"{a} → {b}: {why[0]}")
    assert not wrong, "imports against the layers of docs/overview.md:\n" + "\n".join(wrong)


def test_no_import_cycles_between_packages() -> None:
    graph = {a: set(t) for a, t in package_graph().items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    cycles = sorted(a for a in graph if reaches(a, a, set()))
    assert not cycles, f"packages on an import cycle: {cycles}"


@pytest.mark.parametrize("rule, source, forbidden", [
    ("the loop imports no domain, dataset, evaluation, API or studio code", "train",
     ("domains", "data", "eval", "api", "translator", "studio", "explore", "app")),
    ("models never import the loop", "nets", ("train",)),
])
def test_named_rules(rule: str, source: str, forbidden: tuple[str, ...]) -> None:
    arrows = package_graph().get(source, {})
    assert not set(arrows) & set(forbidden), f"{rule}: {[arrows[b][0] for b in set(arrows) & set(forbidden)]}"


def test_domains_never_import_each_other() -> None:
    domains = {p.stem for p in (ROOT / "domains").glob("*.py")} - {"__init__", "base"}
    for name in domains:
        others = {f"ganvas.domains.{d}" for d in domains - {name}}
        assert not imports_of(ROOT / "domains" / f"{name}.py") & others, name


def test_the_walk_sees_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    """The checker itself: a function-level import counts, a TYPE_CHECKING one does not."""
    src = tmp_path / "probe.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ganvas.api import load\n"
                   "def f():\n    from ganvas.studio import app\n    from . import loop\n", encoding="utf-8")
    assert imports_of(src, "ganvas.train.probe") == {"ganvas.studio.app", "ganvas.train.loop"}
