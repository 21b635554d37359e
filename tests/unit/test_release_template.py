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
