"""``python -m devhost``: run the function app locally (an emulation of ``func start``)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from devhost.azurite import DEFAULT_PORTS, Azurite, start_azurite
from devhost.host import Host, load_local_settings
from devhost.loader import FunctionLoadError

# The app's root; the benchmark points it at a copy with one more function (its yardstick).
APP_ROOT = Path(os.environ.get("DEVHOST_APP_ROOT") or Path(__file__).resolve().parent.parent)


def _watch(azurite: Azurite, stopping: threading.Event, died: threading.Event) -> None:
    """Azurite exiting under us leaves every function failing: say so, and stop."""
    code = azurite.process.wait()
    if stopping.is_set():
        return
    died.set()
    last = "".join(azurite.output[-5:]).strip() or "(no output)"
    print(
        f"error: Azurite (127.0.0.1:{min(DEFAULT_PORTS.values())}-{max(DEFAULT_PORTS.values())}) "
        f"exited with code {code}; devhost stops. Its last lines:\n{last}\n"
        "Start again with make run.",
        file=sys.stderr,
        flush=True,
    )
    stopping.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Run the function app locally with an emulation of the Functions host.",
    )
    parser.add_argument(
        "--port",
        type=int,
        help="HTTP port (default: local.settings.json Host.LocalHttpPort, else 7071; 0: any)",
    )
    parser.add_argument(
        "--azurite", action="store_true", help="also start Azurite (data in .azurite/)"
    )
    parser.add_argument(
        "--console-user",
        metavar="NAME",
        help="sign this development user in to the console (Azure's sign-in is not here)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("DEVHOST_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("azure").setLevel(logging.WARNING)

    if args.console_user:
        # Read by shared.console.auth, which never trusts it on App Service.
        os.environ["DEVHOST_CONSOLE_USER"] = args.console_user
    settings = load_local_settings(APP_ROOT)
    port = (
        args.port
        if args.port is not None
        else int((settings.get("Host") or {}).get("LocalHttpPort", 7071))
    )
    os.environ.setdefault("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    os.environ.setdefault("SYNC_QUEUE_NAME", "workitem-sync")
    os.environ.setdefault("SENTRY_QUEUE_NAME", "sentry-events")
    os.environ.setdefault("RELEASE_QUEUE_NAME", "releases")

    azurite = None
    if args.azurite:
        azurite = start_azurite(APP_ROOT, location=APP_ROOT / ".azurite", ports=DEFAULT_PORTS)
        print(
            "Azurite: blob 127.0.0.1:10000, queue :10001, table :10002 (data in .azurite/)",
            flush=True,
        )
    # Like the host, run several Python worker processes when asked to; each one serves the
    # same port and polls the same queues.
    workers = max(1, int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT", "1") or 1))
    stopping = threading.Event()
    try:
        host = Host(APP_ROOT, port, share_port=workers > 1 or args.worker)
    except (FunctionLoadError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if azurite:
            azurite.stop()
        return 1
    host.start()
    others = []
    if not args.worker:
        others = [
            subprocess.Popen(
                [sys.executable, "-m", "devhost", "--worker", "--port", str(host.http.port)],
                cwd=APP_ROOT,
            )
            for _ in range(workers - 1)
        ]
        print(
            "devhost (an emulation of the Functions host) listening on "
            f"http://127.0.0.1:{host.http.port} ({workers} worker process(es))",
            flush=True,
        )
        for line in host.describe():
            print(line, flush=True)
        print("Ctrl-C stops.", flush=True)

    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    died = threading.Event()
    if azurite is not None:
        threading.Thread(
            target=_watch, args=(azurite, stopping, died), name="azurite-watch", daemon=True
        ).start()
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    if not args.worker:
        print("stopping...", flush=True)
    stopping.set()  # also tells the watcher that Azurite's exit is ours
    for other in others:
        other.terminate()
    host.stop()
    for other in others:
        other.wait(30)
    if azurite:
        azurite.stop()
    return 1 if died.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
