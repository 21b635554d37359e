"""Admin command line over the app's storage (the ``AzureWebJobsStorage`` app setting).

Run it as ``.venv/bin/python -m shared.cli --help`` from the app's folder. Settings come from
the environment, then from ``local.settings.json`` (as ``func`` reads them). Output is JSON
for listings; the only secret ever printed is a newly generated webhook secret, once. Bad
input gives a one-line message on stderr and exit code 1 (2 for a malformed command line).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from shared import settings
from shared.cli import audit, integrations, links, maintenance, poison, releases, subscriptions
from shared.cli.examples import CLI, EXAMPLES
from shared.credentials import check_setting_name, token_from_setting
from shared.errors import ConfigurationError, InvalidInput, StorageUnavailable, SyncError
from shared.store.storage import Storage, get_storage

Command = Callable[[argparse.Namespace, Storage, TextIO], None]

# Command group -> what runs it; each module adds its own arguments.
COMMANDS: dict[str, Command] = {
    "integration": integrations.run,
    "link": links.run,
    "poison": poison.run,
    "subscription": subscriptions.run,
    "reconcile": maintenance.reconcile,
    "prune": maintenance.prune_rows,
    "audit": audit.run,
    "release": releases.run,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.cli",
        description="Administer the Azure DevOps / Sentry sync app (uses AzureWebJobsStorage).",
    )
    groups = parser.add_subparsers(dest="group", required=True)
    for module in (integrations, links, poison, subscriptions):
        module.add_parser(groups)
    maintenance.add_parsers(groups)
    audit.add_parser(groups)
    releases.add_parser(groups)
    _no_abbreviations(parser)
    _add_examples(parser, [])
    return parser


def _add_examples(parser: argparse.ArgumentParser, path: list[str]) -> None:
    """Each command's ``--help`` ends with its examples (``shared.cli.examples``)."""
    shown = EXAMPLES.get(" ".join(path))
    if shown:
        parser.epilog = "examples:\n" + "\n".join(f"  {CLI} {line}" for line in shown)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                _add_examples(sub, [*path, name])


def _no_abbreviations(parser: argparse.ArgumentParser) -> None:
    """``--pat`` must not pass for ``--pat-setting``: an abbreviation that works today
    silently means another option once one is added."""
    parser.allow_abbrev = False
    # argparse offers no public way to walk its subparsers.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _no_abbreviations(sub)


def _check_named_settings(args: argparse.Namespace) -> list[str]:
    """Every ``--*-setting`` names an app setting the app will read: refuse a placeholder
    before anything is stored; say so when it is not set here (it may live only in the
    function app's settings, which this command cannot see). Returns the warnings."""
    warnings = []
    for option, name in sorted(vars(args).items()):
        if not option.endswith("_setting") or not isinstance(name, str) or not name:
            continue
        flag = "--" + option.replace("_", "-")
        check_setting_name(name)
        try:
            token_from_setting(name)
        except ConfigurationError as exc:
            if name not in os.environ:
                warnings.append(
                    f"warning: {flag} {name}: not set here (environment or "
                    f"{settings.LOCAL_SETTINGS.name}). The app reads it from its own settings: "
                    f"set it there (az functionapp config appsettings set --settings {name}=...), "
                    "or here for make run.\n"
                )
            else:
                raise InvalidInput(f"{flag} {name}: {exc}") from None
    return warnings


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    storage: Storage | None = None
    try:
        # As func does: local.settings.json's Values, where the environment has none.
        settings.apply_local_settings(settings.LOCAL_SETTINGS)
        warnings = _check_named_settings(args)
        storage = get_storage()
        COMMANDS[args.group](args, storage, out)
    except StorageUnavailable as exc:
        where = f" at {storage.endpoint}" if storage is not None else ""
        err.write(
            f"error: {exc}{where}. Is it running? For local work, make run starts Azurite; "
            "otherwise check AzureWebJobsStorage (the environment, then local.settings.json).\n"
        )
        return 1
    except (SyncError, argparse.ArgumentTypeError) as exc:
        err.write(f"error: {exc}\n")
        return 1
    err.writelines(warnings)
    return 0
