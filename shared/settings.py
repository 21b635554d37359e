"""App settings, read from the environment (Azure app settings or local.settings.json)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.errors import ConfigurationError

STORAGE_SETTING = "AzureWebJobsStorage"
QUEUE_SETTING = "SYNC_QUEUE_NAME"
SENTRY_QUEUE_SETTING = "SENTRY_QUEUE_NAME"
RELEASE_QUEUE_SETTING = "RELEASE_QUEUE_NAME"
TABLE_PREFIX_SETTING = "TABLE_PREFIX"

DEFAULT_QUEUE = "workitem-sync"
DEFAULT_SENTRY_QUEUE = "sentry-events"
DEFAULT_RELEASE_QUEUE = "releases"

# Queue names: 3-63 chars of lowercase letters, digits and single hyphens. We keep 56 so that
# the host can still append "-poison".
_QUEUE_NAME = re.compile(r"^(?=.{3,56}$)[a-z0-9]+(-[a-z0-9]+)*$")
_TABLE_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,39})?$")


@dataclass(frozen=True)
class Settings:
    storage_connection: str
    sync_queue: str
    table_prefix: str
    sentry_queue: str = DEFAULT_SENTRY_QUEUE
    release_queue: str = DEFAULT_RELEASE_QUEUE


def load_settings() -> Settings:
    connection = os.environ.get(STORAGE_SETTING, "").strip()
    if not connection:
        raise ConfigurationError(f"app setting {STORAGE_SETTING} is not set")
    queue = _queue_name(QUEUE_SETTING, DEFAULT_QUEUE)
    sentry_queue = _queue_name(SENTRY_QUEUE_SETTING, DEFAULT_SENTRY_QUEUE)
    release_queue = _queue_name(RELEASE_QUEUE_SETTING, DEFAULT_RELEASE_QUEUE)
    prefix = os.environ.get(TABLE_PREFIX_SETTING, "").strip()
    if not _TABLE_PREFIX.match(prefix):
        raise ConfigurationError(
            f"app setting {TABLE_PREFIX_SETTING} must be letters and digits starting with a letter"
        )
    return Settings(
        storage_connection=connection,
        sync_queue=queue,
        table_prefix=prefix,
        sentry_queue=sentry_queue,
        release_queue=release_queue,
    )


def _queue_name(setting: str, default: str) -> str:
    queue = os.environ.get(setting, "").strip() or default
    if not _QUEUE_NAME.match(queue):
        raise ConfigurationError(f"app setting {setting} is not a valid queue name: {queue!r}")
    return queue


APP_ROOT = Path(__file__).resolve().parent.parent
LOCAL_SETTINGS = APP_ROOT / "local.settings.json"


def apply_local_settings(path: Path = LOCAL_SETTINGS) -> dict:
    """Put ``local.settings.json`` Values into the environment, as ``func`` does: variables
    already set win. Returns the whole file (``{}`` when there is none)."""
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path.name} could not be read: {exc}") from None
    if not isinstance(settings, dict):
        raise ConfigurationError(f"{path.name} must be a JSON object")
    if settings.get("IsEncrypted"):
        raise ConfigurationError(f"{path.name} is encrypted; decrypt it (func settings decrypt)")
    for key, value in (settings.get("Values") or {}).items():
        os.environ.setdefault(key, str(value))
    return settings
_MAX_DEQUEUE_OVERRIDE = "AzureFunctionsJobHost__extensions__queues__maxDequeueCount"


@lru_cache(maxsize=1)
def _host_max_dequeue_count() -> int:
    try:
        host = json.loads((APP_ROOT / "host.json").read_text(encoding="utf-8"))
        return int(host["extensions"]["queues"]["maxDequeueCount"])
    except (OSError, ValueError, KeyError, TypeError):
        return 5  # the host's default


def max_dequeue_count() -> int:
    """Attempts before a queue message is poison: the app setting override, else host.json."""
    override = os.environ.get(_MAX_DEQUEUE_OVERRIDE, "").strip()
    if override.isascii() and override.isdigit() and int(override) >= 1:
        return int(override)
    return _host_max_dequeue_count()
