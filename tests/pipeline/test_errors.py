"""A failure's kind, as the offline banner reads it, found without a database."""

from __future__ import annotations

import redis

from pipeline.errors import (
    HarvestError,
    NetworkError,
    RefusedURLError,
    TransientHarvestError,
    error_kind,
)


def _reraised(cause: BaseException, outer: BaseException) -> BaseException:
    """`outer` raised from `cause`, as a harvester re-raises with a plainer message."""
    try:
        try:
            raise cause
        except type(cause) as exc:
            raise outer from exc
    except type(outer) as exc:
        return exc


def test_no_answer_is_network_even_under_a_plainer_message() -> None:
    assert error_kind(NetworkError("connection failed")) == "network"
    wrapped = _reraised(NetworkError("timed out"), TransientHarvestError("fetch failed"))
    assert error_kind(wrapped) == "network"


def test_a_refused_url_and_a_bad_answer_are_told_apart() -> None:
    assert error_kind(RefusedURLError("private address")) == "refused"
    assert error_kind(TransientHarvestError("HTTP 503")) == "bad_response"
    assert error_kind(HarvestError("not an Atom feed")) == "bad_response"


def test_anything_else_is_other() -> None:
    assert error_kind(redis.exceptions.ConnectionError("broker down")) == "other"
    assert error_kind(ValueError("bug")) == "other"
