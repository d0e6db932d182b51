"""The paper list stays one page of queries whatever its size; actions are audited."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import Cast
from tests.factories import LabReportFactory, PaperFactory, SourceFactory
from tracker.papers.admin.lists import CappedCountPaginator
from tracker.papers.duplicates import duplicate_candidate_propose
from tracker.papers.merge import paper_merge
from tracker.papers.models import CandidateStatus, Embedding, Paper, PaperMerge, PaperSource, Source
from tracker.topics.models import PaperTopic, Topic

LIST = "/admin/papers/paper/"
QUERIES = [
    "",
    "?q=attention",
    "?q=2501.00001v2",
    "?state=visible&kind__exact=arxiv",
    "?_facets=True&state=hidden",
    "?source={source}&lab=Qwen&topic={topic}&category=cs.CL&has_code=yes&duplicate=open",
]


def seed(count: int) -> None:
    source = Source.objects.first() or SourceFactory(name="arxiv", lab="Qwen")
    topic = Topic.objects.first() or Topic.objects.create(label="attention", size=count)
    for i in range(count):
        paper = PaperFactory(code_urls=["https://github.com/x/y"] if i % 2 else [])
        PaperSource.objects.create(paper=paper, source=source, url=paper.canonical_url)
        PaperTopic.objects.create(paper=paper, topic=topic)
    LabReportFactory()


def count_queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("query", QUERIES)
def test_paper_list_runs_the_same_queries_for_5_and_50_papers(curator: Client, query: str) -> None:
    seed(5)
    query = query.format(source=Source.objects.get().pk, topic=Topic.objects.get().pk)
    small = count_queries(curator, LIST + query)
    seed(45)
    assert count_queries(curator, LIST + query) == small
    assert small <= 12


def test_search_by_arxiv_id_is_exact(curator: Client, db: None) -> None:
    wanted = PaperFactory(arxiv_id="2501.12345")
    PaperFactory(arxiv_id="2501.123456"[:10] + "9")
    response = curator.get(LIST + "?q=arXiv:2501.12345v3")
    assert list(response.context["cl"].result_list) == [wanted]


def test_code_filter_counts_repositories_named_in_the_text(curator: Client, db: None) -> None:
    harvested = PaperFactory(code_urls=["https://github.com/x/y"])
    in_abstract = PaperFactory(abstract="Code: https://huggingface.co/org/model")
    plain = PaperFactory(abstract="No code.")
    found = {p.pk for p in curator.get(LIST + "?has_code=yes").context["cl"].result_list}
    assert found == {harvested.pk, in_abstract.pk}
    missing = {p.pk for p in curator.get(LIST + "?has_code=no").context["cl"].result_list}
    assert plain.pk in missing and not missing & found


def test_hide_pin_and_reembed_actions_are_applied_and_audited(cast: Cast, curator: Client) -> None:
    papers = [PaperFactory(), PaperFactory()]
    for paper in papers:
        Embedding.objects.create(
            paper=paper, model_name=settings.EMBEDDING_MODEL, dimension=1, vector=b"\0" * 4
        )
    Embedding.objects.create(paper=papers[0], model_name="old-model", dimension=1, vector=b"1")
    ids = [p.pk for p in papers]
    for action in ("hide", "pin", "reembed"):
        response = curator.post(LIST, {"action": action, "_selected_action": ids})
        assert response.status_code == 302
    assert not Paper.objects.visible().exists()
    assert Paper.objects.filter(pinned_for_digest=True).count() == 2
    assert list(Embedding.objects.values_list("model_name", flat=True)) == ["old-model"]
    entries = LogEntry.objects.filter(user=cast.ada, object_id=str(papers[0].pk))
    assert {e.change_message for e in entries} == {
        "Hidden",
        "Pinned for the digest",
        "Queued for re-embedding",
    }

    curator.post(LIST, {"action": "unhide", "_selected_action": ids})
    assert Paper.objects.visible().count() == 2


def test_duplicate_queue_merges_and_rejects_from_the_side_by_side_page(
    cast: Cast, curator: Client
) -> None:
    paper, post = PaperFactory(title="Qwen3"), LabReportFactory(title="Qwen3 blog")
    other = PaperFactory(title="Unrelated")
    merge_me = duplicate_candidate_propose(paper, post, reason="title")
    keep_apart = duplicate_candidate_propose(paper, other, reason="embedding", score=0.91)
    assert merge_me is not None and keep_apart is not None

    queue = curator.get("/admin/papers/duplicatecandidate/")
    assert {c.pk for c in queue.context["cl"].result_list} == {merge_me.pk, keep_apart.pk}
    page = curator.get(f"/admin/papers/duplicatecandidate/{merge_me.pk}/change/")
    assert page.status_code == 200
    assert b"Qwen3 blog" in page.content and b"Same work" in page.content

    low_is_paper = merge_me.paper_a_id == paper.pk
    decision = "keep_a" if low_is_paper else "keep_b"
    response = curator.post(
        f"/admin/papers/duplicatecandidate/{merge_me.pk}/change/", {"decision": decision}
    )
    # Straight on to the next open candidate.
    assert response.headers["Location"].endswith(f"/duplicatecandidate/{keep_apart.pk}/change/")
    post.refresh_from_db()
    assert post.merged_into == paper
    merge = PaperMerge.objects.get()
    assert merge.merged_by == cast.ada

    curator.post(
        f"/admin/papers/duplicatecandidate/{keep_apart.pk}/change/", {"decision": "reject"}
    )
    keep_apart.refresh_from_db()
    assert (keep_apart.status, keep_apart.decided_by) == (CandidateStatus.REJECTED, cast.ada)
    assert keep_apart.decided_at is not None
    # What the harvest calls when it sees the pair again: the decision stands.
    again = duplicate_candidate_propose(other, paper, reason="title")
    assert again is not None and again.pk == keep_apart.pk
    assert again.status == CandidateStatus.REJECTED

    queue = curator.get("/admin/papers/duplicatecandidate/")
    assert list(queue.context["cl"].result_list) == []
    decided = curator.get("/admin/papers/duplicatecandidate/?status=all")
    assert {c.pk for c in decided.context["cl"].result_list} == {merge_me.pk, keep_apart.pk}

    page = curator.get(f"/admin/papers/papermerge/{merge.pk}/change/")
    assert b"Undo this merge" in page.content
    assert curator.post(f"/admin/papers/papermerge/{merge.pk}/undo/").status_code == 302
    post.refresh_from_db()
    assert post.merged_into is None
    messages = set(LogEntry.objects.filter(user=cast.ada).values_list("change_message", flat=True))
    assert "Rejected: not duplicates" in messages
    assert f"Undid merge {merge.pk}" in messages
    assert any(m.startswith("Merged paper") for m in messages)


def test_two_papers_picked_in_the_list_open_as_a_candidate(curator: Client, db: None) -> None:
    first, second = PaperFactory(), LabReportFactory()
    response = curator.post(
        LIST, {"action": "merge_two", "_selected_action": [first.pk, second.pk]}
    )
    assert response.status_code == 302
    assert "/admin/papers/duplicatecandidate/" in response.headers["Location"]


def test_undo_action_from_the_merge_list(cast: Cast, curator: Client) -> None:
    paper, post = PaperFactory(), LabReportFactory()
    merge = paper_merge(paper, post, cast.ada)
    curator.post("/admin/papers/papermerge/", {"action": "undo", "_selected_action": [merge.pk]})
    post.refresh_from_db()
    assert post.merged_into is None


def test_a_list_beyond_the_count_cap_says_more_than(
    curator: Client, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    for _ in range(5):
        PaperFactory()
    page = curator.get(LIST)
    assert page.context["cl"].result_count == 3
    assert b"more than 3 papers" in page.content
    assert b"Select all matching papers (more than 3)" in page.content


def row_links(content: bytes) -> list[str]:
    """The href of each row's link (the first column's, in a <th>)."""
    return re.findall(r'<th class="field-[^"]+"><a href="([^"]+)"', content.decode())


def test_row_links_keep_the_filters_for_the_way_back(curator: Client, db: None) -> None:
    """Saving a paper or a candidate returns to the list as it was filtered."""
    paper, post = PaperFactory(primary_category="cs.CV"), LabReportFactory(title="Blog <b>")
    candidate = duplicate_candidate_propose(paper, post, reason="title")
    assert candidate is not None

    links = row_links(curator.get(f"{LIST}?category=cs.CV&q=").content)
    assert links == [
        f"/admin/papers/paper/{paper.pk}/change/?_changelist_filters=category%3Dcs.CV%26q%3D"
    ]
    assert row_links(curator.get(LIST).content)[0].endswith("/change/")

    queue = curator.get("/admin/papers/duplicatecandidate/?status=open").content
    assert row_links(queue) == [
        f"/admin/papers/duplicatecandidate/{candidate.pk}/change/?_changelist_filters=status%3Dopen"
    ]
    # The pair is the row's one link, its titles escaped inside it.
    cell = queue.decode().split('<th class="field-pair">', 1)[1].split("</th>", 1)[0]
    assert cell.count("<a ") == 1 and "Blog &lt;b&gt;" in cell
