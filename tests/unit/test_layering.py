"""Packages import downward only: no two parts of ``shared`` import each other, directly or
through others (the house rule; a cycle is how a feature starts to know its callers)."""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "shared" else None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SHARED.rglob("*.py"):
        relative = path.relative_to(SHARED).parts
        source = relative[0].removesuffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = _part(name)
                if target and target != source:
                    graph.setdefault(source, set()).add(target)
    return graph


def test_no_part_of_shared_imports_one_that_imports_it():
    graph = _graph()

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for target in graph.get(todo.pop(), ()):
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    cycles = sorted(part for part in graph if part in reach(part))
    assert cycles == [], f"import cycles through {cycles}"
