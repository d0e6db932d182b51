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


class RefusedURLError(HarvestError):
    """A URL this process will not fetch (scheme, or a private or loopback address)."""
