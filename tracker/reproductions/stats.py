"""What the team learns from its reproductions: rates, gaps, time to verdict, calibration.

Six queries whatever the number of rows (results with their claims, their papers with
their topics, the two that attribute the papers' labs, finished reproductions, the ratings
of reproduced papers); everything else is arithmetic here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from statistics import mean, median

from django.db.models import F
from scipy.stats import t as student_t

from tracker.papers.labs import LAB_FIELDS, papers_labs
from tracker.papers.models import Paper
from tracker.reproductions.models import FINISHED_STATUSES, Reproduction, ResultLog, Status
from tracker.reproductions.verdicts import (
    INCONCLUSIVE,
    JUDGED_CLAIM_FIELDS,
    JUDGED_RESULT_FIELDS,
    VERDICT_LABELS,
    claim_judgement,
)
from tracker.teams.models import Team
from tracker.triage.models import Rating

# What the stats read of a paper: what they show, and what papers_labs reads its lab from.
STATS_PAPER_FIELDS = ("title", "primary_category", *LAB_FIELDS)
# What the stats read of a result and of its claim: what they group and show, and what
# judges the claim (claim_judgement); the notes, quotes and links stay unread.
RESULT_FIELDS = ("reproduction", "claim", *JUDGED_RESULT_FIELDS)
CLAIM_FIELDS = ("paper", "metric", *JUDGED_CLAIM_FIELDS)
# How much of the claim each outcome kept, to correlate with value ratings.
OUTCOME_SCORE = {
    Status.REPRODUCED: 1.0,
    Status.PARTLY_REPRODUCED: 0.5,
    Status.NOT_REPRODUCED: 0.0,
}


@dataclass
class ClaimOutcome:
    reproduction_id: int
    paper_id: int
    paper_title: str
    metric: str
    dataset: str
    claimed: float
    reproduced: float
    verdict: str
    gap_pct: float | None
    lab: str
    topic: str
    category: str
    # Where the lab came from (tracker.papers.labs.Evidence).
    lab_evidence: str = ""

    @property
    def verdict_label(self) -> str:
        return VERDICT_LABELS[self.verdict]


@dataclass
class GroupStat:
    """A group's decided claims (tested: reproduced or not) and, apart, its inconclusive
    ones, which count in neither the rate nor its interval."""

    label: str
    tested: int
    reproduced: int
    median_gap_pct: float | None
    inconclusive: int = 0

    @property
    def rate(self) -> float:
        return self.reproduced / self.tested if self.tested else 0.0

    @property
    def interval_pct(self) -> tuple[float, float]:
        """The 95% Wilson interval of the reproduction rate, in percent: one claim that held
        says "somewhere from 21% to 100%", not "100%"."""
        low, high = wilson_interval(self.reproduced, self.tested)
        return 100 * low, 100 * high


@dataclass
class RaterCalibration:
    username: str
    pairs: int
    spearman: float | None
    # Whether rho could be chance: with a handful of papers even 0.9 often is.
    spearman_p: float | None
    mean_by_outcome: dict[str, tuple[float, int]] = field(default_factory=dict)

    @property
    def outcome_means(self) -> list[tuple[str, str, float | None, int]]:
        """Mean rating per outcome, in outcome order, for the table."""
        rows = []
        for status in map(Status, FINISHED_STATUSES):
            value, count = self.mean_by_outcome.get(status.value, (None, 0))
            rows.append((status.value, status.label, value, count))
        return rows


@dataclass
class TeamStats:
    claims: list[ClaimOutcome]
    by_lab: list[GroupStat]
    by_topic: list[GroupStat]
    by_category: list[GroupStat]
    outcomes: list[tuple[str, str, int]]
    days_to_verdict: list[float]
    median_days: float | None
    calibration: list[RaterCalibration]

    @property
    def inconclusive(self) -> int:
        """Claims whose results do not decide yet: shown apart from the outcomes."""
        return sum(1 for c in self.claims if c.verdict == INCONCLUSIVE)

    @property
    def days_axis(self) -> float:
        """The strip chart's right end: the slowest verdict, and never less than a day."""
        return max([1.0, *self.days_to_verdict])


def _ranks(values: list[float]) -> list[float]:
    """Ranks from 1, ties sharing their average rank (as Spearman's rho needs)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's rank correlation; None with fewer than three pairs or no variation."""
    if len(xs) < 3:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = mean(rx), mean(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    if vx == 0 or vy == 0:
        return None
    return cov / (vx * vy) ** 0.5


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion (95% with the default z); (0, 1) with no
    trials. Unlike the normal approximation it stays inside [0, 1] for small counts."""
    if trials <= 0:
        return 0.0, 1.0
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z * (share * (1 - share) / trials + z * z / (4 * trials * trials)) ** 0.5 / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def spearman_p(rho: float | None, pairs: int) -> float | None:
    """Two-sided p-value of a Spearman rho over `pairs` pairs, by the t approximation
    (as scipy's spearmanr): how often rank order this strong would come by chance."""
    if rho is None or pairs < 3:
        return None
    if abs(rho) >= 1:
        return 0.0
    t = rho * ((pairs - 2) / (1 - rho * rho)) ** 0.5
    return float(2 * student_t.sf(abs(t), pairs - 2))


def _group(claims: list[ClaimOutcome], key: str) -> list[GroupStat]:
    groups: dict[str, list[ClaimOutcome]] = defaultdict(list)
    for claim in claims:
        groups[getattr(claim, key)].append(claim)
    stats = []
    for label, items in groups.items():
        gaps = [c.gap_pct for c in items if c.gap_pct is not None]
        undecided = sum(1 for c in items if c.verdict == INCONCLUSIVE)
        stats.append(
            GroupStat(
                label=label,
                tested=len(items) - undecided,
                reproduced=sum(1 for c in items if c.verdict == Status.REPRODUCED),
                median_gap_pct=median(gaps) if gaps else None,
                inconclusive=undecided,
            )
        )
    return sorted(stats, key=lambda g: (-g.tested - g.inconclusive, g.label))


def team_stats(team: Team) -> TeamStats:
    results = (
        ResultLog.objects.filter(reproduction__team=team, claim__team=team)
        .select_related("claim")
        .only(*RESULT_FIELDS, *(f"claim__{name}" for name in CLAIM_FIELDS))
        .order_by("created_at", "id")
    )
    grouped: dict[tuple[int, int], list[ResultLog]] = defaultdict(list)
    for result in results:
        grouped[(result.reproduction_id, result.claim_id)].append(result)
    # Each paper once, with the fields shown and those its lab is read from, and its topic's
    # label. Joined to every result, a paper (abstract and all), its topic link and its
    # topic were read and built again for each of its results: 600 reproductions with 960
    # results, at a million papers, took 150-170 ms for that query where the two take 55-75.
    papers = {
        paper.pk: paper
        for paper in Paper.objects.only(*STATS_PAPER_FIELDS)
        .annotate(topic_label=F("paper_topic__topic__label"))
        .filter(pk__among={logged[0].claim.paper_id for logged in grouped.values()})
    }
    labs = papers_labs(list(papers.values()))
    claims = []
    for (reproduction_id, _), logged in grouped.items():
        claim = logged[0].claim
        paper = papers[claim.paper_id]
        judgement = claim_judgement(claim, logged)
        assert judgement is not None  # at least one result in each group
        topic = paper.topic_label or "No topic"
        claims.append(
            ClaimOutcome(
                reproduction_id=reproduction_id,
                paper_id=paper.pk,
                paper_title=paper.title,
                metric=claim.metric,
                dataset=claim.dataset,
                claimed=claim.claimed_value,
                reproduced=judgement.estimate.mean,
                verdict=judgement.status,
                # Relative, so that accuracy points and perplexities can share one median;
                # the same unit the reproduction's page and the digest show.
                gap_pct=judgement.gap_pct,
                lab=labs[paper.pk].lab,
                lab_evidence=labs[paper.pk].evidence,
                topic=topic,
                category=paper.primary_category or "none",
            )
        )

    finished = list(
        Reproduction.objects.for_team(team)
        .filter(status__in=FINISHED_STATUSES, finished_at__isnull=False)
        .values_list("paper_id", "status", "created_at", "finished_at")
    )
    counts: defaultdict[str, int] = defaultdict(int)
    for _, status, _, _ in finished:
        counts[status] += 1
    outcomes = [(s.value, s.label, counts[s.value]) for s in map(Status, FINISHED_STATUSES)]
    days = sorted((done - made).total_seconds() / 86400 for _, _, made, done in finished)

    # A paper reproduced twice counts with its latest outcome.
    outcome_by_paper = {
        paper_id: status for paper_id, status, _, _ in sorted(finished, key=lambda f: f[3])
    }
    per_rater: dict[str, list[tuple[int, str]]] = defaultdict(list)
    ratings = (
        Rating.objects.for_team(team)
        .filter(paper_id__among=outcome_by_paper)
        .values_list("user__username", "paper_id", "value")
    )
    for username, paper_id, value in ratings:
        per_rater[username].append((value, outcome_by_paper[paper_id]))
    calibration = []
    for username, pairs in sorted(per_rater.items()):
        by_outcome: dict[str, list[int]] = defaultdict(list)
        for value, outcome in pairs:
            by_outcome[outcome].append(value)
        rho = spearman([float(v) for v, _ in pairs], [OUTCOME_SCORE[Status(o)] for _, o in pairs])
        calibration.append(
            RaterCalibration(
                username=username,
                pairs=len(pairs),
                spearman=rho,
                spearman_p=spearman_p(rho, len(pairs)),
                mean_by_outcome={
                    status: (mean(values), len(values)) for status, values in by_outcome.items()
                },
            )
        )

    return TeamStats(
        claims=sorted(claims, key=lambda c: -c.reproduction_id),
        by_lab=_group(claims, "lab"),
        by_topic=_group(claims, "topic"),
        by_category=_group(claims, "category"),
        outcomes=outcomes,
        days_to_verdict=days,
        median_days=median(days) if days else None,
        calibration=calibration,
    )
