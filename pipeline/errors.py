"""The pipeline's failures, typed by what the process does about them (base.errors has the split).

Transient (TransientError): the process waits and retries, logged once a minute. Terminal (any other
AlignmonError): it stops with the reason and its supervisor decides; restarting on the same input fails alike.
"""

from __future__ import annotations

from base.errors import AlignmonError, TransientError


class BrokerUnavailableError(TransientError):
    """No Kafka broker answers at the bootstrap address (not started yet, or away)."""

    def __init__(self, bootstrap: str, reason: object) -> None:
        super().__init__(
            f"Kafka at {bootstrap} is not reachable ({reason}); set ALIGNMON_KAFKA_BOOTSTRAP if it is elsewhere"
        )


class StoreFailedError(AlignmonError):
    """DuckDB invalidated the database after a fatal error: every later statement would fail alike."""

    def __init__(self, path: object, reason: object) -> None:
        super().__init__(
            f"the database {path} failed and DuckDB refuses further writes ({reason}); restart the pipeline on it"
        )


class NewerSchemaError(AlignmonError):
    """The DuckDB file was written by a newer alignmon: this one would misread it, so it does not touch it."""

    def __init__(self, path: object, found: int, known: int) -> None:
        super().__init__(
            f"{path} was written by a newer alignmon (schema version {found}; this one knows up to {known}): run "
            "that version or a later one on it, or restore the backup taken before the upgrade"
        )
