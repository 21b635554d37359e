"""What every command group shares: JSON output and the collection id argument."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO


def print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def id_argument(parser: argparse.ArgumentParser, *, optional: bool = False) -> None:
    if optional:
        parser.add_argument("id", nargs="?", help="collection id (default: every integration)")
    else:
        parser.add_argument("id", help="collection id")
