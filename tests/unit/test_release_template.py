"""Release version templates and patch types (pure)."""

import pytest

from shared.azure_devops.code_client import GitChange
from shared.errors import InvalidInput
from shared.releases.commits import patch_set, patch_type
from shared.releases.template import check_template, render, uses_build

VALUES = {
    "sha": "a" * 40,
    "short_sha": "a" * 12,
    "build": "20261123.4",
    "name": "web",
    "branch": "main",
}


@pytest.mark.parametrize(
    ("template", "version"),
    [
        ("{sha}", "a" * 40),
        ("{name}@{build}", "web@20261123.4"),
        ("backend@{short_sha}", "backend@" + "a" * 12),
        ("{name}-{branch}-{build}", "web-main-20261123.4"),
    ],
)
def test_templates_render(template, version):
    assert render(check_template(template), VALUES) == version


def test_unsafe_characters_become_dashes():
    assert render("{branch}", {"branch": "feature/x y"}) == "feature-x-y"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("", "empty"),
        ("{commit}", r"unknown placeholder\(s\) in the version template: commit"),
        ("{sha", "unbalanced braces"),
        ("x}", "unbalanced braces"),
    ],
)
def test_bad_templates_are_refused(template, message):
    with pytest.raises(InvalidInput, match=message):
        check_template(template)


def test_a_missing_value_or_a_reserved_version_is_refused():
    with pytest.raises(InvalidInput, match="needs \\{build\\}"):
        render("{name}@{build}", {"name": "web"})
    with pytest.raises(InvalidInput, match="not a Sentry release version"):
        render("latest", {})
    assert uses_build("{name}@{build}") and not uses_build("{sha}")


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ("add", "A"),
        ("edit", "M"),
        ("delete", "D"),
        ("rename", "M"),
        ("edit, rename", "M"),
        ("delete, sourceRename", "D"),
    ],
)
def test_patch_types(change, kind):
    assert patch_type(change) == kind


def test_folders_are_left_out_of_the_patch_set():
    changes = [
        GitChange.model_validate(
            {"item": {"path": "/src", "gitObjectType": "tree"}, "changeType": "add"}
        ),
        GitChange.model_validate(
            {"item": {"path": "/src/a.py", "gitObjectType": "blob"}, "changeType": "add"}
        ),
    ]
    assert patch_set(changes) == [{"path": "src/a.py", "type": "A"}]


@pytest.mark.parametrize(
    ("event", "publisher", "version"),
    [
        ("workitem.updated", "tfs", "1.0"),
        ("git.push", "tfs", "1.0"),
        ("ms.vss-release.deployment-completed-event", "rm", "3.0-preview.1"),
        ("ms.vss-pipelines.stage-state-changed-event", "pipelines", "5.1-preview.1"),
    ],
)
def test_each_subscription_names_its_publisher_and_resource_version(event, publisher, version):
    from shared.azure_devops.shapes import subscription_body

    body = subscription_body("https://app/api/workitems/webhook", "s3cret", "p-1", event_type=event)
    assert (body["eventType"], body["publisherId"], body["resourceVersion"]) == (
        event,
        publisher,
        version,
    )
    assert body["publisherInputs"] == {"projectId": "p-1"}
