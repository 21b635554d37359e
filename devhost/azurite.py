"""Start Azurite (installed from package-lock.json) on 127.0.0.1, for local runs and tests.

Always with ``--disableTelemetry`` (Azurite phones home otherwise) and
``--skipApiVersionCheck`` (the storage SDKs may speak a newer API version than Azurite knows).
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented; not a secret).
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_PORTS = {"Blob": 10000, "Queue": 10001, "Table": 10002}
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at .*:(\d+)")


@dataclass
class Azurite:
    process: subprocess.Popen[str]
    ports: dict[str, int]
    output: list[str] = field(default_factory=list)

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.ports['Blob']}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.ports['Queue']}/{ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{self.ports['Table']}/{ACCOUNT};"
        )

    def stop(self) -> None:
        """SIGINT is Azurite's own graceful stop (it saves its data); past a few seconds
        (open keep-alive connections hold it) it is killed."""
        for stop, wait in ((signal.SIGINT, 5), (signal.SIGTERM, 2), (signal.SIGKILL, 5)):
            if self.process.poll() is not None:
                return
            self.process.send_signal(stop)
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def start_azurite(
    app_root: Path,
    *,
    location: Path | None = None,
    ports: dict[str, int] | None = None,
    timeout: float = 60.0,
) -> Azurite:
    """Azurite with data in ``location`` (in memory when None) on ``ports`` (0: any free)."""
    program = app_root.joinpath("node_modules", ".bin", "azurite")
    if not program.exists():
        raise FileNotFoundError("Azurite is not installed: run `make test` or `make run` (npm ci)")
    ports = ports or {"Blob": 0, "Queue": 0, "Table": 0}
    storage = ["--inMemoryPersistence"] if location is None else ["--location", str(location)]
    if location is not None:
        location.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(program),
            *storage,
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--blobHost", "127.0.0.1", "--blobPort", str(ports["Blob"]),
            "--queueHost", "127.0.0.1", "--queuePort", str(ports["Queue"]),
            "--tableHost", "127.0.0.1", "--tablePort", str(ports["Table"]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own session: Ctrl-C in the terminal reaches devhost only, which then stops
        # Azurite after the functions, instead of both racing.
        start_new_session=True,
    )  # fmt: skip
    azurite = Azurite(process=process, ports={})
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            azurite.output.append(line)
            match = _LISTENING.search(line)
            if match:
                azurite.ports[match[1]] = int(match[2])
                if len(azurite.ports) == 3:
                    ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout):
        process.kill()
        raise RuntimeError("Azurite did not start:\n" + "".join(azurite.output[-20:]))
    return azurite
