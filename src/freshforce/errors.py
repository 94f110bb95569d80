"""The exception tree, grouped by what the caller does next.

```
FreshforceError
├── ConfigError      fix the file; fail at load
├── AuthError        pause the connection, alert
├── TransientError   retry later (retry_after: float | None)
│   ├── AmbiguousWriteError  look up the idempotency ref first
│   └── LeaseLostError       another process holds the listener/poller lease: stop
├── PermanentError   dead-letter now
│   ├── RecordGoneError     skip: the remote record no longer exists
│   └── RefusedValueError   the remote refused named fields' values: write without them, park them
└── ConflictError    park for review
```

Every error carries the context a person needs to act on it: the flow, the record key, the
remote system, the remote error code and the HTTP status. Raise with ``from exc`` so the cause
travels along.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousWriteError",
    "AuthError",
    "ConfigError",
    "ConflictError",
    "FreshforceError",
    "LeaseLostError",
    "PermanentError",
    "RecordGoneError",
    "RefusedValueError",
    "TransientError",
]


class FreshforceError(Exception):
    """Base of every error freshforce raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        flow: str | None = None,
        record_key: str | None = None,
        system: str | None = None,
        remote_code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.flow = flow
        self.record_key = record_key
        self.system = system
        self.remote_code = remote_code
        self.http_status = http_status

    def context(self) -> dict[str, str | int | None]:
        """Return the structured context, for logs and attempt rows."""
        return {
            "error_class": type(self).__name__,
            "flow": self.flow,
            "record_key": self.record_key,
            "system": self.system,
            "remote_code": self.remote_code,
            "http_status": self.http_status,
        }


class ConfigError(FreshforceError):
    """A configuration file or setting is wrong: fix it; nothing runs until then."""


class AuthError(FreshforceError):
    """A connection's credentials no longer work: pause the connection and alert."""


class TransientError(FreshforceError):
    """Worth retrying later; ``retry_after`` is the remote's own hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        flow: str | None = None,
        record_key: str | None = None,
        system: str | None = None,
        remote_code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(
            message,
            flow=flow,
            record_key=record_key,
            system=system,
            remote_code=remote_code,
            http_status=http_status,
        )
        self.retry_after = retry_after


class AmbiguousWriteError(TransientError):
    """A write may or may not have happened: look up its idempotency reference before retrying."""


class LeaseLostError(TransientError):
    """Another process holds this listener's or poller's lease: this one stops its work."""


class PermanentError(FreshforceError):
    """Retrying cannot help: dead-letter now."""


class RecordGoneError(PermanentError):
    """The remote record does not exist (any more): skip the work; nothing is left to sync."""


class RefusedValueError(PermanentError):
    """The remote refused the values of ``fields`` (names as it gave them), not the record.

    A flow that can write the record without them does so and parks each one for review; any
    other caller treats it as the ``PermanentError`` it is.
    """

    def __init__(
        self,
        message: str,
        *,
        fields: tuple[str, ...],
        system: str | None = None,
        remote_code: str | None = None,
        http_status: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, system=system, remote_code=remote_code, http_status=http_status)
        self.fields = fields
        self.detail = detail or message  # the remote's own message


class ConflictError(FreshforceError):
    """Both sides changed a field whose policy is ``review``: park it for a person."""
