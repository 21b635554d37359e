"""An in-memory stand-in for ``shared.store.storage.Storage``, for the webhook CPU benchmark only.

It implements the few Table calls the webhook and the stores make, so the benchmark measures
our code rather than Azurite. Filters are the simple ones our code writes (``eq``, ``ge``,
``lt``, ``and``, ``or``, parentheses, ``@parameters``); each is compiled once, and rows are
kept per partition so a lookup costs what Table Storage's index makes it cost.
"""

from __future__ import annotations

import bisect
import re
from functools import lru_cache
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

_OPERATORS = {"eq": "==", "ne": "!=", "ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_TOKEN = re.compile(r"\(|\)|@\w+|\w+")


@lru_cache(maxsize=64)
def _compile(query: str) -> Any:
    parts = []
    for token in _TOKEN.findall(query):
        if token in _OPERATORS:
            parts.append(_OPERATORS[token])
        elif token in ("and", "or", "(", ")"):
            parts.append(token)
        elif token.startswith("@"):
            parts.append(f"p[{token[1:]!r}]")
        else:
            parts.append(f"e.get({token!r})")
    expression = " ".join(parts)
    return eval(f"lambda e, p: {expression}")  # noqa: S307 - our own filters, benchmark only


class MemoryTable:
    calls = 0  # table calls made through a CountingTable (what real storage would bill)

    def __init__(self) -> None:
        self.partitions: dict[str, dict[str, dict[str, Any]]] = {}
        self.sorted_keys: dict[str, list[str]] = {}

    def _put(self, partition_key: str, row_key: str, entity: dict[str, Any]) -> None:
        partition = self.partitions.setdefault(partition_key, {})
        if row_key not in partition:
            bisect.insort(self.sorted_keys.setdefault(partition_key, []), row_key)
        partition[row_key] = entity

    def get_entity(self, partition_key: str, row_key: str) -> dict[str, Any]:
        try:
            return dict(self.partitions[partition_key][row_key])
        except KeyError:
            raise ResourceNotFoundError("not found") from None

    def create_entity(self, entity: dict[str, Any]) -> None:
        if entity["RowKey"] in self.partitions.get(entity["PartitionKey"], {}):
            raise ResourceExistsError("exists")
        self._put(entity["PartitionKey"], entity["RowKey"], dict(entity))

    def upsert_entity(self, entity: dict[str, Any], **_: Any) -> None:
        current = self.partitions.get(entity["PartitionKey"], {}).get(entity["RowKey"], {})
        self._put(entity["PartitionKey"], entity["RowKey"], {**current, **entity})

    def update_entity(self, entity: dict[str, Any], **_: Any) -> None:
        """A merge (conditions are not checked: the benchmark runs one thing at a time)."""
        if entity["RowKey"] not in self.partitions.get(entity["PartitionKey"], {}):
            raise ResourceNotFoundError("not found")
        self.upsert_entity(entity)

    def query_entities(self, query: str, parameters: dict[str, Any], **_: Any) -> Any:
        """Rows as Table Storage pages them: lazily, in key order, so a caller that stops
        early pays for what it read."""
        match = _compile(query)
        if "pk" in parameters and query.startswith("PartitionKey eq @pk"):
            partition = self.partitions.get(parameters["pk"], {})
            if "lo" in parameters and "hi" in parameters:
                # Candidates as an index would find them: the key range plus point keys.
                keys = self.sorted_keys.get(parameters["pk"], [])
                lo = bisect.bisect_left(keys, parameters["lo"])
                hi = bisect.bisect_left(keys, parameters["hi"])
                points = [v for k, v in parameters.items() if k.startswith("k")]
                rows: Any = (partition[keys[i]] for i in range(lo, hi))
                if points:
                    rows = [*rows, *(partition[k] for k in points if k in partition)]
            else:
                rows = list(partition.values())
        else:
            rows = [row for partition in self.partitions.values() for row in partition.values()]
        return (dict(row) for row in rows if match(row, parameters))

    def submit_transaction(self, operations: list[tuple]) -> None:
        for operation in operations:
            kind, entity = operation[0], operation[1]
            if kind == "create":
                self.create_entity(entity)
            elif kind == "upsert":
                self.upsert_entity(entity)
            elif kind == "delete":
                if self.partitions.get(entity["PartitionKey"], {}).pop(entity["RowKey"], None):
                    self.sorted_keys[entity["PartitionKey"]].remove(entity["RowKey"])


class CountingTable(MemoryTable):
    """A MemoryTable that counts each call the app makes (one per call, a transaction too)."""

    def get_entity(self, *args: Any, **kwargs: Any) -> Any:
        MemoryTable.calls += 1
        return super().get_entity(*args, **kwargs)

    def create_entity(self, *args: Any, **kwargs: Any) -> Any:
        MemoryTable.calls += 1
        return super().create_entity(*args, **kwargs)

    def upsert_entity(self, *args: Any, **kwargs: Any) -> Any:
        MemoryTable.calls += 1
        return super().upsert_entity(*args, **kwargs)

    def update_entity(self, *args: Any, **kwargs: Any) -> Any:
        MemoryTable.calls += 1
        return MemoryTable.upsert_entity(self, *args, **kwargs) if self._exists(args) else (
            super().update_entity(*args, **kwargs)
        )

    def _exists(self, args: tuple) -> bool:
        entity = args[0] if args else {}
        return entity.get("RowKey") in self.partitions.get(entity.get("PartitionKey"), {})

    def query_entities(self, *args: Any, **kwargs: Any) -> Any:
        MemoryTable.calls += 1
        return super().query_entities(*args, **kwargs)

    def submit_transaction(self, operations: list[tuple]) -> None:
        MemoryTable.calls += 1
        for operation in operations:  # the operations themselves are not calls
            kind, entity = operation[0], operation[1]
            if kind in ("create", "upsert"):
                MemoryTable.upsert_entity(self, entity)
            elif kind == "delete":
                if self.partitions.get(entity["PartitionKey"], {}).pop(entity["RowKey"], None):
                    self.sorted_keys[entity["PartitionKey"]].remove(entity["RowKey"])


class MemoryStorage:
    def __init__(self, counting: bool = False) -> None:
        self._tables: dict[str, MemoryTable] = {}
        self._kind = CountingTable if counting else MemoryTable
        self.sent: list[str] = []

    def table(self, name: str) -> MemoryTable:
        return self._tables.setdefault(name, self._kind())

    def send(self, text: str, kind: str = "sync", delay: int | None = None) -> None:
        self.sent.append(text)

    def send_sentry_event(self, text: str, delay: int | None = None) -> None:
        self.sent.append(text)
