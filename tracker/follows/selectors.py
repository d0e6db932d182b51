"""Reads of follows: a member's follows and webhooks, their alerts and delivery log, the
nav's unread count, and which of the inbox's papers a follow picks out (and why)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from pipeline import follows as rules
from tracker.follows.models import Alert, AlertsSeen, Delivery, Follow, FollowKind, Webhook
from tracker.papers.embeddings import stored_model_name
from tracker.papers.labs import Evidence, LabAttribution, author_table, lab_attribution
from tracker.papers.models import AuthorLab, Embedding, Paper, PaperSource
from tracker.teams.models import Membership
from tracker.topics.models import PaperTopic

ALERTS_SHOWN = 100
DELIVERIES_SHOWN = 100


def _own_or_channel(membership: Membership) -> Q:
    return Q(user_id=membership.user_id) | Q(user__isnull=True)


def follows_of(membership: Membership) -> QuerySet[Follow]:
    """The member's follows and the team channel's."""
    return Follow.objects.for_team(membership.team).filter(_own_or_channel(membership))


def followed_values(membership: Membership, kind: str) -> set[str]:
    """The member's own follows of one kind, normalised: which buttons read "unfollow"."""
    return set(
        Follow.objects.for_team(membership.team)
        .filter(user_id=membership.user_id, kind=kind)
        .values_list("value", flat=True)
    )


def is_following(membership: Membership, kind: str, value: str) -> bool:
    return rules.normalize(kind, value) in followed_values(membership, kind)


def webhooks_of(membership: Membership) -> QuerySet[Webhook]:
    return Webhook.objects.for_team(membership.team).filter(_own_or_channel(membership))


def alerts_of(membership: Membership) -> QuerySet[Alert]:
    """The member's alerts and the channel's, newest first, each with `unread`: one query."""
    seen = AlertsSeen.objects.filter(
        team_id=membership.team_id, user_id=membership.user_id, seen_at__gte=OuterRef("created_at")
    )
    return (
        Alert.objects.for_team(membership.team)
        .filter(_own_or_channel(membership))
        .select_related("paper", "follow", "code_event__link")
        .annotate(read=Exists(seen))
        .order_by("-created_at", "-id")
    )


def alerts_unread_count(membership: Membership) -> int:
    seen = AlertsSeen.objects.filter(team_id=membership.team_id, user_id=membership.user_id).values(
        "seen_at"
    )[:1]
    alerts = Alert.objects.for_team(membership.team).filter(_own_or_channel(membership))
    return alerts.filter(Q(created_at__gt=Subquery(seen)) | ~Exists(seen)).count()


def deliveries_of(membership: Membership) -> QuerySet[Delivery]:
    """The delivery log of the member's webhooks and the channel's, newest first."""
    return (
        Delivery.objects.for_team(membership.team)
        .filter(Q(webhook__user_id=membership.user_id) | Q(webhook__user__isnull=True))
        .select_related("webhook", "alert__paper", "alert__code_event")
        .order_by("-created_at", "-id")
    )


def _vectors(paper_ids: Iterable[int]) -> dict[int, np.ndarray]:
    model_name = stored_model_name()
    return {
        paper_id: np.frombuffer(bytes(vector), dtype="<f4")
        for paper_id, vector in Embedding.objects.filter(
            model_name=model_name, paper_id__among=paper_ids
        ).values_list("paper_id", "vector")
    }


# id, title, abstract, authors, lab, affiliations
PaperRow = tuple[int, str, str, list[str] | None, str, list[list[str]] | None]
ROW_FIELDS = ("pk", "title", "abstract", "authors", "lab", "affiliations")


def _labs(rows: Sequence[PaperRow]) -> dict[int, LabAttribution]:
    """Each row's lab as stats by lab attribute it (the record's, else its arXiv
    affiliations', else the author table's): one query, for the authors of the rows that
    carry no lab of their own (none when all do)."""
    table = author_table(a for row in rows if not row[4] for a in row[3] or [])
    found = {}
    for pk, _title, _abstract, authors, lab, affiliations in rows:
        attributed = lab_attribution(lab, authors, affiliations, table)
        if attributed is not None:
            found[pk] = attributed
    return found


def paper_facts(
    rows: Sequence[PaperRow], papers: QuerySet[Paper], follows: Sequence[Follow]
) -> dict[int, rules.PaperFacts]:
    """What matching `follows` needs of each paper: its row's fields, plus those of its
    sources and topic that are followed (read for `papers`, the query the rows came from),
    its vector when a seed paper is followed and its attributed lab when a lab is: a query
    for each of the four that any follow needs."""
    labs = _labs(rows) if any(f.kind == FollowKind.LAB for f in follows) else {}
    followed_sources = {f.source_id for f in follows if f.kind == FollowKind.SOURCE and f.source_id}
    followed_topics = {f.topic_id for f in follows if f.kind == FollowKind.TOPIC and f.topic_id}
    with_vectors = any(f.kind == FollowKind.PAPER for f in follows)
    ids = [row[0] for row in rows]
    sources: dict[int, set[str]] = {}
    if followed_sources:
        for paper_id, source_id in PaperSource.objects.filter(
            source_id__in=followed_sources, paper_id__in=ids
        ).values_list("paper_id", "source_id"):
            sources.setdefault(paper_id, set()).add(str(source_id))
    topics = (
        dict(
            PaperTopic.objects.filter(topic_id__in=followed_topics, paper_id__in=ids).values_list(
                "paper_id", "topic_id"
            )
        )
        if followed_topics
        else {}
    )
    vectors = _vectors(ids) if with_vectors else {}
    facts = {}
    for pk, title, abstract, authors, lab, _affiliations in rows:
        attributed = labs.get(pk) or LabAttribution(lab, Evidence.RECORD)
        facts[pk] = rules.PaperFacts(
            title=title,
            abstract=abstract,
            authors=tuple(authors or ()),
            lab=attributed.lab,
            lab_evidence="" if attributed.evidence == Evidence.RECORD else attributed.evidence,
            source_ids=frozenset(sources.get(pk, ())),
            topic_ids=frozenset({str(topics[pk])} if pk in topics else ()),
            vector=vectors.get(pk),
            paper_id=str(pk),
        )
    return facts


def match_reason(follow: Follow, facts: rules.PaperFacts) -> str:
    """Why a paper `follow` matched is shown: a lab follow matched through the paper's
    arXiv affiliations or the author table says so ("you follow Google DeepMind, by arXiv
    affiliation"), as the paper page does beside its lab."""
    if follow.kind == FollowKind.LAB and facts.lab_evidence:
        return f"{follow.reason}, by {facts.lab_evidence}"
    return follow.reason


def follow_rules(follows: Sequence[Follow]) -> list[rules.Follow]:
    seeds = _vectors(f.paper_id for f in follows if f.kind == FollowKind.PAPER and f.paper_id)
    return [
        rules.Follow(key=f.pk, kind=f.kind, value=f.value, vector=seeds.get(f.paper_id or 0))
        for f in follows
    ]


def _json_texts(text: str) -> set[str]:
    """`text` as it reads inside a stored JSON value: PostgreSQL keeps non-ASCII letters
    as they are, SQLite's text has them escaped ("Universit\\u00e9")."""
    return {json.dumps(text, ensure_ascii=escaped)[1:-1] for escaped in (True, False)}


def _lab_authors(follows: Sequence[Follow]) -> dict[str, set[str]]:
    """The authors the curators' table puts in each followed lab (by the follow's value):
    one query when a lab is followed, none otherwise."""
    wanted = Q()
    for follow in follows:
        if follow.kind == FollowKind.LAB:
            wanted |= Q(lab__iexact=follow.label) | Q(lab__iexact=follow.value)
    if not wanted:
        return {}
    found: dict[str, set[str]] = {}
    for author, lab in AuthorLab.objects.filter(wanted, confirmed=True).values_list(
        "author", "lab"
    ):
        found.setdefault(rules.normalize(FollowKind.LAB, lab), set()).add(author)
    return found


def _lab_narrowing(follow: Follow, lab_authors: dict[str, set[str]]) -> Q:
    """Papers whose record, arXiv affiliations or author table may name the followed lab.
    An affiliation is read as a whole lab name, so a part of one is enough here; an author
    is one whole element of the list."""
    names = {follow.label, follow.value}
    q = Q()
    for name in names:
        q |= Q(lab__iexact=name)
        for text in _json_texts(name):
            q |= Q(affiliations__icontains=text)
    for author in lab_authors.get(follow.value, ()):
        for text in _json_texts(author):
            q |= Q(authors__icontains=f'"{text}"')
    return q


def _narrowing(follow: Follow, lab_authors: dict[str, set[str]]) -> Q:
    """A database filter that keeps every paper `follow` may match (and a few it does not:
    follow_matches decides), so only those are read."""
    if follow.kind == FollowKind.AUTHOR:
        return Q(authors__icontains=follow.value.split()[-1])
    if follow.kind == FollowKind.LAB:
        return _lab_narrowing(follow, lab_authors)
    if follow.kind == FollowKind.SOURCE:
        return Q(paper_sources__source_id=follow.source_id)
    if follow.kind == FollowKind.TOPIC:
        return Q(paper_topic__topic_id=follow.topic_id)
    terms = rules.search_terms(follow.value) if follow.kind == FollowKind.SEARCH else [follow.value]
    q = Q()
    for term in terms:
        q &= Q(title__icontains=term) | Q(abstract__icontains=term)
    return q


def inbox_follows(membership: Membership) -> list[Follow]:
    """The member's and the channel's follows, read once per inbox ranking: one query."""
    return list(follows_of(membership))


def followed_reasons(follows: Sequence[Follow], papers: QuerySet[Paper]) -> dict[int, str]:
    """Which of `papers` a follow of the member (or the channel) matches, and why: what
    the inbox's ranking puts first. The database narrows the papers down and the rules
    decide on those few. Seed papers count through the ranking itself (they act as ratings
    of 5), so only the other kinds are matched here. No query without follows, at most
    five with some (the matches' fields, their followed sources and topics, and with a lab
    followed the author table's rows of the followed labs and of the matches' authors),
    whatever the number of papers."""
    follows = [f for f in follows if f.kind != FollowKind.PAPER]
    if not follows:
        return {}
    lab_authors = _lab_authors(follows)
    narrowed = Q()
    for follow in follows:
        narrowed |= _narrowing(follow, lab_authors)
    found = papers.filter(narrowed).order_by().distinct()
    rows: list[PaperRow] = list(found.values_list(*ROW_FIELDS))
    if not rows:
        return {}
    facts = paper_facts(rows, found, follows)
    specs = follow_rules(follows)
    # The member's own follows speak before the channel's.
    pairs = sorted(zip(follows, specs, strict=True), key=lambda pair: pair[0].is_channel)
    reasons: dict[int, str] = {}
    for pk, facts_of in facts.items():
        for follow, spec in pairs:
            if rules.follow_matches(spec, facts_of):
                reasons[pk] = match_reason(follow, facts_of)
                break
    return reasons


def seed_papers(follows: Sequence[Follow]) -> set[int]:
    """The papers marked "more like this": a cold start for the member's ranking."""
    return {f.paper_id for f in follows if f.kind == FollowKind.PAPER and f.paper_id}


@dataclass(frozen=True)
class FollowButton:
    kind: str
    value: str
    label: str
    following: bool


def follow_buttons(
    membership: Membership,
    *,
    authors: Sequence[str] = (),
    lab: str = "",
    sources: Sequence[tuple[int, str]] = (),
    paper: Paper | None = None,
    topic: tuple[int, str] | None = None,
) -> dict[str, list[FollowButton]]:
    """The follow toggles of a page's authors, lab, sources, topic and paper, each saying
    whether the member follows it already: one query."""
    followed: dict[str, set[str]] = {}
    for kind, value in (
        Follow.objects.for_team(membership.team)
        .filter(user_id=membership.user_id)
        .values_list("kind", "value")
    ):
        followed.setdefault(kind, set()).add(value)

    def button(kind: str, value: str, label: str) -> FollowButton:
        on = rules.normalize(kind, value) in followed.get(kind, set())
        return FollowButton(kind, value, label, on)

    return {
        "authors": [button(FollowKind.AUTHOR, name, name) for name in authors if name.strip()],
        "lab": [button(FollowKind.LAB, lab, lab)] if lab else [],
        "sources": [button(FollowKind.SOURCE, str(pk), name) for pk, name in sources],
        "paper": [button(FollowKind.PAPER, str(paper.pk), paper.title)] if paper else [],
        "topic": [button(FollowKind.TOPIC, str(topic[0]), topic[1])] if topic else [],
    }
