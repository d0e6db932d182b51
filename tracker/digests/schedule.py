"""When a member's digest is due: weekday and hour in the member's own time zone, kept in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def zone(name: str) -> ZoneInfo:
    """The member's zone; an unknown name (a zone removed from tzdata) falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def next_send_after(*, weekday: int, hour: int, tz_name: str, after: datetime) -> datetime:
    """The first `weekday` at `hour`:00 local time strictly after `after`, in UTC.

    A local hour that does not exist (spring-forward gap) resolves through UTC to the
    hour after, so a member in such a zone still gets the digest that morning.
    """
    tz = zone(tz_name)
    local_day = after.astimezone(tz).date()
    day = local_day + timedelta(days=(weekday - local_day.weekday()) % 7)
    while True:
        candidate = datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)
        if candidate > after:
            return candidate
        day += timedelta(days=7)


def week_of(moment: datetime, tz_name: str) -> date:
    """Monday of the ISO week `moment` falls in, on the member's calendar: the send's key."""
    local_day = moment.astimezone(zone(tz_name)).date()
    return local_day - timedelta(days=local_day.weekday())
