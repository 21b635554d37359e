"""Typed errors. Each edge (HTTP response, queue retry, CLI exit code) maps them in one place."""


class SyncError(Exception):
    """Base class of every error this app raises on purpose."""


class ConfigurationError(SyncError):
    """An app setting the code needs is missing or malformed."""


class StorageUnavailable(SyncError):
    """Azure Storage (tables or queues) could not be reached or answered with a server error."""


class StorageRejected(SyncError):
    """Azure Storage refused a request for good: wrong account key, a value too large, ..."""


class InvalidInput(SyncError):
    """A value given by an operator or a caller breaks a documented rule."""


class NotFound(SyncError):
    """The thing asked for does not exist."""


class IntegrationNotFound(NotFound):
    def __init__(self, integration_id: str) -> None:
        super().__init__(f"no integration with collection id {integration_id}")
        self.integration_id = integration_id


class IntegrationRemoved(SyncError):
    def __init__(self, integration_id: str) -> None:
        super().__init__(f"integration {integration_id} was removed")
        self.integration_id = integration_id


class AlreadyExists(SyncError):
    """Creating something that is already there (a duplicate link, a second integration)."""


class GiveUp(SyncError):
    """No later attempt can succeed (settings that no longer fit, a refusal for good): park the
    message now, with the reason, instead of retrying it to the end."""


class Unreadable(GiveUp):
    """A queue message no attempt can read (not JSON, a field out of bounds, ...)."""
