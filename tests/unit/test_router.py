"""The intake's event router: exact names, dotted prefixes, nothing else."""

import pytest

from shared.router import Router


def test_exact_name_wins_over_its_prefix():
    router: Router[str] = Router()
    router.add("issue", "any issue")
    router.add("issue.resolved", "resolved")
    assert router.route("issue.resolved") == "resolved"
    assert router.route("issue.ignored") == "any issue"
    assert router.route("issue") == "any issue"


def test_unknown_names_and_partial_words_route_nowhere():
    router: Router[str] = Router()
    router.add("workitem.updated", "updated")
    assert router.route("workitem.commented") is None
    assert router.route("workitem") is None
    assert router.route("workitem.updatedx") is None
    assert router.route("") is None


def test_a_name_takes_one_handler():
    router: Router[str] = Router()
    router.add("workitem.updated", "first")
    with pytest.raises(ValueError, match="already has a handler"):
        router.add("workitem.updated", "second")
    assert list(router) == ["workitem.updated"]


def test_the_webhook_routes_work_items_code_and_deployments():
    from shared.devops_intake.webhook import ROUTES

    assert list(ROUTES) == [
        "git.push",
        "ms.vss-pipelines.stage-state-changed-event",
        "ms.vss-release.deployment-completed-event",
        "workitem.commented",
        "workitem.updated",
    ]
