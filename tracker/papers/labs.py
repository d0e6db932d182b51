"""Whose paper it is: a lab for every paper from the best evidence there is, saying which.

In order: a lab post about the paper (a lab report, or one merged into the arXiv paper);
the lab the source record carried; the affiliations the arXiv entry gave its authors; the
author → lab table curators keep (confirmed rows only). Papers with none stay
"arXiv (no lab)". Curators get suggestions for the table from
the authors who keep appearing on one lab's posts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tracker.papers.models import AuthorLab, Paper, PaperKind

NO_LAB = "arXiv (no lab)"
UNKNOWN = "Unknown"
# A suggestion needs the author on at least this many posts, most of them one lab's.
SUGGEST_MIN_POSTS = 2
SUGGEST_MIN_SHARE = 0.75
# Paper.lab's length: an affiliation names a lab in no more.
LAB_MAX_CHARS = 120


class Evidence:
    LAB_POST = "lab post"
    RECORD = "source record"
    AFFILIATION = "arXiv affiliation"
    AUTHOR_TABLE = "author table"
    NONE = "none"


@dataclass(frozen=True)
class LabAttribution:
    lab: str
    evidence: str
    # The author whose affiliation or table row gave the lab, when one did.
    author: str = ""


def _votes_lab(votes: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """(lab, author) from (lab, author) votes in the paper's author order: the lab most of
    them name, the earliest one breaking a tie, with the first author who named it."""
    counts = Counter(lab for lab, _ in votes)
    order = [lab for lab, _ in votes]
    lab = max(counts, key=lambda name: (counts[name], -order.index(name)))
    return lab, next(a for n, a in votes if n == lab)


def _affiliation_votes(
    authors: Sequence[object], affiliations: Sequence[object]
) -> list[tuple[str, str]]:
    """(affiliation, author) once for each affiliation of each author, in order. A paper
    whose lists do not line up with its authors (a curator edited the names) gives none."""
    if not affiliations or len(affiliations) != len(authors):
        return []
    votes = []
    # One spelling per lab for the whole paper (the first seen), so "MIT" and "mit" agree.
    spelling: dict[str, str] = {}
    for author, names in zip(authors, affiliations, strict=True):
        seen = set()
        for name in names if isinstance(names, list) else []:
            text = " ".join(str(name).split())[:LAB_MAX_CHARS]
            lab = spelling.setdefault(text.casefold(), text)
            if lab and lab not in seen:
                seen.add(lab)
                votes.append((lab, str(author)))
    return votes


def author_table(authors: Iterable[object]) -> dict[str, str]:
    """The curators' confirmed author → lab rows of these authors: one query, none for no
    authors."""
    names = {a for a in authors if isinstance(a, str)}
    if not names:
        return {}
    return dict(
        AuthorLab.objects.filter(author__among=names, confirmed=True).values_list("author", "lab")
    )


def lab_attribution(
    lab: str,
    authors: Sequence[object] | None,
    affiliations: Sequence[object] | None,
    table: Mapping[str, str],
) -> LabAttribution | None:
    """A paper's lab from its own fields: the lab its record carried, else its arXiv
    affiliations, else the author table (`table`, from author_table); None without any.
    The record's lab reads as RECORD: only papers_labs tells a lab post apart."""
    authors, affiliations = authors or [], affiliations or []
    if lab:
        return LabAttribution(lab, Evidence.RECORD)
    if affiliated := _affiliation_votes(authors, affiliations):
        # The affiliation most of the authors give; the earliest breaks a tie.
        name, author = _votes_lab(affiliated)
        return LabAttribution(name, Evidence.AFFILIATION, author)
    named = [(table[a], a) for a in authors if isinstance(a, str) and a in table]
    if named:
        # The lab most of the paper's known authors belong to; the first author's breaks a
        # tie (authors are in the paper's order).
        name, author = _votes_lab(named)
        return LabAttribution(name, Evidence.AUTHOR_TABLE, author)
    return None


# The fields papers_labs reads of each paper: a caller that reads papers with only() for
# it names these, so that none is fetched again paper by paper.
LAB_FIELDS = ("lab", "kind", "arxiv_id", "authors", "affiliations")


def papers_labs(papers: Sequence[Paper]) -> dict[int, LabAttribution]:
    """Each paper's lab and its evidence; at most two queries whatever the number of
    papers. Reads LAB_FIELDS of each."""
    ids = [p.pk for p in papers]
    with_post = set(
        Paper.objects.filter(merged_into_id__among=ids, kind=PaperKind.LAB_REPORT)
        .exclude(lab="")
        .values_list("merged_into_id", flat=True)
    )
    table = author_table(a for p in papers if not p.lab for a in p.authors or [])
    found: dict[int, LabAttribution] = {}
    for paper in papers:
        if paper.lab and (paper.kind == PaperKind.LAB_REPORT or paper.pk in with_post):
            found[paper.pk] = LabAttribution(paper.lab, Evidence.LAB_POST)
            continue
        attributed = lab_attribution(paper.lab, paper.authors, paper.affiliations, table)
        label = NO_LAB if paper.arxiv_id else UNKNOWN
        found[paper.pk] = attributed or LabAttribution(label, Evidence.NONE)
    return found


@transaction.atomic
def author_labs_suggest() -> int:
    """Suggest author → lab rows from lab posts: an author on SUGGEST_MIN_POSTS or more
    posts, most of them one lab's. Confirmed rows are never changed; returns how many
    suggestions were added or updated."""
    posts = Paper.objects.filter(kind=PaperKind.LAB_REPORT).exclude(lab="")
    per_author: dict[str, Counter[str]] = defaultdict(Counter)
    # A merged lab post's authors are often missing: the arXiv paper it joined has them.
    survivors = dict(
        Paper.objects.filter(
            pk__in=posts.exclude(merged_into=None).values("merged_into_id")
        ).values_list("pk", "authors")
    )
    for lab, authors, merged_into in posts.values_list("lab", "authors", "merged_into_id"):
        names = authors or survivors.get(merged_into) or []
        for name in {a.strip() for a in names if isinstance(a, str) and a.strip()}:
            per_author[name][lab] += 1
    confirmed = set(AuthorLab.objects.filter(confirmed=True).values_list("author", flat=True))
    changed = 0
    now = timezone.now()
    for author, labs in per_author.items():
        total = sum(labs.values())
        lab, count = labs.most_common(1)[0]
        if author in confirmed or total < SUGGEST_MIN_POSTS or count / total < SUGGEST_MIN_SHARE:
            continue
        AuthorLab.objects.update_or_create(
            author=author[:200],
            defaults={
                "lab": lab[:120],
                "posts_with_lab": count,
                "posts_total": total,
                "updated_at": now,
            },
        )
        changed += 1
    return changed
