"""The code watch's writes: which links each paper has, checking the due ones, and the
events ("code released", "weights released", "code promised") a check reveals."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from pipeline.codewatch import Check, Endpoints, HostPacer, Link, Watcher, find_links
from tracker.papers.models import (
    CodeEvent,
    CodeEventKind,
    CodeLink,
    CodeLinkKind,
    Paper,
    has_code_condition,
)
from tracker.papers.signals import code_events_recorded

log = logging.getLogger(__name__)

# Daily while a paper is new (code usually follows within weeks), weekly after.
NEW_PAPER_DAYS = 30
DAILY = timedelta(days=1)
WEEKLY = timedelta(days=7)
CHECKS_PER_RUN = 200
REPOSITORY_KINDS = (CodeLinkKind.GITHUB, CodeLinkKind.GITLAB)


def watcher() -> Watcher:
    return Watcher(
        endpoints=Endpoints(
            github=settings.CODEWATCH_GITHUB_API,
            gitlab=settings.CODEWATCH_GITLAB_API,
            huggingface=settings.CODEWATCH_HF_API,
        ),
        github_token=settings.GITHUB_TOKEN,
        pacer=HostPacer(settings.CODEWATCH_HOST_INTERVAL),
    )


def paper_texts(paper: Paper) -> list[str]:
    """The abstract, the comment, the harvested code URLs and the text of lab posts merged
    into the paper."""
    texts = [paper.abstract, paper.comment, " ".join(u for u in paper.code_urls or [] if u)]
    texts += Paper.objects.filter(merged_into=paper).values_list("abstract", flat=True)
    return texts


def code_links_sync(paper_ids: Sequence[int]) -> int:
    """Add the links these papers name that are not watched yet; returns how many."""
    rows = [
        CodeLink(paper=paper, url=link.url[:500], kind=link.kind, ident=link.ident[:300])
        for paper in Paper.objects.filter(pk__in=list(paper_ids), merged_into__isnull=True)
        for link in find_links(paper_texts(paper))
    ]
    before = CodeLink.objects.filter(paper_id__in=list(paper_ids)).count()
    CodeLink.objects.bulk_create(rows, ignore_conflicts=True)
    return CodeLink.objects.filter(paper_id__in=list(paper_ids)).count() - before


def next_check(published_at: datetime | None, now: datetime) -> datetime:
    if published_at is None or now - published_at <= timedelta(days=NEW_PAPER_DAYS):
        return now + DAILY
    return now + WEEKLY


def _event(link: CodeLink, kind: str, now: datetime) -> bool:
    try:
        with transaction.atomic():
            event = CodeEvent.objects.create(paper_id=link.paper_id, link=link, kind=kind, at=now)
    except IntegrityError:
        return False  # seen before: each kind once per link
    # Follows (above papers) alerts the paper's followers.
    code_events_recorded.send(sender=CodeEvent, event_ids=[event.pk])
    return True


def code_link_record(link: CodeLink, check: Check, now: datetime | None = None) -> list[str]:
    """Store what a check found and the events it reveals; returns the new events' kinds.
    A failure is counted and kept on the link, never lost, and the link stays scheduled."""
    now = now or timezone.now()
    link.checked_at = now
    link.next_check_at = next_check(link.paper.published_at, now)
    if check.status == "error":
        link.failures += 1
        link.last_error = check.error[:300]
        link.last_error_at = now
        link.save()
        return []
    link.failures = 0
    if check.status == "missing":
        link.exists = False
    elif check.status == "ok":
        for name in ("exists", "empty", "has_weights", "license", "latest_release", "stars"):
            setattr(link, name, getattr(check, name))
        link.last_push = check.last_push[:40]
        link.etag = check.etag[:200]
    link.save()
    events = []
    if link.exists:
        if link.kind in REPOSITORY_KINDS or link.kind == CodeLinkKind.HF_SPACE:
            kind = CodeEventKind.CODE_PROMISED if link.empty else CodeEventKind.CODE_RELEASED
            if _event(link, kind, now):
                events.append(kind)
        if link.has_weights and _event(link, CodeEventKind.WEIGHTS_RELEASED, now):
            events.append(CodeEventKind.WEIGHTS_RELEASED)
    return [str(kind) for kind in events]


def code_links_check_due(limit: int = CHECKS_PER_RUN, now: datetime | None = None) -> int:
    """Check the links whose time has come, oldest first; one link's failure never stops
    the others. Returns how many were checked."""
    now = now or timezone.now()
    due = list(
        CodeLink.objects.filter(next_check_at__lte=now)
        .select_related("paper")
        .order_by("next_check_at", "id")[:limit]
    )
    if not due:
        return 0
    watch = watcher()
    for link in due:
        check = watch.check(Link(link.url, link.kind, link.ident), etag=link.etag)
        try:
            code_link_record(link, check, now=timezone.now())
        except Exception:
            log.exception("recording the check of code link %s failed", link.pk)
    return len(due)


def code_watch_run(now: datetime | None = None) -> int:
    """Beat's run: watch the links of recent papers that name code, then check due ones."""
    now = now or timezone.now()
    recent = (
        Paper.objects.filter(merged_into__isnull=True)
        .filter(Q(published_at__gte=now - timedelta(days=365)) | Q(published_at__isnull=True))
        .filter(has_code_condition())
        .exclude(pk__in=CodeLink.objects.values("paper_id"))
        .values_list("pk", flat=True)[:CHECKS_PER_RUN]
    )
    code_links_sync(list(recent))
    return code_links_check_due(now=now)


def code_watch_context(paper: Paper) -> dict[str, list]:
    """The paper page's watched links and their events: one query, two with links."""
    links = list(CodeLink.objects.filter(paper=paper).order_by("id"))
    events = (
        list(CodeEvent.objects.filter(paper=paper).select_related("link").order_by("at", "id"))
        if links
        else []
    )
    return {"code_watch_links": links, "code_events": events}
