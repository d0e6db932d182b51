"""The inbox's kept load (the facets, the ranked order's key, the share count): what a
member does shows on their next load; what the kept load's version leaves out, within
INBOX_KEPT_SECONDS."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import client_for
from tests.portal.helpers import paper_in, topic
from tracker.papers.models import Paper
from tracker.triage.models import Assignment
from tracker.triage.selectors import INBOX_KEPT_SECONDS, Inbox

pytestmark = pytest.mark.parametrize("order", ["for_you", "newest"])


def _load(client, order: str) -> Inbox:  # type: ignore[no-untyped-def]
    return client.get(f"/inbox/?order={order}").context["inbox"]


def _counts(inbox: Inbox) -> dict[str, int]:
    return {group.label: group.count for group in inbox.topic_counts}


def _rows(inbox: Inbox) -> set[int]:
    return {row.pk for group in inbox.groups for row in group.rows}


@pytest.fixture
def world(cast, time_machine):  # type: ignore[no-untyped-def]
    time_machine.move_to("2026-06-10 09:00:30Z", tick=False)
    agents, vision = topic("Agents"), topic("Vision")
    papers = [paper_in(agents, days_ago=1), paper_in(agents, days_ago=2), paper_in(vision)]
    return papers, client_for(cast.ben)


def test_a_rating_shows_on_the_next_load(world, order: str) -> None:  # type: ignore[no-untyped-def]
    (first, second, third), client = world
    assert _counts(_load(client, order)) == {"Agents": 2, "Vision": 1}
    client.post(f"/inbox/papers/{first.pk}/rate/", {"value": 4})
    inbox = _load(client, order)
    assert (inbox.total, _counts(inbox), _rows(inbox)) == (
        2,
        {"Agents": 1, "Vision": 1},
        {second.pk, third.pk},
    )


def test_a_skip_shows_on_the_next_load(world, order: str) -> None:  # type: ignore[no-untyped-def]
    (first, second, third), client = world
    _load(client, order)
    client.post(f"/inbox/papers/{third.pk}/skip/")
    inbox = _load(client, order)
    assert (inbox.total, _counts(inbox), _rows(inbox)) == (2, {"Agents": 2}, {first.pk, second.pk})


def test_a_new_paper_in_the_window_shows_on_the_next_load(world, order: str) -> None:  # type: ignore[no-untyped-def]
    papers, client = world
    _load(client, order)
    newcomer = paper_in(topic("Speech"))
    inbox = _load(client, order)
    assert inbox.total == 4 and _counts(inbox)["Speech"] == 1
    assert _rows(inbox) == {paper.pk for paper in papers} | {newcomer.pk}


def test_a_new_share_shows_on_the_next_load(cast, world, order: str) -> None:  # type: ignore[no-untyped-def]
    (first, _, _), client = world
    assert client.get("/inbox/").context["share_left"] == 0
    Assignment.objects.create(team=cast.vision, user=cast.ben, paper=first)
    page = client.get(f"/inbox/?order={order}")
    assert page.context["share_left"] == 1 and _rows(page.context["inbox"]) == {first.pk}


def test_a_hidden_paper_leaves_the_rows_at_once_and_the_counts_within_the_kept_time(
    world, order: str, time_machine
) -> None:  # type: ignore[no-untyped-def]
    (first, second, third), client = world
    _load(client, order)
    # A curator hides it with an update, as the admin's bulk action does.
    Paper.objects.filter(pk=third.pk).update(hidden=True)
    # The rows are read through the inbox's filters on every load...
    inbox = _load(client, order)
    assert _rows(inbox) == {first.pk, second.pk}
    # ...the counts of the window are the kept load's, for INBOX_KEPT_SECONDS at most.
    time_machine.shift(timedelta(seconds=INBOX_KEPT_SECONDS - 1))
    inbox = _load(client, order)
    assert (inbox.total, _counts(inbox)) == (3, {"Agents": 2, "Vision": 1})
    time_machine.shift(timedelta(seconds=1))
    inbox = _load(client, order)
    assert (inbox.total, _counts(inbox), _rows(inbox)) == (
        2,
        {"Agents": 2},
        {first.pk, second.pk},
    )
