"""BibTeX and CSV of the search results and of a topic's papers, as the pages list them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import client_for
from tests.factories import LabReportFactory, PaperFactory
from tracker.papers.embeddings import embed_papers
from tracker.topics.models import PaperTopic, Topic


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_search_exports_the_results_it_shows_in_their_order(cast) -> None:  # type: ignore[no-untyped-def]
    papers = [
        PaperFactory(title="Zebra stripes and camouflage", arxiv_id="2599.00001"),
        PaperFactory(title="Zebra herds", abstract="zebra zebra zebra migration"),
        LabReportFactory(title="=HYPERLINK(zebra)", abstract="zebra"),
        PaperFactory(title="Unrelated", abstract="protein folding"),
    ]
    embed_papers([p.pk for p in papers], owner="test")
    client = client_for(cast.ada)
    url = reverse("search:search")
    page = client.get(url, {"q": "zebra", "kind": ""})
    shown = [hit.paper.pk for hit in page.context["hits"]]
    assert len(shown) >= 3
    body = page.content.decode()
    assert "q=zebra&amp;kind=&amp;format=bib" in body and "q=zebra&amp;kind=&amp;format=csv" in body

    exported = client.get(url, {"q": "zebra", "kind": "", "format": "csv"})
    assert exported["Content-Type"].startswith("text/csv")
    assert 'filename="search.csv"' in exported["Content-Disposition"]
    rows = csv_rows(exported.content)
    assert [int(row["id"]) for row in rows] == shown
    by_id = {int(row["id"]): row for row in rows}
    # The whole record, not only the fields a hit carries to the page.
    assert by_id[papers[0].pk]["arxiv_id"] == "2599.00001"
    assert by_id[papers[0].pk]["authors"] == "; ".join(papers[0].authors)
    assert by_id[papers[2].pk]["title"] == "'=HYPERLINK(zebra)"

    bib = client.get(url, {"q": "zebra", "kind": "", "format": "bib"})
    assert bib["Content-Type"].startswith("application/x-bibtex")
    assert bib.content.decode().count("@misc{") == len(shown)
    assert "@misc{arxiv:2599.00001," in bib.content.decode()


def test_search_export_follows_the_filters_and_needs_a_question(cast) -> None:  # type: ignore[no-untyped-def]
    arxiv = PaperFactory(title="Zebra stripes")
    lab = LabReportFactory(title="Zebra report")
    embed_papers([arxiv.pk, lab.pk], owner="test")
    client = client_for(cast.ada)
    url = reverse("search:search")
    rows = csv_rows(client.get(url, {"q": "zebra", "kind": "lab_report", "format": "csv"}).content)
    assert [int(row["id"]) for row in rows] == [lab.pk]
    # Nothing asked, or a bad filter: the page, not a file.
    for params in ({"format": "csv"}, {"q": "zebra", "date_from": "soon", "format": "csv"}):
        response = client.get(url, params)
        assert response["Content-Type"].startswith("text/html")
    assert Client().get(url, {"q": "zebra", "format": "csv"}).status_code == 302


def test_topic_exports_its_visible_papers_newest_first(cast) -> None:  # type: ignore[no-untyped-def]
    topic = Topic.objects.create(label="Reward models", size=4)
    other = Topic.objects.create(label="Speech", size=1)
    now = timezone.now()
    older = PaperFactory(title="Older", published_at=now - timedelta(days=3))
    newer = PaperFactory(title="Newer", published_at=now - timedelta(days=1))
    hidden = PaperFactory(title="Hidden one", hidden=True)
    duplicate = PaperFactory(title="Merged duplicate", merged_into=newer)
    elsewhere = PaperFactory(title="Speech paper")
    for paper in (older, newer, hidden, duplicate):
        PaperTopic.objects.create(paper=paper, topic=topic)
    PaperTopic.objects.create(paper=elsewhere, topic=other)
    client = client_for(cast.ada)
    url = reverse("topics:detail", args=[topic.pk])

    page = client.get(url).content.decode()
    assert "?format=bib" in page and "?format=csv" in page
    # The list shows what the export holds: a merged duplicate lives on in its survivor.
    assert "Newer" in page and "Merged duplicate" not in page and "Hidden one" not in page

    exported = client.get(url, {"format": "csv"})
    assert f'filename="topic-{topic.pk}.csv"' in exported["Content-Disposition"]
    assert [row["title"] for row in csv_rows(exported.content)] == ["Newer", "Older"]
    bib = client.get(url, {"format": "bib"}).content.decode()
    assert bib.count("@misc{") == 2 and "Speech paper" not in bib
    assert Client().get(url, {"format": "csv"}).status_code == 302
