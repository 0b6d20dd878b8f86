"""The package's shape: imports run one way, no cycles (deferred imports included), and the
use cases stay free of Celery and the web layer."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "gophermart"
# Lower rooms never import higher ones (the domain modules sit below them all).
ROOMS = ["runtime", "api", "web", "accrual", "services"]
# Top-level modules that start things and so may look into the rooms: the factory, the
# `python -m` entry point and the `flask` command group.
ENTRY_POINTS = {"gophermart", "gophermart.__main__", "gophermart.commands"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules this file imports, at the top or inside functions."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, known) - {name} for name, path in known.items()}


def room_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ROOMS) else None


def test_no_import_cycle_anywhere_deferred_imports_included():
    edges, cycles = graph(), []
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target) :] + [target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for start in sorted(edges):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_rooms_import_only_downwards():
    upwards = []
    for source, targets in graph().items():
        here = room_of(source)
        for target in targets:
            there = room_of(target)
            if here is None:  # the domain: below every room
                if there is not None and source not in ENTRY_POINTS:
                    upwards.append((source, target))
            elif there is not None and there != here and ROOMS.index(there) < ROOMS.index(here):
                upwards.append((source, target))
    assert upwards == []


def test_use_cases_import_neither_celery_nor_the_web_layer():
    offenders = []
    for path in (PACKAGE / "services").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            offenders += [(path.name, n) for n in names if n.split(".")[0] in ("celery", "kombu", "flask_login")]
    assert offenders == []


def test_the_top_level_holds_at_most_fifteen_modules():
    assert len(list(PACKAGE.glob("*.py"))) <= 15
