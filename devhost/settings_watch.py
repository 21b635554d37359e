"""``local.settings.json`` edited while devhost runs: its Values are applied again, so a token
or an option changed there is in force for the next invocation, as an app setting changed in
Azure is (where the platform restarts the app). ``func start`` reads the file once; with it,
restart after an edit.

Variables set in the environment before devhost started still win, as at start. Settings that
bind the host itself (storage, queue names, worker count, host.json overrides) are read once:
an edit to one of them is reported with a request to restart.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger("devhost.settings")
CHECK_SECONDS = 1.0
_HOST_BOUND = ("AzureWebJobsStorage", "FUNCTIONS_WORKER_PROCESS_COUNT", "FUNCTIONS_WORKER_RUNTIME")


class SettingsWatcher:
    def __init__(self, path: Path, bound: frozenset[str] = frozenset()) -> None:
        self.path = path
        self._bound = frozenset(_HOST_BOUND) | bound
        values = self._values() or {}
        # Set outside the file (a different value won at start): never overridden. A variable
        # that equals the file's value is taken as the file's.
        self._outside = {n for n in os.environ if n not in values or os.environ[n] != values[n]}
        self._applied = {k: v for k, v in values.items() if k not in self._outside}
        self._stamp = self._stat()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="settings-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def _values(self) -> dict[str, str] | None:
        """The file's Values; None when it cannot be read as settings (say why, keep going)."""
        try:
            settings = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.error("%s could not be read (%s); settings unchanged", self.path.name, exc)
            return None
        values = settings.get("Values") if isinstance(settings, dict) else None
        if not isinstance(values, Mapping):
            log.error("%s has no Values object; settings unchanged", self.path.name)
            return None
        return {str(key): str(value) for key, value in values.items()}

    def _run(self) -> None:
        while not self._stop.wait(CHECK_SECONDS):
            self.check()

    def check(self) -> list[str]:
        """Apply the file again if it changed; returns the names of the settings changed."""
        stamp = self._stat()
        if stamp == self._stamp:
            return []
        self._stamp = stamp
        values = self._values()
        if values is None:
            return []
        changed = sorted(
            name
            for name in set(values) | set(self._applied)
            if name not in self._outside and values.get(name) != self._applied.get(name)
        )
        for name in changed:
            if name in values:
                os.environ[name] = values[name]
            else:
                os.environ.pop(name, None)
        self._applied = {k: v for k, v in values.items() if k not in self._outside}
        if changed:
            # Names only: values are tokens.
            log.warning(
                "%s changed: %s in force from the next invocation",
                self.path.name,
                ", ".join(changed),
            )
            restart = [
                name
                for name in changed
                if name in self._bound or name.startswith("AzureFunctionsJobHost__")
            ]
            if restart:
                log.warning("%s bind the host: restart make run for them", ", ".join(restart))
        return changed
