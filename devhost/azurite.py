"""Start Azurite (installed from package-lock.json) for local runs, data under .azurite/."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening")


def start_azurite(app_root: Path, timeout: float = 60.0) -> subprocess.Popen[str]:
    executable = app_root / "node_modules" / ".bin" / "azurite"
    if not executable.exists():
        raise FileNotFoundError("Azurite is not installed: run `make run` (it runs npm ci)")
    data = app_root / ".azurite"
    data.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [
            str(executable),
            "--disableTelemetry",  # it phones home otherwise
            "--skipApiVersionCheck",
            "--location", str(data),
            "--blobHost", "127.0.0.1",
            "--queueHost", "127.0.0.1",
            "--tableHost", "127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    ready = threading.Event()
    seen: set[str] = set()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            match = _LISTENING.search(line)
            if match:
                seen.add(match[1])
                if len(seen) == 3:
                    ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout):
        process.terminate()
        raise RuntimeError("Azurite did not start:\n" + "".join(output[-10:]))
    return process
