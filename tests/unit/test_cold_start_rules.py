"""Rules about how the code is written, held by tests: what keeps cold starts short (the bench
measures the effect, part 4), and what every audit row must say."""

from __future__ import annotations

import importlib
import pkgutil

import pydantic

import shared


def _models() -> list[type[pydantic.BaseModel]]:
    for info in pkgutil.walk_packages(shared.__path__, "shared."):
        if not info.name.endswith(".__main__"):
            importlib.import_module(info.name)
    found: list[type[pydantic.BaseModel]] = []
    todo = list(pydantic.BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        todo.extend(model.__subclasses__())
        if model.__module__.startswith("shared."):
            found.append(model)
    return found


def test_every_model_builds_its_validator_on_first_use():
    models = _models()
    assert len(models) > 20  # the walk found the shapes
    eager = sorted(m.__qualname__ for m in models if not m.model_config.get("defer_build"))
    assert eager == [], f"models without defer_build=True: {eager}"


def test_every_audit_row_says_what_it_was_about():
    """The console shows the last decision of each kind: every writer names its kind."""
    import ast
    from pathlib import Path

    missing = []
    for path in Path(shared.__path__[0]).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "AuditEntry"
                and "kind" not in {k.arg for k in node.keywords}
            ):
                missing.append(f"{path.name}:{node.lineno}")
    assert missing == []
