"""The README and docs/ cannot drift from the code: every command they show is parsed (the
CLI's own parser, the Makefile, devhost's options), every link between them resolves, the
sample output of ``make run`` is what devhost prints, and the README's first sync runs
against Azurite with Azure DevOps and Sentry faked."""

from __future__ import annotations

import argparse
import io
import json
import re
import shlex
from pathlib import Path

import pytest
from conftest import ROOT
from fakes import FakeAzureDevOps, FakeSentry

from shared.cli import main as cli
from shared.cli.examples import CLI, EXAMPLES

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"^ *```(\w*)\n(.*?)^ *```", re.M | re.S)


def _blocks(path: Path) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for m in _BLOCK.finditer(path.read_text(encoding="utf-8"))]


def _commands(text: str) -> list[str]:
    """Shell lines of a block, continuation lines joined."""
    return [line.strip() for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def _cli_lines(path: Path) -> list[str]:
    return [
        line
        for kind, text in _blocks(path)
        if kind == "sh"
        for line in _commands(text)
        if line.startswith(CLI + " ")
    ]


def _parse(line: str) -> argparse.Namespace:
    argv = shlex.split(line[len(CLI) :], comments=True)
    return cli.build_parser().parse_args(argv)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_cli_command_shown_parses(path):
    for line in _cli_lines(path):
        assert "<" not in line, f"{path.name}: a placeholder in a command: {line}"
        try:
            _parse(line)
        except SystemExit as exc:
            if exc.code != 0 or "--help" not in line:
                pytest.fail(f"{path.name}: does not parse: {line}")


def _leaves(parser: argparse.ArgumentParser, path: list[str]):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path)
    for action in subs:
        for name, sub in action.choices.items():
            yield from _leaves(sub, [*path, name])


def test_every_command_has_examples_in_its_help_and_in_the_cli_reference(capsys):
    reference = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = list(_leaves(cli.build_parser(), []))
    assert len(commands) > 25
    assert sorted(EXAMPLES) == sorted(commands)
    for command in commands:
        for example in EXAMPLES[command]:
            assert f"{CLI} {example}" in reference, f"docs/cli.md lacks: {example}"
            _parse(f"{CLI} {example}")
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["link", "add", "--help"])
    assert f"examples:\n  {CLI} {EXAMPLES['link add'][0]}" in capsys.readouterr().out


def test_make_targets_and_devhost_options_shown_exist():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z]+):", makefile, re.M))
    from devhost.__main__ import main as devhost_main  # noqa: F401 - its parser is below

    devhost_flags = {"--port", "--azurite", "--help", "--console-user"}
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"`make (\w+)`|^make (\w+)", text, re.M):
            name = target[0] or target[1]
            assert name in targets, f"{path.name}: make {name} is no target"
        for flags in re.findall(r"python -m devhost((?: --[\w-]+)+)", text):
            assert set(flags.split()) <= devhost_flags, f"{path.name}: devhost {flags}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_between_the_docs_resolve():
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target:
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            assert linked.exists(), f"{path.name}: {target} does not exist"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.M)
                assert anchor in {_slug(h) for h in headings}, f"{path.name}: {target}"


def test_the_make_run_sample_lists_what_devhost_prints(app_env, monkeypatch):
    from devhost.host import Host

    for name, value in (
        ("SYNC_QUEUE_NAME", "workitem-sync"),
        ("SENTRY_QUEUE_NAME", "sentry-events"),
        ("RELEASE_QUEUE_NAME", "releases"),
    ):
        monkeypatch.setenv(name, value)
    host = Host(ROOT, port=0)
    printed = [line.replace(f":{host.http.port}/", ":7071/") for line in host.describe()]
    ((_, sample),) = [
        (k, t) for k, t in _blocks(ROOT / "docs" / "running-locally.md") if "devhost (" in t
    ]
    shown = [line for line in sample.splitlines() if line.startswith("  ")]
    assert shown == printed
    assert len(shown) == len([p for p in ROOT.glob("*/function.json")])


def test_the_readme_first_sync_runs(app_env, rsps, monkeypatch):
    """Section "A first sync in ten minutes", command by command, against fakes."""
    import azure.functions.queue as func_queue

    import SyncStatus

    monkeypatch.setenv("ADO_PAT_CONTOSO", "pat-of-the-readme")
    monkeypatch.setenv("SENTRY_TOKEN_ACME", "token-of-the-readme")
    app_env.secrets += ["pat-of-the-readme", "token-of-the-readme"]
    ado = FakeAzureDevOps(rsps, "pat-of-the-readme")
    sentry = FakeSentry(rsps, "https://us.sentry.io/", "acme", "token-of-the-readme")
    ado.work_items[4812] = {
        "System.WorkItemType": "Bug", "System.TeamProject": "Fabrikam", "System.Title": "Crash",
    }  # fmt: skip
    sentry.add_issue("1234567")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A first sync in ten minutes", 1)[1].split("\n## ", 1)[0]
    steps = [
        [line for line in _commands(text) if line.startswith(CLI)]
        for kind, text in _BLOCK.findall(section)
        if kind == "sh"
    ]
    assert [len(step) for step in steps] == [4, 2]

    def run(line: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(shlex.split(line[len(CLI) :]), out=out, err=err)
        assert code == 0, f"{line}: {err.getvalue()}"
        return out.getvalue()

    for line in steps[0]:
        run(line)
    # "Close work item 4812 in Azure Boards": revision 2 moves it to Closed.
    ado.revs[4812] = 2
    ado.updates[4812] = [
        {"id": 1, "workItemId": 4812, "rev": 1, "fields": {"System.State": {"newValue": "New"}}},
        {
            "id": 2, "workItemId": 4812, "rev": 2,
            "revisedBy": {"displayName": "Priya Raman", "uniqueName": "priya@contoso.com"},
            "fields": {"System.State": {"oldValue": "Active", "newValue": "Closed"}},
        },
    ]  # fmt: skip
    reconcile, audit = steps[1]
    assert [m["rev"] for m in json.loads(run(reconcile))["queued"]] == [2]
    queue = app_env.storage().queue
    for message in queue.receive_messages(max_messages=32):  # devhost's SyncStatus, by hand
        SyncStatus.main(
            func_queue.QueueMessage(id=message.id, body=message.content.encode(), dequeue_count=1)
        )
        queue.delete_message(message)
    assert sentry.issues["1234567"]["status"] == "resolved"
    assert json.loads(run(audit))[0]["outcome"] == "applied"
