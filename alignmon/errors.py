"""Errors every stage shares: terminal ones stop with a message, transient ones are retried."""


class AlignmonError(Exception):
    """A failure the user can act on; the CLI prints its message without a traceback."""


class TransientError(AlignmonError):
    """A failure that may go away on retry (a service not reachable yet)."""
