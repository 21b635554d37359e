"""What every command group shares: JSON output and the collection id argument."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from shared.errors import InvalidInput


def print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def id_argument(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    if optional:
        parser.add_argument("id", nargs="?", help="collection id (default: every integration)")
    else:
        parser.add_argument("id", help="collection id")


def yes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", "-y", action="store_true", help="do not ask for confirmation (as az does)"
    )


def confirm(args: argparse.Namespace, what: str) -> None:
    """Ask before a command destroys something, as ``az`` does: ``--yes`` skips the question;
    without a terminal to ask on, the command is refused."""
    if getattr(args, "yes", False):
        return
    if not sys.stdin.isatty():
        raise InvalidInput(f"{what}: no terminal to confirm on; add --yes to go ahead")
    sys.stderr.write(f"{what}. Are you sure? (y/N): ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise InvalidInput("cancelled; nothing changed")
