"""What an HTTP function answers, independent of the Functions library."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)


def error(status: int, reason: str, headers: dict[str, str] | None = None) -> Reply:
    """``{"error": reason}``: a short, specific reason that never holds a secret."""
    return Reply(status, {"error": reason}, headers or {})
