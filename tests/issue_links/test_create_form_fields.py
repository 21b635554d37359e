"""The create form built from the work item type's own fields (iteration, priority, severity,
parent, other fields, the type's required fields), its remembered choices, and the answers
and schema checked with the JSON Schemas Sentry validates them with (tests/conformance)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import reply_json
from test_issue_link import CREATE, INSTALLATION, Ui

from shared.issue_links.schema import schema

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
PARAMS = {"installationId": INSTALLATION, "projectSlug": "backend"}


def _schemas() -> dict:
    return json.loads((CONFORMANCE / "sentry_response_schemas.json").read_text())


def _valid_select_answer(answer: list) -> None:
    jsonschema.Draft7Validator(_schemas()["select"]).validate(answer)


@pytest.fixture
def ui(app_env, register, stores, rsps, waits):
    ui = Ui(app_env, register(), stores, rsps)
    ui.ado.projects["Fabrikam"]["iterations"] = {
        "name": "Fabrikam", "children": [{"name": "Sprint 1"}, {"name": "Sprint 2"}],
    }  # fmt: skip
    return ui


def _depending(**chosen: str) -> dict:
    return {**PARAMS, "dependentData": json.dumps(chosen)}


def test_the_printed_schema_passes_sentrys_ui_schema_validator():
    ui_schema = json.loads((CONFORMANCE / "sentry_ui_schema.json").read_text())
    printed = schema("0c2f7a51-6b7e-4d4a-8e3c-1f2a3b4c5d6e", "acme")
    jsonschema.Draft7Validator(ui_schema).validate(printed)
    (create,) = [e["create"] for e in printed["elements"] if e["type"] == "issue-link"]
    names = [f["name"] for f in create["optional_fields"]]
    assert {"iterationPath", "priority", "severity", "parent", "otherFields"} <= set(names)


def test_selects_offer_the_types_own_values(ui):
    iterations = reply_json(ui.get("iterations", _depending(project="Fabrikam")))
    assert [o["value"] for o in iterations] == ["Fabrikam", "Fabrikam\\Sprint 1", "Fabrikam\\Sprint 2"]
    bug = _depending(project="Fabrikam", workItemType="Bug")
    assert [o["value"] for o in reply_json(ui.get("priorities", bug))] == ["1", "2", "3", "4"]
    severities = reply_json(ui.get("severities", bug))
    assert [o["value"] for o in severities][:2] == ["1 - Critical", "2 - High"]
    task = _depending(project="Fabrikam", workItemType="Task")
    assert reply_json(ui.get("severities", task)) == []  # a Task has no severity
    assert reply_json(ui.get("priorities", _depending(project="Fabrikam"))) == []  # no type yet
    for answer in (iterations, severities):
        _valid_select_answer(answer)


def test_create_sets_iteration_priority_severity_parent_and_other_fields(ui):
    ui.ado.type_fields["Bug"].append(
        {"referenceName": "Custom.Team", "name": "Team", "alwaysRequired": False,
         "allowedValues": ["Payments", "Search"]}
    )  # fmt: skip
    ui.ado.work_items[77] = {"System.TeamProject": "Fabrikam", "System.Title": "Epic"}
    fields = {
        **CREATE, "iterationPath": "Fabrikam\\Sprint 2", "priority": "1",
        "severity": "2 - High", "parent": "77", "otherFields": "team=payments\n\n",
    }  # fmt: skip
    response = ui.post("create", ui.request("create", fields))
    assert response.status_code == 200, reply_json(response)
    jsonschema.Draft7Validator(_schemas()["issue_link"]).validate(reply_json(response))
    (create,) = [c for c in ui.ado.calls if "$Bug" in c.path]
    ops = {op["path"]: op["value"] for op in create.body if op["path"].startswith("/fields/")}
    assert ops["/fields/System.IterationPath"] == "Fabrikam\\Sprint 2"
    assert ops["/fields/Microsoft.VSTS.Common.Priority"] == 1  # as Azure DevOps lists it
    assert ops["/fields/Microsoft.VSTS.Common.Severity"] == "2 - High"
    assert ops["/fields/Custom.Team"] == "Payments"  # by display name, any case
    relations = [op["value"] for op in create.body if op["path"] == "/relations/-"]
    assert {"rel": "System.LinkTypes.Hierarchy-Reverse",
            "url": f"{ui.ado.base_url}_apis/wit/workitems/77"} in relations  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"priority": "9"}, "priority: Priority must be one of: 1, 2, 3, 4"),
        ({"otherFields": "Custom.Nope=1"}, "otherFields: Bug in Fabrikam has no field 'Custom.Nope'"),
        ({"otherFields": "just text"}, "otherFields: line 1 is not Field=value"),
        ({"parent": "404"}, "parent: work item 404 does not exist"),
        ({"parent": "x"}, "parent must be a work item id"),
        ({"workItemType": "Task", "severity": "2 - High"}, "severity: Task in Fabrikam has no field"),
    ],
)
def test_what_the_type_does_not_take_is_400_naming_the_field(ui, fields, says):
    response = ui.post("create", ui.request("create", {**CREATE, **fields}))
    assert response.status_code == 400
    assert says in reply_json(response)["message"]
    assert not [c for c in ui.ado.calls if c.method == "POST"]  # nothing created
    assert ui.links() == []


def test_a_field_the_type_requires_is_asked_for_by_name_before_any_create(ui):
    ui.ado.type_fields["Bug"].append(
        {"referenceName": "Custom.Team", "name": "Team", "alwaysRequired": True}
    )
    response = ui.post("create", ui.request("create", CREATE))
    assert response.status_code == 400
    assert reply_json(response)["message"] == (
        "Bug in Fabrikam requires Custom.Team (Team): add a line such as Custom.Team=... "
        "to Other fields"
    )
    assert not [c for c in ui.ado.calls if c.method == "POST"]
    response = ui.post("create", ui.request("create", {**CREATE, "otherFields": "Custom.Team=Web"}))
    assert response.status_code == 200, reply_json(response)


def test_the_form_remembers_the_last_choices_per_sentry_project(ui):
    fields = {**CREATE, "areaPath": "Fabrikam\\Web", "iterationPath": "Fabrikam\\Sprint 1"}
    assert ui.post("create", ui.request("create", fields)).status_code == 200

    def defaults(action: str, params: dict) -> list[str]:
        answer = reply_json(ui.get(action, params))
        _valid_select_answer(answer)
        return [o["value"] for o in answer if o.get("default")]

    assert defaults("projects", PARAMS) == ["Fabrikam"]
    assert defaults("types", _depending(project="Fabrikam")) == ["Bug"]
    assert defaults("areas", _depending(project="Fabrikam")) == ["Fabrikam\\Web"]
    assert defaults("iterations", _depending(project="Fabrikam")) == ["Fabrikam\\Sprint 1"]
    other_project = {**PARAMS, "projectSlug": "frontend"}
    assert defaults("projects", other_project) == []  # per Sentry project
    # The next create changes what is remembered.
    again = {**CREATE, "workItemType": "Task", "title": "Another"}
    assert ui.post("create", ui.request("create", again)).status_code == 200
    assert defaults("types", _depending(project="Fabrikam")) == ["Task"]
    assert defaults("areas", _depending(project="Fabrikam")) == []  # left empty: forgotten


def test_an_alert_rule_naming_a_field_the_type_lacks_is_not_saved(ui):
    settings = [
        {"name": "project", "value": "Fabrikam"},
        {"name": "workItemType", "value": "Bug"},
        {"name": "otherFields", "value": "Custom.Nope=1"},
    ]
    body = {"installationId": INSTALLATION, "fields": settings}
    response = ui.post("alert-rule/settings", body)
    assert response.status_code == 400
    assert "Bug in Fabrikam has no field 'Custom.Nope'" in reply_json(response)["message"]
    settings[2] = {"name": "priority", "value": "2"}
    assert ui.post("alert-rule/settings", body).status_code == 200


# -- Sentry data into Azure DevOps fields ---------------------------------------------------------


def _map(ui: Ui, *argv: str) -> tuple[int, str, str]:
    import io

    from shared.cli import main as cli

    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["integration", "field-map", ui.registered.id, *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_field_maps_write_sentry_values_into_the_new_work_item(ui, rsps):
    ui.sentry.issues["4242"].update(level="fatal", first_release="web@1.4.2",
                                    tags={"environment": "production", "customer": "Contoso"})  # fmt: skip
    ui.ado.type_fields["Bug"] += [
        {"referenceName": "Microsoft.VSTS.Build.FoundIn", "name": "Found In", "alwaysRequired": False},
        {"referenceName": "Custom.Customer", "name": "Customer", "alwaysRequired": False},
        {"referenceName": "Custom.Users", "name": "Users affected", "alwaysRequired": False},
    ]  # fmt: skip
    for argv in (
        ("--project", "Fabrikam", "--type", "Bug", "--source", "level", "--field", "severity",
         "--value", "fatal=1 - Critical", "--value", "error=2 - High"),
        ("--project", "*", "--type", "*", "--source", "release",
         "--field", "Microsoft.VSTS.Build.FoundIn"),
        ("--project", "Fabrikam", "--type", "Bug", "--source", "tags.customer",
         "--field", "Custom.Customer"),
        ("--project", "Fabrikam", "--type", "Bug", "--source", "userCount",
         "--field", "Users affected"),
    ):  # fmt: skip
        code, out, err = _map(ui, *argv)
        assert code == 0, err
    shown = json.loads(out)
    assert shown[0] == {
        "project": "Fabrikam", "type": "Bug", "source": "level",
        "field": "Microsoft.VSTS.Common.Severity",  # stored by reference name
        "values": {"fatal": "1 - Critical", "error": "2 - High"}, "live": False,
    }  # fmt: skip
    response = ui.post("create", ui.request("create", CREATE))
    assert response.status_code == 200, reply_json(response)
    (create,) = [c for c in ui.ado.calls if "$Bug" in c.path]
    ops = {op["path"]: op["value"] for op in create.body if op["path"].startswith("/fields/")}
    assert ops["/fields/Microsoft.VSTS.Common.Severity"] == "1 - Critical"
    assert ops["/fields/Microsoft.VSTS.Build.FoundIn"] == "web@1.4.2"
    assert ops["/fields/Custom.Customer"] == "Contoso"
    assert ops["/fields/Custom.Users"] == "3"
    # The form's own choice wins over the map.
    again = {**CREATE, "title": "Another", "severity": "4 - Low"}
    assert ui.post("create", ui.request("create", again)).status_code == 200
    last = [c for c in ui.ado.calls if "$Bug" in c.path][-1]
    assert {op["path"]: op["value"] for op in last.body}["/fields/Microsoft.VSTS.Common.Severity"] == "4 - Low"


def test_a_value_the_map_does_not_list_sets_nothing(ui):
    ui.sentry.issues["4242"]["level"] = "debug"
    assert _map(ui, "--project", "Fabrikam", "--type", "Bug", "--source", "level",
                "--field", "Severity", "--value", "fatal=1 - Critical")[0] == 0  # fmt: skip
    assert ui.post("create", ui.request("create", CREATE)).status_code == 200
    (create,) = [c for c in ui.ado.calls if "$Bug" in c.path]
    assert not [op for op in create.body if op["path"].endswith("Severity")]
    assert not [c for c in ui.sentry.calls if "events/latest" in c.path]  # not needed


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("--project", "Fabrikam", "--type", "Task", "--source", "level", "--field", "Severity"),
         "Task in Fabrikam has no field 'Severity'"),
        (("--project", "*", "--type", "*", "--source", "level", "--field", "Custom.Nope"),
         "Azure DevOps has no field 'Custom.Nope'"),
        (("--project", "Fabrikam", "--type", "Bug", "--source", "level", "--field", "Severity",
          "--value", "fatal=Blocker"), "not 'Blocker'"),
        (("--project", "Fabrikam", "--type", "Bug", "--source", "colour", "--field", "Severity"),
         "--source must be one of"),
        (("--project", "Fabrikam", "--type", "Bug", "--source", "level", "--field", "Severity",
          "--value", "fatal"), "is not <Sentry value>=<field value>"),
    ],
)  # fmt: skip
def test_a_map_the_type_cannot_take_is_refused_at_set_up(ui, argv, says):
    code, out, err = _map(ui, *argv)
    assert (code, out) == (1, "") and says in err
    assert ui.stores.integrations.get(ui.registered.id).field_maps == ()
