"""What a search may be narrowed to: dates, category, topic and kind, in the database and
on the rows of the in-process index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from tracker.search.index import VectorIndex

if TYPE_CHECKING:
    from tracker.papers.models import EmbeddingVector, Paper


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the current time zone, where a __date lookup draws the line."""
    return datetime.combine(day, dt_time.min, tzinfo=timezone.get_current_timezone())


@dataclass
class SearchFilters:
    date_from: date | None = None
    date_to: date | None = None
    category: str = ""
    topic_id: int | None = None
    kind: str = ""

    def apply(self, papers: QuerySet[Paper]) -> QuerySet[Paper]:
        return self._applied(papers, "paper_topic__topic_id")

    def apply_to_vectors(self, rows: QuerySet[EmbeddingVector]) -> QuerySet[EmbeddingVector]:
        """The filters on pgvector rows, read from the paper facts each row holds (dates,
        category, kind); the topic, which changes with every clustering, through the
        paper's topic. Visibility is the caller's (EmbeddingVector.visible)."""
        return self._applied(rows, "paper__paper_topic__topic_id")

    def _applied(self, rows: QuerySet[Any], topic_field: str) -> QuerySet[Any]:
        # Dates as a range of times, which the published_at index answers; a __date lookup
        # converts every row's time first.
        start, end = self._time_bounds()
        if start:
            rows = rows.filter(published_at__gte=start)
        if end:
            rows = rows.filter(published_at__lt=end)
        if self.category:
            rows = rows.filter(primary_category=self.category)
        if self.topic_id:
            rows = rows.filter(**{topic_field: self.topic_id})
        if self.kind:
            rows = rows.filter(kind=self.kind)
        return rows

    @property
    def active(self) -> bool:
        return bool(self.date_from or self.date_to or self.category or self.topic_id or self.kind)

    def _time_bounds(self) -> tuple[datetime | None, datetime | None]:
        """The first moment the dates allow and the first one past them (None: open)."""
        start = _day_start(self.date_from) if self.date_from else None
        end = _day_start(self.date_to + timedelta(days=1)) if self.date_to else None
        return start, end

    def rows_allowed(self, index: VectorIndex) -> np.ndarray | None:
        """Which rows of `index` these filters allow, read from the paper facts loaded with
        the vectors; None when a filter needs the database (topics change with every
        clustering). The facts are as old as the index, which reloads whenever a harvest
        brings new vectors; a new version that moves a paper to another category is seen
        from then on. The rows let through are checked in the database all the same."""
        if self.topic_id or index.categories is None or index.kinds is None:
            return None
        allowed = np.ones(len(index.ids), dtype=bool)
        # NaN (no date) compares false, as NULL does in the database.
        start, end = self._time_bounds()
        if start:
            allowed &= index.published >= start.timestamp()
        if end:
            allowed &= index.published < end.timestamp()
        if self.category:
            allowed &= index.categories.rows_equal(self.category)
        if self.kind:
            allowed &= index.kinds.rows_equal(self.kind)
        return allowed
