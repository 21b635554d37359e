"""Load function folders the way the Functions host and its Python worker do.

For each folder holding a ``function.json``: read ``scriptFile`` (default ``__init__.py``) and
``entryPoint`` (default ``main``), check the bindings as the host and worker check them, and
import the module as ``__app__.<FolderName>`` with the app root on ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BINDING_NAME = re.compile(r"^([a-zA-Z][a-zA-Z0-9]{0,127}|\$return)$")
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)


class FunctionLoadError(Exception):
    """A function folder the real host would refuse to load."""


@dataclass
class Function:
    name: str
    folder: Path
    entry: Callable[..., Any]
    bindings: list[dict[str, Any]]
    parameters: list[str] = field(default_factory=list)

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.bindings if b["type"].endswith("Trigger"))

    def outputs(self, kind: str) -> list[dict[str, Any]]:
        return [
            b
            for b in self.bindings
            if b["type"] == kind and b.get("direction") == "out" and b["name"] != "$return"
        ]


def _app_package(app_root: Path) -> None:
    """The worker's synthetic namespace package ``__app__`` rooted at the app folder."""
    if str(app_root) not in sys.path:
        sys.path.append(str(app_root))
    package = sys.modules.get("__app__")
    if package is None:
        package = types.ModuleType("__app__")
        package.__path__ = [str(app_root)]  # type: ignore[attr-defined]
        sys.modules["__app__"] = package


def _check_bindings(name: str, bindings: Any) -> list[dict[str, Any]]:
    if not isinstance(bindings, list) or not bindings:
        raise FunctionLoadError(f"{name}: function.json has no bindings")
    seen: set[str] = set()
    triggers = 0
    for binding in bindings:
        if not isinstance(binding, dict) or not all(
            k in binding for k in ("type", "direction", "name")
        ):
            raise FunctionLoadError(f"{name}: every binding needs type, direction and name")
        binding_name = binding["name"]
        if not _BINDING_NAME.match(binding_name):
            raise FunctionLoadError(
                f"{name}: binding name {binding_name!r} is invalid (letters and digits only)"
            )
        if binding_name.lower() in seen:
            raise FunctionLoadError(f"{name}: binding name {binding_name!r} is used twice")
        seen.add(binding_name.lower())
        if binding["direction"] not in ("in", "out"):
            raise FunctionLoadError(f"{name}: direction {binding['direction']!r} is not supported")
        if binding_name == "$return" and binding["direction"] != "out":
            raise FunctionLoadError(f"{name}: $return must be an output binding")
        if binding["type"].endswith("Trigger"):
            triggers += 1
    if triggers != 1:
        raise FunctionLoadError(f"{name}: a function needs exactly one trigger binding")
    return bindings


def load_function(app_root: Path, folder: Path) -> Function:
    name = folder.name
    if not _FUNCTION_NAME.match(name) or name.lower() == "host":
        raise FunctionLoadError(f"{name}: not a valid function name")
    try:
        spec = json.loads((folder / "function.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FunctionLoadError(f"{name}: cannot read function.json ({exc})") from None
    if spec.get("disabled") is True:
        raise FunctionLoadError(f"{name}: disabled in function.json")
    bindings = _check_bindings(name, spec.get("bindings"))
    script = spec.get("scriptFile", "__init__.py")
    if not script.endswith(".py"):
        raise FunctionLoadError(f"{name}: scriptFile {script!r} is not a Python file")
    if not (folder / script).is_file():
        raise FunctionLoadError(f"{name}: scriptFile {script} not found")
    entry_point = spec.get("entryPoint", "main")

    _app_package(app_root)
    module_name = f"__app__.{name}"
    if script != "__init__.py":
        module_name += "." + Path(script).stem
    module = importlib.import_module(module_name)
    entry = getattr(module, entry_point, None)
    if not callable(entry):
        raise FunctionLoadError(f"{name}: function {entry_point}() is not present in {script}")

    parameters = list(inspect.signature(entry).parameters)
    binding_names = {b["name"] for b in bindings if b["name"] != "$return"}
    missing = binding_names - set(parameters)
    extra = set(parameters) - binding_names - {"context"}
    if missing or extra:
        raise FunctionLoadError(
            f"{name}: {entry_point}() parameters {sorted(parameters)} do not match the "
            f"binding names {sorted(binding_names)}"
        )
    return Function(name, folder, entry, bindings, parameters)


def load_app(app_root: Path) -> list[Function]:
    """Every function under ``app_root``; raises on the first folder the host would refuse."""
    functions = [
        load_function(app_root, folder)
        for folder in sorted(app_root.iterdir())
        if (folder / "function.json").is_file()
    ]
    if not functions:
        raise FunctionLoadError(f"no function folders under {app_root}")
    return functions
