"""Admin command line over the app's storage (the ``AzureWebJobsStorage`` app setting).

Run it as ``.venv/bin/python -m shared.cli --help`` from the app's folder. Settings come from
the environment, then from ``local.settings.json`` (as ``func`` reads them). Output is JSON
for listings; the only secret ever printed is a newly generated webhook secret, once. Bad
input gives a one-line message on stderr and exit code 1 (2 for a malformed command line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from shared import settings
from shared.cli import audit, integrations, links, maintenance, poison, releases, subscriptions
from shared.errors import SyncError
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
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        # As func does: local.settings.json's Values, where the environment has none.
        settings.apply_local_settings(settings.LOCAL_SETTINGS)
        COMMANDS[args.group](args, get_storage(), out)
    except (SyncError, argparse.ArgumentTypeError) as exc:
        err.write(f"error: {exc}\n")
        return 1
    return 0
