"""Writes of follows: following and unfollowing, webhooks, matching new papers and code
events into alerts, and delivering each alert once to each webhook, signed."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from pipeline import follows as rules
from pipeline.errors import HarvestError, NetworkError, RefusedURLError, TransientHarvestError
from pipeline.http import public_url_check, safe_post, url_target
from tracker.core.fetching import fetch_config
from tracker.follows.models import (
    Alert,
    AlertsSeen,
    Delivery,
    DeliveryStatus,
    Follow,
    FollowKind,
    Webhook,
)
from tracker.follows.selectors import (
    ROW_FIELDS,
    deliveries_of,
    follow_rules,
    follows_of,
    match_reason,
    paper_facts,
    webhooks_of,
)
from tracker.papers.models import CodeEvent, Paper, Source
from tracker.teams.models import Membership
from tracker.topics.models import Topic, TopicFollow

log = logging.getLogger(__name__)

# Only papers that reached the tracker this recently are news: a model change re-embeds
# every paper, and an old one must not be announced because of it.
ALERT_WINDOW = timedelta(days=7)
# A claimed delivery whose worker died is claimed again after this long.
CLAIM_SECONDS = 120
MAX_VALUE = 300

CHANNEL_CURATORS_ONLY = "Only the team's curators can change the team channel."
WEBHOOK_PRIVATE = "That address is on a private or local network; webhooks go to public URLs only."
WEBHOOK_MISSING = "Enter the URL to deliver alerts to."
WEBHOOK_UNRESOLVED = "That host name could not be found."


# --- follows ----------------------------------------------------------------------------------


def _target(kind: str, value: str) -> tuple[str, str, dict[str, Any]]:
    """(stored value, label, the row it points to) for a follow of `kind`, or a clear error."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Say what to follow.")
    if len(value) > MAX_VALUE:
        raise ValidationError(f"That is longer than {MAX_VALUE} characters.")
    if kind in (FollowKind.SOURCE, FollowKind.TOPIC, FollowKind.PAPER):
        if not value.isdigit():
            raise ValidationError("Nothing to follow there.")
        if kind == FollowKind.SOURCE:
            source = Source.objects.filter(pk=int(value)).first()
            if source is None:
                raise ValidationError("That source does not exist.")
            return value, source.name, {"source": source}
        if kind == FollowKind.TOPIC:
            topic = Topic.objects.active().filter(pk=int(value)).first()
            if topic is None:
                raise ValidationError("That topic does not exist.")
            return value, topic.label, {"topic": topic}
        paper = Paper.objects.visible().filter(pk=int(value)).first()
        if paper is None:
            raise ValidationError("That paper does not exist.")
        return value, paper.title[:MAX_VALUE], {"paper": paper}
    if kind not in FollowKind.values:
        raise ValidationError("That cannot be followed.")
    normalized = rules.normalize(kind, value)
    if kind == FollowKind.SEARCH and not rules.search_terms(value):
        raise ValidationError("That search has no words to match.")
    if not normalized:
        raise ValidationError("Say what to follow.")
    return normalized, " ".join(value.split()), {}


def _owner(membership: Membership, channel: bool) -> Any:
    if channel and not membership.is_curator:
        raise PermissionDenied(CHANNEL_CURATORS_ONLY)
    return None if channel else membership.user


@transaction.atomic
def follow_add(
    membership: Membership, kind: str, value: str, *, channel: bool = False
) -> tuple[Follow, bool]:
    """Follow something, for the member or (curators) the team channel; following twice is
    one follow. Returns the follow and whether it is new."""
    stored, label, rows = _target(kind, value)
    user = _owner(membership, channel)
    follow, created = Follow.objects.get_or_create(
        team=membership.team,
        user=user,
        kind=kind,
        value=stored,
        defaults={"label": label, "created_by": membership.user, **rows},
    )
    if kind == FollowKind.TOPIC and user is not None:
        # The inbox's topic filter and the digest read the member's topic follows.
        TopicFollow.objects.get_or_create(user=user, topic=rows["topic"])
    return follow, created


@transaction.atomic
def follow_remove(membership: Membership, follow_id: int) -> Follow | None:
    """Unfollow one of the member's follows, or (curators) one of the channel's; someone
    else's follow reads as not there."""
    follow = follows_of(membership).filter(pk=follow_id).first()
    if follow is None:
        return None
    _owner(membership, follow.is_channel)
    if follow.kind == FollowKind.TOPIC and follow.user_id is not None:
        TopicFollow.objects.filter(user_id=follow.user_id, topic=follow.topic).delete()
    follow.delete()
    return follow


def follow_remove_matching(membership: Membership, kind: str, value: str) -> Follow | None:
    """Unfollow the member's follow of (kind, value), as the button next to a thing does."""
    try:
        stored, _, _ = _target(kind, value)
    except ValidationError:
        return None
    follow = Follow.objects.filter(
        team_id=membership.team_id, user_id=membership.user_id, kind=kind, value=stored
    ).first()
    return follow_remove(membership, follow.pk) if follow else None


# --- webhooks ---------------------------------------------------------------------------------


def webhook_url_check(url: str) -> str:
    """The URL, stripped, or one plain ValidationError: malformed, not http(s), or naming a
    private or loopback address (the fetching rules every URL a person enters goes by)."""
    url = (url or "").strip()
    if not url:
        raise ValidationError(WEBHOOK_MISSING)
    try:
        url_target(url)
        public_url_check(url, fetch_config())
    except RefusedURLError as exc:
        if "private or loopback" in str(exc):
            raise ValidationError(WEBHOOK_PRIVATE) from exc
        raise ValidationError(f"That URL cannot take webhooks: {exc}.") from exc
    except NetworkError as exc:
        raise ValidationError(WEBHOOK_UNRESOLVED) from exc
    return url


@transaction.atomic
def webhook_add(membership: Membership, url: str, *, channel: bool = False) -> Webhook:
    """A webhook for the member's alerts, or (curators) for the team channel's."""
    user = _owner(membership, channel)
    return Webhook.objects.create(team=membership.team, user=user, url=webhook_url_check(url))


def webhook_remove(membership: Membership, webhook_id: int) -> bool:
    webhook = webhooks_of(membership).filter(pk=webhook_id).first()
    if webhook is None:
        return False
    _owner(membership, webhook.user_id is None)
    webhook.delete()
    return True


# --- matching ---------------------------------------------------------------------------------


def alerts_enqueue_for_papers(sender: object, paper_ids: Sequence[int], **kwargs: Any) -> None:
    """Receiver of papers' `papers_arrived` and `embeddings_stored`: match after commit."""
    from workers.tasks import match_follows_task  # task object only, to enqueue

    if paper_ids:
        # Celery's Django task class has delay_on_commit; the celery-types stubs do not know it.
        match_follows_task.delay_on_commit(list(paper_ids))  # type: ignore[attr-defined]


def alerts_enqueue_for_code_events(sender: object, event_ids: Sequence[int], **kwargs: Any) -> None:
    """Receiver of papers' `code_events_recorded`: alert the papers' followers after commit."""
    from workers.tasks import alert_code_events_task  # task object only, to enqueue

    if event_ids:
        # Celery's Django task class has delay_on_commit; the celery-types stubs do not know it.
        alert_code_events_task.delay_on_commit(list(event_ids))  # type: ignore[attr-defined]


def alerts_create(paper_ids: Sequence[int], now: datetime | None = None) -> int:
    """Match new papers against every follow and raise one alert per (follow, paper), then
    queue their deliveries. Safe twice and alongside another run: a pair alerted already is
    skipped by its unique constraint. One paper that cannot be matched is logged and the
    others go on. Returns how many alerts this call raised."""
    now = now or timezone.now()
    papers = Paper.objects.visible().filter(
        pk__in=list(paper_ids), created_at__gte=now - ALERT_WINDOW
    )
    rows = list(papers.values_list(*ROW_FIELDS, "created_at"))
    follows = list(Follow.objects.all())
    if not rows or not follows:
        return 0
    specs = follow_rules(follows)
    facts = paper_facts([row[:-1] for row in rows], papers, follows)
    alerts = []
    for pk, *_, arrived in rows:
        try:
            for follow, spec in zip(follows, specs, strict=True):
                if follow.created_at <= arrived and rules.follow_matches(spec, facts[pk]):
                    alerts.append(_alert(follow, pk, None, match_reason(follow, facts[pk])))
        except Exception:
            log.exception("matching follows against paper %s failed; skipped", pk)
    return _alerts_store(alerts)


def _alert(follow: Follow, paper_id: int, code_event: CodeEvent | None, reason: str = "") -> Alert:
    return Alert(
        follow=follow,
        team_id=follow.team_id,
        user_id=follow.user_id,
        paper_id=paper_id,
        code_event=code_event,
        reason=(reason or follow.reason)[:400],
    )


def _alerts_store(alerts: list[Alert]) -> int:
    """Store the alerts not stored yet and queue a delivery of each new one to each of its
    owner's webhooks; returns how many alerts were new."""
    if not alerts:
        return 0
    with transaction.atomic():
        created = []
        for alert in alerts:
            # One savepoint each: a pair alerted already (a second run) is skipped, and the
            # alerts that are new are known (bulk_create's ignore_conflicts hides them).
            try:
                with transaction.atomic():
                    alert.save()
                created.append(alert)
            except IntegrityError:
                pass
        deliveries_create(created)
    return len(created)


def deliveries_create(alerts: Sequence[Alert]) -> list[int]:
    """A delivery of each alert to each active webhook of its owner (the member's own, or
    the team channel's), queued after commit. Returns the new deliveries' ids."""
    if not alerts:
        return []
    teams = {a.team_id for a in alerts}
    hooks: dict[tuple[int, int | None], list[int]] = {}
    for pk, team_id, user_id in Webhook.objects.filter(team_id__in=teams, active=True).values_list(
        "pk", "team_id", "user_id"
    ):
        hooks.setdefault((team_id, user_id), []).append(pk)
    rows = [
        Delivery(alert=a, webhook_id=hook, team_id=a.team_id)
        for a in alerts
        for hook in hooks.get((a.team_id, a.user_id), [])
    ]
    Delivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        Delivery.objects.filter(
            alert__in=[a.pk for a in alerts], status=DeliveryStatus.PENDING
        ).values_list("pk", flat=True)
    )
    from workers.tasks import deliver_alert_task  # task object only, to enqueue

    for pk in ids:
        # Celery's Django task class has delay_on_commit; the celery-types stubs do not know it.
        deliver_alert_task.delay_on_commit(pk)  # type: ignore[attr-defined]
    return ids


def alerts_create_for_code_events(event_ids: Sequence[int]) -> int:
    """Alert code released, weights released or code promised to whoever follows the paper
    (a seed paper) or was alerted of it already (its author, its topic ...). Safe twice."""
    events = list(CodeEvent.objects.filter(pk__in=list(event_ids)).select_related("paper"))
    alerts = []
    for event in events:
        alerted = Alert.objects.filter(paper_id=event.paper_id, code_event__isnull=True)
        follows = Follow.objects.filter(
            Q(kind=FollowKind.PAPER, paper_id=event.paper_id) | Q(pk__in=alerted.values("follow"))
        ).filter(created_at__lte=event.at)
        alerts += [_alert(follow, event.paper_id, event) for follow in follows]
    return _alerts_store(alerts)


# --- delivery ---------------------------------------------------------------------------------


def delivery_payload(delivery: Delivery) -> dict[str, Any]:
    """The JSON body: Slack-compatible `text` first, then the fields a program reads."""
    alert = delivery.alert
    paper = alert.paper
    url = settings.SITE_URL + reverse("papers:detail", args=[paper.pk])
    event = alert.code_event
    what = event.get_kind_display() if event else "New paper"
    names = paper.authors or []
    authors = ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")
    text = f"{what}: <{url}|{_slack_escape(paper.title)}>"
    if authors:
        text += f" by {_slack_escape(authors)}"
    text += f" ({_slack_escape(alert.reason)})"
    return {
        "text": text,
        "event": f"code.{event.kind}" if event else "paper.matched",
        "delivery": delivery.pk,
        "team": alert.team.slug,
        "follow": {"kind": alert.follow.kind, "label": alert.follow.label},
        "reason": alert.reason,
        "paper": {
            "id": paper.pk,
            "arxiv_id": paper.arxiv_id or None,
            "title": paper.title,
            "authors": paper.authors or [],
            "url": url,
            "source_url": paper.canonical_url,
        },
        "code": (
            {"kind": event.kind, "url": event.link.url, "at": event.at.isoformat()}
            if event
            else None
        ),
        "created_at": alert.created_at.isoformat(),
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def delivery_body(delivery: Delivery) -> bytes:
    return json.dumps(delivery_payload(delivery), separators=(",", ":")).encode()


def _plain_error(exc: Exception) -> str:
    """One plain line for the delivery log: what went wrong, never a trace or an address."""
    if isinstance(exc, RefusedURLError):
        return "refused: the URL points to a private or local address"
    if isinstance(exc, NetworkError):
        return "no answer: the connection failed or timed out"
    return "the receiver's answer could not be read"


def _claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for one attempt: a conditional UPDATE, so of two copies of the task
    (a redelivered message, a re-run) one sends and the other finds nothing to do."""
    open_ = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]) | Q(
        status=DeliveryStatus.SENDING, claimed_until__lt=now
    )
    return bool(
        Delivery.objects.filter(open_, pk=delivery_id).update(
            status=DeliveryStatus.SENDING,
            claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    )


def delivery_send(delivery_id: int, now: datetime | None = None) -> str | None:
    """One attempt at a delivery; returns its status, or None when there was nothing to do
    (sent already, another attempt under way, gone). A failure is kept on the row in one
    plain line; while attempts are left it raises TransientHarvestError for the task to
    retry after a backoff, then the row stays "failed"."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = Delivery.objects.select_related(
        "webhook", "alert__paper", "alert__follow", "alert__team", "alert__code_event__link"
    ).get(pk=delivery_id)
    body = delivery_body(delivery)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "X-Tracker-Event": "alert",
        "X-Tracker-Delivery": str(delivery.pk),
        "X-Tracker-Signature": rules.signature(delivery.webhook.secret, timestamp, body),
    }
    error, status, refused = "", None, False
    try:
        status = safe_post(delivery.webhook.url, body, headers, fetch_config()).status
    except HarvestError as exc:
        log.warning("delivery %s to webhook %s failed: %s", delivery.pk, delivery.webhook_id, exc)
        error, refused = _plain_error(exc), isinstance(exc, RefusedURLError)
    else:
        if not 200 <= status < 300:
            error = f"the receiver answered HTTP {status}"
    if not error:
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENT,
            response_status=status,
            delivered_at=timezone.now(),
            last_error="",
            claimed_until=None,
        )
        return DeliveryStatus.SENT
    final = refused or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    outcome = DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING
    Delivery.objects.filter(pk=delivery.pk).update(
        status=outcome, response_status=status, last_error=error[:300], claimed_until=None
    )
    if not final:
        raise TransientHarvestError(error)
    return str(outcome)


def delivery_retry_in(retries: int) -> float:
    """Seconds before the next attempt: doubling from WEBHOOK_RETRY_BASE_SECONDS, capped."""
    return float(
        min(settings.WEBHOOK_RETRY_BASE_SECONDS * 2**retries, settings.WEBHOOK_RETRY_MAX_SECONDS)
    )


# A delivery queued this long ago and never tried lost its message (a broker outage).
LOST_AFTER = timedelta(minutes=2)
DUE_PER_SWEEP = 200


def deliveries_due(now: datetime | None = None) -> list[int]:
    """The sweep's finds: deliveries whose message was lost with the broker or whose worker
    died mid-send. Never tried and queued a while ago; retrying but silent for longer than
    the longest backoff; claimed by a worker past its claim. Queuing one twice is harmless:
    an attempt first claims it."""
    now = now or timezone.now()
    longest = timedelta(seconds=settings.WEBHOOK_RETRY_MAX_SECONDS) + LOST_AFTER
    lost = (
        Q(status=DeliveryStatus.PENDING, created_at__lt=now - LOST_AFTER)
        | Q(status=DeliveryStatus.RETRYING, last_attempt_at__lt=now - longest)
        | Q(status=DeliveryStatus.SENDING, claimed_until__lt=now)
    )
    return list(
        Delivery.objects.filter(lost)
        .order_by("created_at")
        .values_list("pk", flat=True)[:DUE_PER_SWEEP]
    )


def delivery_retry(membership: Membership, delivery_id: int) -> Delivery | None:
    """A member sends a failed delivery again (its attempts start over)."""
    delivery = (
        deliveries_of(membership).filter(pk=delivery_id, status=DeliveryStatus.FAILED).first()
    )
    if delivery is None:
        return None
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, attempts=0
    )
    from workers.tasks import deliver_alert_task  # task object only, to enqueue

    # Celery's Django task class has delay_on_commit; the celery-types stubs do not know it.
    deliver_alert_task.delay_on_commit(delivery.pk)  # type: ignore[attr-defined]
    return delivery


# --- the notification list --------------------------------------------------------------------


def alerts_mark_seen(membership: Membership, now: datetime | None = None) -> None:
    AlertsSeen.objects.update_or_create(
        team_id=membership.team_id,
        user_id=membership.user_id,
        defaults={"seen_at": now or timezone.now()},
    )
