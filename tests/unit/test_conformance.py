"""Our function.json and host.json files pass the schemas SchemaStore publishes for them (as
editors and deploy tooling check them): draft-04 with ``const``, as ajv-draft-04 reads it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "tests" / "conformance"
# Draft-04 with draft-06's ``const``, which SchemaStore's draft-04 files use.
Draft4WithConst = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"const": jsonschema.Draft6Validator.VALIDATORS["const"]}
)


def _schema(name: str) -> dict:
    return json.loads((CONFORMANCE / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "path", sorted(ROOT.glob("*/function.json")), ids=lambda p: p.parent.name
)
def test_function_json_passes_schemastore(path):
    Draft4WithConst(_schema("schemastore_function.json")).validate(json.loads(path.read_text()))


def test_host_json_passes_schemastore():
    Draft4WithConst(_schema("schemastore_host.json")).validate(
        json.loads((ROOT / "host.json").read_text())
    )


def test_a_wrong_binding_is_refused():
    """The check can fail: a binding with a direction SchemaStore does not know."""
    spec = json.loads((ROOT / "SyncStatus" / "function.json").read_text())
    spec["bindings"][0]["direction"] = "sideways"
    with pytest.raises(jsonschema.ValidationError):
        Draft4WithConst(_schema("schemastore_function.json")).validate(spec)
