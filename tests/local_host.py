"""``python -m devhost`` in its own process, for end-to-end tests: started with quick queue
retries and polling, stopped with a check that its log holds no traceback and no secret."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from conftest import ROOT

_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


@dataclass
class LocalHost:
    process: subprocess.Popen[str]
    url: str = ""
    output: list[str] = field(default_factory=list)


@contextmanager
def local_host(
    secrets: list[str], workers: int = 1, args: tuple[str, ...] = ()
) -> Iterator[LocalHost]:
    env = {
        **os.environ,
        # Quick retries and polling, so the poison round trip takes seconds.
        "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
        "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.500",
        "FUNCTIONS_WORKER_PROCESS_COUNT": str(workers),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost", "--port", "0", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    host = LocalHost(process)
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            host.output.append(line)
            match = _LISTENING.search(line)
            if match:
                host.url = match[1]
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60):
        process.kill()
        pytest.fail("the local host did not start:\n" + "".join(host.output))
    try:
        yield host
    finally:
        process.terminate()
        process.wait(30)
    text = "".join(host.output)
    assert "Traceback" not in text, text
    for secret in secrets:
        assert secret not in text, "a secret appeared in the local host's log"
