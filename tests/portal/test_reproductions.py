from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from scipy.stats import spearmanr

from tests.conftest import client_for
from tests.factories import ClaimFactory, PaperFactory, RatingFactory, ReproductionFactory
from tests.portal.helpers import reproduction_underway, session_queries
from tracker.reproductions.models import Claim, Reproduction, ReproductionEvent, ResultLog, Status
from tracker.reproductions.services import (
    reproduction_assign,
    reproduction_propose,
    reproduction_transition,
    result_log,
)
from tracker.reproductions.stats import (
    GroupStat,
    spearman,
    spearman_p,
    team_stats,
    wilson_interval,
)
from tracker.teams.models import Membership
from tracker.topics.models import PaperTopic, Topic


def member(cast, user, team=None) -> Membership:  # type: ignore[no-untyped-def]
    return Membership.objects.get(user=user, team=team or cast.vision)


def test_proposing_twice_reuses_the_open_reproduction(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory()
    first, created = reproduction_propose(membership=member(cast, cast.ben), paper=paper)
    again, created_again = reproduction_propose(membership=member(cast, cast.ada), paper=paper)
    assert created and not created_again and first.pk == again.pk
    assert first.events.get().kind == "proposed"


def test_only_a_curator_or_the_proposer_assigns(cast) -> None:  # type: ignore[no-untyped-def]
    repro = ReproductionFactory(team=cast.vision, proposed_by=cast.ada)
    with pytest.raises(PermissionDenied):
        reproduction_assign(
            reproduction=repro, membership=member(cast, cast.ben), assignees=[cast.ben]
        )
    reproduction_assign(reproduction=repro, membership=member(cast, cast.ada), assignees=[cast.ben])
    assert list(repro.assignees.all()) == [cast.ben]
    with pytest.raises(ValidationError):
        reproduction_assign(
            reproduction=repro, membership=member(cast, cast.ada), assignees=[cast.carol]
        )


def test_statuses_move_forward_with_timestamped_attributed_events(cast) -> None:  # type: ignore[no-untyped-def]
    repro = ReproductionFactory(team=cast.vision, proposed_by=cast.ben)
    repro.assignees.add(cast.ben)
    ben = member(cast, cast.ben)
    with pytest.raises(ValidationError):
        reproduction_transition(reproduction=repro, membership=ben, to_status=Status.IN_PROGRESS)
    reproduction_transition(reproduction=repro, membership=ben, to_status=Status.ACCEPTED)
    reproduction_transition(reproduction=repro, membership=ben, to_status=Status.IN_PROGRESS)
    repro.refresh_from_db()
    assert repro.accepted_at and repro.started_at
    events = list(
        repro.events.filter(kind="status").values_list("from_status", "to_status", "actor")
    )
    assert events == [
        ("proposed", "accepted", cast.ben.pk),
        ("accepted", "in_progress", cast.ben.pk),
    ]


def test_the_history_reads_in_words(cast) -> None:  # type: ignore[no-untyped-def]
    """The reproduction page's history names statuses and actions as the board does, not
    by their stored codes."""
    repro, _ = reproduction_propose(membership=member(cast, cast.ben), paper=PaperFactory())
    ben = member(cast, cast.ben)
    reproduction_assign(reproduction=repro, membership=ben, assignees=[cast.ben])
    reproduction_transition(reproduction=repro, membership=ben, to_status=Status.ACCEPTED)
    reproduction_transition(reproduction=repro, membership=ben, to_status=Status.IN_PROGRESS)
    page = client_for(cast.ben).get(f"/reproductions/{repro.pk}/").content.decode()
    history = page[page.index("<h2>History</h2>") :]
    assert "Proposed → <strong>Accepted</strong>" in history
    assert "Accepted → <strong>In progress</strong>" in history
    assert re.search(r"<strong>ben</strong>\s+assigned", history)
    assert "in_progress" not in history


def test_abandoning_needs_a_reason(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    with pytest.raises(ValidationError):
        reproduction_transition(
            reproduction=repro, membership=member(cast, cast.ben), to_status=Status.ABANDONED
        )
    reproduction_transition(
        reproduction=repro,
        membership=member(cast, cast.ben),
        to_status=Status.ABANDONED,
        reason="code never released",
    )
    repro.refresh_from_db()
    assert repro.abandon_reason == "code never released"


def test_only_assignees_and_curators_change_status_or_log_results(cast) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import MembershipFactory, UserFactory

    dan = UserFactory(username="dan")
    MembershipFactory(team=cast.vision, user=dan)
    repro = reproduction_underway(cast)
    claim = Claim.objects.get(paper=repro.paper)
    dan_m = member(cast, dan)
    with pytest.raises(PermissionDenied):
        reproduction_transition(
            reproduction=repro, membership=dan_m, to_status=Status.ABANDONED, reason="x"
        )
    with pytest.raises(PermissionDenied):
        result_log(reproduction=repro, membership=dan_m, claim=claim, reproduced_value=1)
    # ada is a curator, not an assignee: allowed.
    result_log(
        reproduction=repro, membership=member(cast, cast.ada), claim=claim, reproduced_value=71
    )


def test_outcome_follows_the_claims_unless_an_assignee_overrides_with_a_reason(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    # The claim states its protocol and the runs match it: a miss can decide.
    Claim.objects.filter(paper=repro.paper).update(shots=0)
    claim = Claim.objects.get(paper=repro.paper)
    ben, ada = member(cast, cast.ben), member(cast, cast.ada)
    result_log(
        reproduction=repro,
        membership=ben,
        claim=claim,
        reproduced_value=65.0,
        compute_gpu_hours=Decimal("12.5"),
        seeds=[0, 1],
        shots=0,
    )
    with pytest.raises(PermissionDenied):  # a curator cannot override
        reproduction_transition(
            reproduction=repro, membership=ada, to_status=Status.REPRODUCED, reason="x"
        )
    with pytest.raises(ValidationError):  # an assignee must say why
        reproduction_transition(reproduction=repro, membership=ben, to_status=Status.REPRODUCED)
    reproduction_transition(reproduction=repro, membership=ada, to_status=Status.NOT_REPRODUCED)
    repro.refresh_from_db()
    assert repro.status == Status.NOT_REPRODUCED and repro.finished_at
    assert repro.compute_spent_gpu_hours == Decimal("12.5")

    # A later result that meets the claim changes the outcome with it (results weigh by
    # their seeds: two seeds each).
    result_log(
        reproduction=repro,
        membership=ben,
        claim=claim,
        reproduced_value=78.0,
        seeds=[2, 3],
        shots=0,
    )
    repro.refresh_from_db()
    assert repro.status == Status.REPRODUCED
    assert repro.events.filter(note="outcome follows the claims' verdicts").exists()

    reproduction_transition(reproduction=repro, membership=ben, to_status=Status.IN_PROGRESS)
    reproduction_transition(
        reproduction=repro,
        membership=ben,
        to_status=Status.PARTLY_REPRODUCED,
        reason="second seed diverged; only one setting holds",
    )
    repro.refresh_from_db()
    assert repro.outcome_override_reason.startswith("second seed")


def test_result_against_another_papers_claim_is_refused(cast) -> None:  # type: ignore[no-untyped-def]
    repro = reproduction_underway(cast)
    foreign = ClaimFactory(team=cast.vision)
    with pytest.raises(ValidationError):
        result_log(
            reproduction=repro, membership=member(cast, cast.ben), claim=foreign, reproduced_value=1
        )


def test_pages_drive_the_whole_workflow(cast) -> None:  # type: ignore[no-untyped-def]
    paper = PaperFactory(title="Paper to reproduce")
    ben, ada = client_for(cast.ben), client_for(cast.ada)
    response = ben.post(
        f"/papers/{paper.pk}/reproduce/", {"due_date": "2030-01-01", "budget_gpu_hours": "100"}
    )
    repro = Reproduction.objects.get()
    assert response["Location"] == f"/reproductions/{repro.pk}/"
    ada.post(f"/reproductions/{repro.pk}/assign/", {"assignees": [cast.ben.pk]})
    ben.post(f"/reproductions/{repro.pk}/status/", {"to_status": "accepted"})
    ben.post(f"/reproductions/{repro.pk}/status/", {"to_status": "in_progress"})
    ben.post(
        f"/reproductions/{repro.pk}/claims/",
        {
            "metric": "acc",
            "dataset": "MMLU",
            "claimed_value": "71.3",
            "higher_is_better": "1",
            "tolerance": "0.5",
            "shots": "5",
        },
    )
    claim = Claim.objects.get()
    ben.post(
        f"/reproductions/{repro.pk}/results/",
        {
            "claim": claim.pk,
            "reproduced_value": "68.0",
            "seeds": "0, 1, 2",
            "spread": "0.4",
            "compute_gpu_hours": "8",
            "run_url": "https://wandb.ai/x/run1",
            "note": "fp16",
            "shots": "5",
        },
    )
    result = ResultLog.objects.get()
    assert result.seeds == [0, 1, 2] and result.logged_by == cast.ben
    page = ben.get(f"/reproductions/{repro.pk}/").content.decode()
    assert "Not reproduced" in page and "Finish: Not reproduced" in page
    ben.post(f"/reproductions/{repro.pk}/status/", {"to_status": "not_reproduced"})
    repro.refresh_from_db()
    assert repro.status == Status.NOT_REPRODUCED
    assert repro.due_date.isoformat() == "2030-01-01"
    assert ReproductionEvent.objects.filter(reproduction=repro).count() >= 6
    assert "Not reproduced" in ben.get(f"/papers/{paper.pk}/").content.decode()
    assert "Not reproduced" in ben.get("/stats/").content.decode()


def test_board_has_a_column_per_status_and_a_mine_filter(cast) -> None:  # type: ignore[no-untyped-def]
    mine = ReproductionFactory(
        team=cast.vision, proposed_by=cast.ada, paper__title="assigned to ben"
    )
    mine.assignees.add(cast.ben)
    ReproductionFactory(team=cast.vision, proposed_by=cast.ada, paper__title="ada only")
    ReproductionFactory(team=cast.language, proposed_by=cast.carol, paper__title="other team")
    client = client_for(cast.ben)
    team_page = client.get("/reproductions/").content.decode()
    assert "assigned to ben" in team_page and "ada only" in team_page
    assert "other team" not in team_page
    for status in Status:
        assert status.label in team_page
    mine_page = client.get("/reproductions/?mine=1").content.decode()
    assert "assigned to ben" in mine_page and "ada only" not in mine_page
    assert "assigned to ben" in client.get("/reproductions/?format=csv").content.decode()


def test_board_cards_show_assignees_due_dates_and_compute(cast) -> None:  # type: ignore[no-untyped-def]
    late = ReproductionFactory(
        team=cast.vision,
        proposed_by=cast.ada,
        status=Status.IN_PROGRESS,
        paper__title="Late <b>one</b>",
        due_date=date(2020, 1, 2),
        compute_budget_gpu_hours=Decimal("100"),
        compute_spent_gpu_hours=Decimal("12.5"),
    )
    late.assignees.add(cast.ben, cast.ada)
    done = ReproductionFactory(
        team=cast.vision,
        proposed_by=cast.ada,
        status=Status.REPRODUCED,
        due_date=date(2020, 1, 2),
        compute_spent_gpu_hours=Decimal("3"),
    )
    spendthrift = ReproductionFactory(
        team=cast.vision,
        proposed_by=cast.ada,
        status=Status.IN_PROGRESS,
        compute_budget_gpu_hours=Decimal("40"),
        compute_spent_gpu_hours=Decimal("52"),
    )

    page = client_for(cast.ben).get("/reproductions/").content.decode()

    card = page.split(f"#{late.pk} ", 1)[1].split("</div></div>", 1)[0]
    # Assignees by name; a date past due is marked while the work is open; 12.5 rounds up.
    assert card.index(">ada<") < card.index(">ben<")
    assert '<span class="overdue">due 2020-01-02</span>' in card
    assert "13/100 GPU-h" in card
    assert "Late &lt;b&gt;one&lt;/b&gt;" in page
    finished = page.split(f"#{done.pk} ", 1)[1].split("</div></div>", 1)[0]
    assert "unassigned" in finished and "overdue" not in finished and "3 GPU-h" in finished
    # Spent past the budget is marked too; within it (13 of 100 above) is not.
    over = page.split(f"#{spendthrift.pk} ", 1)[1].split("</div></div>", 1)[0]
    assert '<span class="over-budget" title="Over budget: GPU-hours spent of budget">52/40' in over
    assert "over-budget" not in card
    detail = client_for(cast.ben).get(f"/reproductions/{spendthrift.pk}/").content.decode()
    assert '40.00 budgeted · <span class="over-budget">over budget</span>' in detail
    within = client_for(cast.ben).get(f"/reproductions/{late.pk}/").content.decode()
    assert "over budget" not in within


def test_a_board_card_moves_forward_for_its_assignees_and_curators(cast) -> None:  # type: ignore[no-untyped-def]
    proposed = ReproductionFactory(team=cast.vision, proposed_by=cast.ada)
    proposed.assignees.add(cast.ben)
    accepted = ReproductionFactory(team=cast.vision, proposed_by=cast.ada, status=Status.ACCEPTED)
    underway = reproduction_underway(cast)

    def card(page: str, repro: Reproduction) -> str:
        return page.split(f"#{repro.pk} ", 1)[1].split('<div class="repro-card">', 1)[0]

    board = client_for(cast.ben).get("/reproductions/?mine=1").content.decode()
    # ben is on the proposed card and on the one underway; only routine steps are offered.
    assert 'value="accepted"' in card(board, proposed) and "Accept →" in card(board, proposed)
    assert 'name="next" value="/reproductions/?mine=1"' in card(board, proposed)
    assert "card-move" not in card(board, underway)
    team = client_for(cast.ben).get("/reproductions/").content.decode()
    assert "card-move" not in card(team, accepted)  # not his to move
    curator = client_for(cast.ada).get("/reproductions/").content.decode()
    assert "Start →" in card(curator, accepted) and "Accept →" in card(curator, proposed)

    # The button works without JavaScript and comes back to the board it was pressed on.
    response = client_for(cast.ben).post(
        f"/reproductions/{proposed.pk}/status/",
        {"to_status": "accepted", "next": "/reproductions/?mine=1"},
    )
    assert response.status_code == 302 and response["Location"] == "/reproductions/?mine=1"
    proposed.refresh_from_db()
    assert proposed.status == Status.ACCEPTED
    # Someone else's card stays refused, button or not; another team's is not found.
    forged = {"to_status": "in_progress", "next": "/reproductions/"}
    assert (
        client_for(cast.ben).post(f"/reproductions/{accepted.pk}/status/", forged).status_code
        == 403
    )
    assert (
        client_for(cast.carol).post(f"/reproductions/{accepted.pk}/status/", forged).status_code
        == 404
    )
    accepted.refresh_from_db()
    assert accepted.status == Status.ACCEPTED
    # An outside next is not followed.
    outside = client_for(cast.ada).post(
        f"/reproductions/{accepted.pk}/status/",
        {"to_status": "in_progress", "next": "https://evil.example/"},
    )
    assert outside["Location"] == f"/reproductions/{accepted.pk}/"


@pytest.mark.parametrize("rows", [3, 30])
def test_board_query_count_is_fixed(cast, rows: int, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    for i in range(rows):
        repro = ReproductionFactory(
            team=cast.vision, proposed_by=cast.ada, status=list(Status)[i % 7], abandon_reason="x"
        )
        repro.assignees.add(cast.ben, cast.ada)
    client = client_for(cast.ben)
    # (session), user, membership, cards, assignees
    with django_assert_num_queries(session_queries() + 4):
        client.get("/reproductions/")


@pytest.mark.parametrize("rows", [3, 30])
def test_stats_query_count_is_fixed(cast, rows: int, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    for i in range(rows):
        # A third are arXiv papers with no lab of their own: their lab comes from the
        # author table, read once for them all (none is read when every paper has a lab).
        repro = reproduction_underway(cast, paper__lab=f"lab{i % 3}" if i % 3 else "")
        claim = Claim.objects.get(paper=repro.paper)
        ResultLog.objects.create(reproduction=repro, claim=claim, reproduced_value=60 + i)
        Reproduction.objects.filter(pk=repro.pk).update(
            status=Status.REPRODUCED if i % 2 else Status.NOT_REPRODUCED,
            finished_at=repro.created_at,
        )
        RatingFactory(team=cast.vision, user=cast.ada, paper=repro.paper, value=1 + i % 5)
    client = client_for(cast.ben)
    # (session), user, membership, results, their papers, lab posts, author table,
    # finished reproductions, ratings
    with django_assert_num_queries(session_queries() + 8):
        client.get("/stats/")


def test_stats_group_rates_gaps_and_calibration(cast) -> None:  # type: ignore[no-untyped-def]
    values = {5: 72.0, 4: 71.0, 2: 60.0, 1: 50.0}
    agents = Topic.objects.create(label="Agents")
    for rating, value in values.items():
        repro = reproduction_underway(cast, paper__lab="Qwen")
        if value > 70:
            PaperTopic.objects.create(paper=repro.paper, topic=agents)
        Claim.objects.filter(paper=repro.paper).update(harness="lm-eval")
        claim = Claim.objects.get(paper=repro.paper)
        result_log(
            reproduction=repro,
            membership=member(cast, cast.ben),
            claim=claim,
            reproduced_value=value,
            harness="lm-eval",
        )
        reproduction_transition(
            reproduction=repro,
            membership=member(cast, cast.ben),
            to_status=Status.REPRODUCED if value >= 70.8 else Status.NOT_REPRODUCED,
        )
        RatingFactory(team=cast.vision, user=cast.ada, paper=repro.paper, value=rating)
    stats = team_stats(cast.vision)
    (qwen,) = stats.by_lab
    assert (qwen.label, qwen.tested, qwen.reproduced) == ("Qwen", 4, 2)
    assert qwen.median_gap_pct == pytest.approx(100 * (71.3 - 65.5) / 71.3, abs=1e-6)
    # The two reproduced papers are in a topic, the two others in none.
    topics = {g.label: (g.tested, g.reproduced) for g in stats.by_topic}
    assert topics == {"Agents": (2, 2), "No topic": (2, 0)}
    (ada,) = stats.calibration
    assert ada.pairs == 4 and ada.spearman == pytest.approx(0.8944, abs=1e-3)
    # Four papers: a strong rho that could still be chance, shown with its p-value.
    assert ada.spearman_p == pytest.approx(0.1056, abs=1e-3)
    page = client_for(cast.ben).get("/stats/").content.decode()
    assert "0.89</span> <span" in page and "p 0.11" in page and "could be chance" in page
    assert "2 of 4 reproduced; 95% interval 15\u201385%" in page
    assert dict((v, m) for v, _, m, _ in ada.outcome_means)["reproduced"] == 4.5
    assert stats.median_days is not None
    assert team_stats(cast.language).claims == []


def test_spearman_handles_ties_and_small_samples() -> None:
    assert spearman([1, 2], [0, 1]) is None
    assert spearman([1, 2, 3], [1, 1, 1]) is None
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1)


def test_reproduction_rates_carry_their_wilson_interval() -> None:
    assert wilson_interval(1, 1) == pytest.approx((0.2065, 1.0), abs=1e-4)
    assert wilson_interval(2, 4) == pytest.approx((0.1500, 0.8500), abs=1e-4)
    assert wilson_interval(0, 3) == pytest.approx((0.0, 0.5615), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    stat = GroupStat(label="Qwen", tested=4, reproduced=2, median_gap_pct=None)
    assert stat.interval_pct == pytest.approx((15.0, 85.0), abs=1e-2)


def test_spearman_p_agrees_with_scipy() -> None:
    xs = [5, 4, 4, 3, 2, 2, 1, 5, 3, 1]
    ys = [1.0, 1.0, 0.5, 0.5, 0.0, 0.5, 0.0, 0.5, 1.0, 0.0]
    expected = spearmanr(xs, ys)
    rho = spearman(xs, ys)
    assert rho == pytest.approx(expected.statistic)
    assert spearman_p(rho, len(xs)) == pytest.approx(expected.pvalue)
    assert spearman_p(None, 10) is None and spearman_p(1.0, 5) == 0.0
