"""What can go wrong in a harvest, split by whether trying again can fix it."""

from __future__ import annotations


class HarvestError(Exception):
    """A harvest cannot go on; retrying the same request will not help."""


class TransientHarvestError(HarvestError):
    """The server or the network failed in a way that a later retry may not.

    `retry_after` is the server's own Retry-After, in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NetworkError(TransientHarvestError):
    """No answer at all: the name did not resolve, the connection failed or timed out.
    Told apart from a server's error answer because only this one means "offline"."""


class RefusedURLError(HarvestError):
    """A URL this process will not fetch (scheme, or a private or loopback address)."""


def error_kind(exc: BaseException) -> str:
    """What kind of failure `exc` is, as stored on HarvestRun.error_kind. The cause chain is
    searched because a failure is often re-raised with a plainer message."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, NetworkError):
            return "network"
        if isinstance(seen, RefusedURLError):
            return "refused"
        seen = seen.__cause__
    if isinstance(exc, HarvestError):
        return "bad_response"
    return "other"
