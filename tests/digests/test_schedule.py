"""Next send times in the member's zone, stored in UTC, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tracker.digests.schedule import next_send_after, week_of


def _next(weekday: int, hour: int, tz: str, after: datetime) -> str:
    return next_send_after(weekday=weekday, hour=hour, tz_name=tz, after=after).isoformat()


def test_next_monday_eight_in_each_zone() -> None:
    sunday_noon = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert _next(0, 8, "UTC", sunday_noon) == "2026-11-30T08:00:00+00:00"
    assert _next(0, 8, "Asia/Shanghai", sunday_noon) == "2026-11-30T00:00:00+00:00"
    assert _next(0, 8, "America/Los_Angeles", sunday_noon) == "2026-11-30T16:00:00+00:00"


def test_the_slot_itself_is_not_next_the_following_week_is() -> None:
    slot = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert _next(0, 8, "UTC", slot) == "2026-12-07T08:00:00+00:00"


def test_dst_changes_keep_the_local_hour() -> None:
    # Berlin leaves summer time on Sunday 25 October 2026.
    before = datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
    assert _next(0, 8, "Europe/Berlin", before) == "2026-10-26T07:00:00+00:00"
    assert _next(4, 8, "Europe/Berlin", before) == "2026-10-23T06:00:00+00:00"


def test_an_hour_that_does_not_exist_still_sends_that_morning() -> None:
    # 02:00 on Sunday 8 March 2026 does not exist in Los Angeles (clocks jump to 03:00).
    after = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    # Read with the winter offset: 10:00 UTC, which is 03:00 local on the new offset.
    assert _next(6, 2, "America/Los_Angeles", after) == "2026-03-08T10:00:00+00:00"


def test_unknown_zone_falls_back_to_utc() -> None:
    after = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert _next(0, 8, "Nowhere/Atlantis", after) == "2026-11-30T08:00:00+00:00"


def test_week_is_the_monday_on_the_members_calendar() -> None:
    # Sunday 23:30 UTC is already Monday morning in Shanghai.
    moment = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert week_of(moment, "UTC") == date(2026, 11, 23)
    assert week_of(moment, "Asia/Shanghai") == date(2026, 11, 30)
