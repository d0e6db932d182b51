"""Writes that share the day's reading across a team: each new paper goes to the team's
`readers_per_paper` members (pipeline.sharing chooses them by their ranking and their
load), a curator gives the unread shares out again or moves one, and a member's days away
move their unread share to the others.

Each write locks the team's row first: two rounds for one team (a sweep and the task after
an embedding run) queue behind each other, and the second finds the papers shared already.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import date, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from pipeline.sharing import percentiles, share_out
from tracker.papers.models import Embedding, Paper
from tracker.teams.models import Absence, Membership, Team
from tracker.teams.services import absence_create
from tracker.triage.models import Assignment, Rating, Skip
from tracker.triage.ranking import RANK_LIMIT, member_ranking
from tracker.triage.selectors import open_assignments

logger = logging.getLogger(__name__)

# Papers that arrived this long ago or less are new: a round shares only those (an import
# of the whole corpus or a re-embedding is not the day's reading). They are also the
# reference a member's affinity for a paper is measured against.
SHARE_NEW_DAYS = 2
# The sweep waits this long for a paper's vector before sharing it without one: affinity
# needs the vector, and the task after an embedding run usually shares it first.
EMBEDDING_GRACE = timedelta(hours=1)


def _team_locked(team_id: int) -> Team | None:
    return Team.objects.select_for_update().filter(pk=team_id).first()


def present_members(team: Team, day: date) -> list[Membership]:
    """The team's members not away on `day`, in the order of their user ids."""
    away = Absence.objects.on(day).filter(membership=OuterRef("pk"))
    return list(
        Membership.objects.filter(team=team)
        .exclude(Exists(away))
        .select_related("team")
        .order_by("user_id")
    )


def _loads(team: Team) -> Counter[int]:
    rows = open_assignments(team).values("user_id").annotate(n=Count("id")).order_by()
    return Counter({row["user_id"]: row["n"] for row in rows})


def _affinities(members: list[Membership], paper_ids: list[int]) -> dict[int, dict[int, float]]:
    """Each member's percentile of each paper among the new papers (and `paper_ids`)."""
    since = timezone.now() - timedelta(days=SHARE_NEW_DAYS)
    reference = Paper.objects.visible().filter(Q(pk__in=paper_ids) | Q(created_at__gte=since))
    candidates = reference.order_by("-created_at", "-id")
    wanted = set(paper_ids)
    found: dict[int, dict[int, float]] = {}
    for membership in members:
        ranked = member_ranking(membership, candidates, explain=0)
        if len(ranked) >= RANK_LIMIT and not wanted <= {r.paper_id for r in ranked}:
            # More new papers than a ranking takes: rank the round's papers alone.
            ranked = member_ranking(membership, reference.filter(pk__in=paper_ids), explain=0)
        places = percentiles({r.paper_id: r.score for r in ranked})
        found[membership.user_id] = {pk: place for pk, place in places.items() if pk in wanted}
    return found


def _give(
    team: Team,
    members: list[Membership],
    need: dict[int, int],
    exclude: dict[int, set[int]],
) -> int:
    """Share the papers of `need` (paper id: readers still wanted), newest first, over
    `members`; returns how many shares were made."""
    keys = list(
        Paper.objects.filter(pk__in=list(need))
        .order_by("-published_at", "-id")
        .values_list("pk", flat=True)
    )
    if not keys or not members:
        return 0
    user_ids = [m.user_id for m in members]
    shares = share_out(
        keys,
        user_ids,
        _affinities(members, keys),
        _loads(team),
        need,
        {pk: set(users) for pk, users in exclude.items()},
    )
    now = timezone.now()
    Assignment.objects.bulk_create(
        [
            Assignment(
                team=team,
                paper_id=share.key,
                user_id=share.member,
                assigned_at=now,
                affinity=share.affinity,
            )
            for share in shares
        ],
        ignore_conflicts=True,
    )
    return len(shares)


def _readers_of(team: Team, paper_ids: list[int]) -> dict[int, set[int]]:
    """Who has each paper already: in their share, rated or skipped (one query each)."""
    readers: dict[int, set[int]] = defaultdict(set)
    for model in (Assignment, Rating, Skip):
        for paper_id, user_id in model.objects.filter(
            team=team, paper_id__in=paper_ids
        ).values_list("paper_id", "user_id"):
            readers[paper_id].add(user_id)
    return readers


@transaction.atomic
def papers_share(team_id: int, paper_ids: list[int]) -> int:
    """Share these papers in the team, those of them not shared yet: each to
    `readers_per_paper` of the members present today (all of them when fewer). Nothing for
    a team whose members all read everything. Safe to run twice: a shared paper is left
    as it is, so a new member or a new k applies to the papers that come next.
    Returns how many shares were made."""
    team = _team_locked(team_id)
    if team is None or not team.readers_per_paper or not paper_ids:
        return 0
    taken = Assignment.objects.filter(team=team, paper_id__in=paper_ids).values("paper_id")
    new = list(
        Paper.objects.visible()
        .filter(pk__in=paper_ids)
        .exclude(pk__in=taken)
        .values_list("pk", flat=True)
    )
    members = present_members(team, timezone.localdate())
    if not new:
        return 0
    if not members:
        logger.warning("Team %s: every member is away, %d papers not shared", team.pk, len(new))
        return 0
    readers = _readers_of(team, new)
    return _give(team, members, dict.fromkeys(new, team.readers_per_paper), readers)


def papers_share_everywhere(paper_ids: list[int]) -> int:
    """Share those of these papers that are new (arrived in SHARE_NEW_DAYS) in every team
    that shares its reading, one team after the other; returns the shares made."""
    since = timezone.now() - timedelta(days=SHARE_NEW_DAYS)
    new = list(
        Paper.objects.visible()
        .filter(pk__in=paper_ids, created_at__gte=since)
        .values_list("pk", flat=True)
    )
    if not new:
        return 0
    teams = Team.objects.filter(readers_per_paper__gt=0).values_list("pk", flat=True)
    return sum(papers_share(team_id, new) for team_id in teams)


def share_after_embedding_run(sender: object, paper_ids: list[int], **kwargs: object) -> None:
    """Receiver of papers' `embedding_run_finished`: the new papers among these have their
    vectors (and their topic) now, which the members' affinity for them needs. Queued
    after commit; the sweep shares them if the broker is down."""
    from workers.tasks import share_papers_task

    since = timezone.now() - timedelta(days=SHARE_NEW_DAYS)
    new = list(
        Paper.objects.filter(pk__in=paper_ids, created_at__gte=since).values_list("pk", flat=True)
    )
    if new and Team.objects.filter(readers_per_paper__gt=0).exists():
        # Celery's Django task class has delay_on_commit; the celery-types stubs do not know it.
        share_papers_task.delay_on_commit(new)  # type: ignore[attr-defined]


def shares_of_leaver(sender: object, instance: Membership, **kwargs: object) -> None:
    """Receiver of Membership's post_delete: the unread share of someone who left the team
    goes to the others (after commit, on a worker), so that no paper waits on them."""
    from workers.tasks import rebalance_shares_task

    if not Assignment.objects.filter(team_id=instance.team_id, user_id=instance.user_id).exists():
        return
    team_id, user_ids = instance.team_id, [instance.user_id]
    # Robust: with the broker down the removal stands, and the sweep moves the share.
    transaction.on_commit(lambda: rebalance_shares_task.delay(team_id, user_ids), robust=True)


def shares_sweep() -> int:
    """Beat: share the new papers no round shared yet (the task after an embedding run did
    not run, or a paper never got a vector), and move the unread shares of members who are
    away today or have left the team. Cheap when there is nothing to do; returns how many
    shares were made."""
    now = timezone.now()
    embedded = Embedding.objects.filter(paper=OuterRef("pk"))
    made = 0
    for team in Team.objects.filter(readers_per_paper__isnull=False, readers_per_paper__gt=0):
        shared = Assignment.objects.filter(team=team, paper=OuterRef("pk"))
        waiting = list(
            Paper.objects.visible()
            .filter(created_at__gte=now - timedelta(days=SHARE_NEW_DAYS))
            .filter(Q(Exists(embedded)) | Q(created_at__lt=now - EMBEDDING_GRACE))
            .exclude(Exists(shared))
            .values_list("pk", flat=True)
        )
        if waiting:
            made += papers_share(team.pk, waiting)
        # Members away today, and people no longer in the team, leave their unread share.
        away = Absence.objects.on(timezone.localdate()).filter(membership__team=team)
        member = Membership.objects.filter(team=team, user_id=OuterRef("user_id"))
        gone = set(
            open_assignments(team)
            .filter(Q(user_id__in=away.values("membership__user_id")) | ~Q(Exists(member)))
            .values_list("user_id", flat=True)
        )
        if gone:
            made += shares_rebalance(team.pk, user_ids=sorted(gone))
    return made


@transaction.atomic
def shares_rebalance(team_id: int, user_ids: list[int] | None = None) -> int:
    """Give the unread shares out again over the members present today: everyone's (a
    curator's rebalance), or those of `user_ids` (members away). A share someone has read
    stays; no paper goes to a member who has it already. Returns how many shares were
    made."""
    team = _team_locked(team_id)
    if team is None:
        return 0
    reopened = open_assignments(team)
    if user_ids is not None:
        reopened = reopened.filter(user_id__in=user_ids)
    wanted = Counter(reopened.values_list("paper_id", flat=True))
    if not wanted:
        return 0
    Assignment.objects.filter(pk__in=list(reopened.values_list("pk", flat=True))).delete()
    members = present_members(team, timezone.localdate())
    readers = _readers_of(team, list(wanted))
    if user_ids is not None:
        # Members away keep none of it back.
        for paper_id in wanted:
            readers[paper_id].update(user_ids)
    return _give(team, members, dict(wanted), readers)


@transaction.atomic
def assignment_reassign(*, assignment: Assignment, to_user: User) -> Assignment:
    """Move one share to another member of its team (a curator's choice); the new reader
    gets the whole of BLIND_FOR to read it."""
    if not Membership.objects.filter(team_id=assignment.team_id, user=to_user).exists():
        raise ValidationError("That person is not a member of the team.")
    if to_user.pk == assignment.user_id:
        return assignment
    if Assignment.objects.filter(
        team_id=assignment.team_id, paper_id=assignment.paper_id, user=to_user
    ).exists():
        raise ValidationError(f"{to_user.get_username()} already has this paper in their share.")
    assignment.user = to_user
    assignment.assigned_at = timezone.now()
    assignment.save(update_fields=["user", "assigned_at"])
    return assignment


def days_away_add(*, membership: Membership, starts: date, ends: date) -> Absence:
    """Mark days away; when they include today the member's unread share goes to the others
    at once (the sweep moves it on the first day of a later absence)."""
    absence = absence_create(membership=membership, starts=starts, ends=ends)
    if absence.starts <= timezone.localdate() <= absence.ends:
        shares_rebalance(membership.team_id, user_ids=[membership.user_id])
    return absence
