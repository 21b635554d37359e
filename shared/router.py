"""A registry of handlers by event name, matched on the longest dotted prefix.

``workitem.updated`` is routed to a handler added for ``workitem.updated``, else for
``workitem``, else to nothing: so a service's intake grows by adding a handler, not by editing
a chain of ifs (the way ``requests`` picks a transport adapter by URL prefix).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

H = TypeVar("H")


class Router(Generic[H]):
    def __init__(self) -> None:
        self._handlers: dict[str, H] = {}

    def add(self, name: str, handler: H) -> None:
        """Route ``name`` (``resource.action``, or ``resource`` for every action) to ``handler``."""
        if name in self._handlers:
            raise ValueError(f"{name} already has a handler")
        self._handlers[name] = handler

    def route(self, name: str) -> H | None:
        """The handler for ``name`` or its longest registered prefix; None if there is none."""
        key = name
        while True:
            handler = self._handlers.get(key)
            if handler is not None:
                return handler
            key, dot, _ = key.rpartition(".")
            if not dot:
                return None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._handlers))
