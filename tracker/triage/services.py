"""Writes for triage: ratings (with their history), skips and their undoing, comments and
topic follows."""

from __future__ import annotations

import logging

import kombu.exceptions
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracker.core.cache import UNAVAILABLE, pages_shared
from tracker.papers.models import Paper
from tracker.teams.models import Team
from tracker.topics.models import Topic, TopicFollow
from tracker.triage.models import Comment, Rating, RatingHistory, Skip

log = logging.getLogger(__name__)

CHANGED = "changed"
WITHDRAWN = "withdrawn"


def _history_keep(rating: Rating, *, reason: str) -> RatingHistory:
    """The rating as it stands, kept in the history before it changes or goes."""
    return RatingHistory.objects.create(
        team_id=rating.team_id,
        paper_id=rating.paper_id,
        user_id=rating.user_id,
        value=rating.value,
        note=rating.note,
        rated_at=rating.updated_at,
        reason=reason,
    )


@transaction.atomic
def rating_set(
    *, team: Team, paper: Paper, user: User, value: int, note: str | None = None
) -> Rating:
    """Create or change a member's rating; a changed value or note keeps the old one in history.

    A note of None leaves the note as it is: a re-rate from a key or a button that carries
    no note must not wipe the one written on the paper's page. "" clears it.

    The row is locked while it is read, so two quick key presses leave one rating and one
    history row per real change, never a lost update.
    """
    if not 1 <= int(value) <= 5:
        raise ValidationError("A rating is a value from 1 to 5.")
    now = timezone.now()
    rating = Rating.objects.select_for_update().filter(team=team, paper=paper, user=user).first()
    if rating is None:
        rating, created = Rating.objects.get_or_create(
            team=team, paper=paper, user=user, defaults={"value": value, "note": note or ""}
        )
        if created:
            # Rated papers leave the inbox; a skip no longer says anything.
            Skip.objects.filter(team=team, paper=paper, user=user).delete()
            _inbox_order_warm(team, user)
            return rating
    if note is None:
        note = rating.note
    if rating.value == int(value) and rating.note == note:
        return rating
    _history_keep(rating, reason=CHANGED)
    rating.value = int(value)
    rating.note = note
    rating.updated_at = now
    rating.save(update_fields=["value", "note", "updated_at"])
    _inbox_order_warm(team, user)
    return rating


def _inbox_order_warm(team: Team, user: User) -> None:
    """After the change commits, a worker fits the member's inbox order again, so that
    their next load finds it kept. Without a worker the load fits it itself, so a broker
    that cannot be reached costs a warning, not the member's rating. Nothing is queued
    while each process keeps its own "pages" cache: the worker's order would be kept in the
    worker, where no web process finds it."""
    from workers.tasks import rank_inbox_task  # task object only, to enqueue

    if not pages_shared():
        return

    def send() -> None:
        # The broker is the Redis the caches use. Celery waits seconds for one that does not
        # answer before it gives up, so a ping (which fails at once) goes first, and the
        # message is sent once, without retries.
        ping = getattr(caches["pages"], "ping", None)
        try:
            if ping is not None:
                ping()
            rank_inbox_task.apply_async((team.pk, user.pk), retry=False)
        except (kombu.exceptions.OperationalError, *UNAVAILABLE) as exc:
            log.warning("inbox order not queued for warming: %s", exc)

    transaction.on_commit(send)


@transaction.atomic
def triage_undo(*, team: Team, paper: Paper, user: User) -> str | None:
    """Take back a member's rating or skip of a paper, so it is back in their inbox: the
    second thought after a quick key. A withdrawn rating stays in the rating history.
    Returns what was undone ("rating", "skip"), or None when there was nothing to undo."""
    rating = Rating.objects.select_for_update().filter(team=team, paper=paper, user=user).first()
    if rating is not None:
        _history_keep(rating, reason=WITHDRAWN)
        rating.delete()
        _inbox_order_warm(team, user)
        return "rating"
    deleted, _ = Skip.objects.filter(team=team, paper=paper, user=user).delete()
    if not deleted:
        return None
    _inbox_order_warm(team, user)
    return "skip"


def skip_create(*, team: Team, paper: Paper, user: User) -> Skip:
    skip, created = Skip.objects.get_or_create(team=team, paper=paper, user=user)
    if created:
        _inbox_order_warm(team, user)
    return skip


def not_interested_set(*, team: Team, paper: Paper, user: User) -> Skip:
    """The member says the paper does not interest them: it leaves their inbox like a skip
    and counts against papers like it in their ranking. Undone like a skip (triage_undo)."""
    skip, _ = Skip.objects.update_or_create(
        team=team, paper=paper, user=user, defaults={"not_interested": True}
    )
    _inbox_order_warm(team, user)
    return skip


def _comment_text(body: str, refusal: str) -> str:
    """A comment's text as kept: trimmed, and never empty."""
    body = body.strip()
    if not body:
        raise ValidationError(refusal)
    return body


def comment_create(*, team: Team, paper: Paper, user: User, body: str) -> Comment:
    body = _comment_text(body, "A comment needs some text.")
    return Comment.objects.create(team=team, paper=paper, user=user, body=body)


def comment_edit(*, comment: Comment, body: str) -> Comment:
    body = _comment_text(body, "A comment needs some text; delete it instead.")
    if body != comment.body:
        comment.body = body
        comment.edited_at = timezone.now()
        comment.save(update_fields=["body", "edited_at"])
    return comment


def comment_delete(*, comment: Comment) -> None:
    comment.delete()


def topic_follow_set(*, user: User, topic: Topic, follow: bool) -> None:
    """Follow or unfollow; doing either twice changes nothing."""
    if follow:
        TopicFollow.objects.get_or_create(user=user, topic=topic)
    else:
        TopicFollow.objects.filter(user=user, topic=topic).delete()
