"""Every admin page a curator or a superuser can reach renders, with real rows in it."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from tests.conftest import Cast, client_for
from tests.factories import (
    ClaimFactory,
    CommentFactory,
    LabReportFactory,
    PaperFactory,
    RatingFactory,
    ReproductionFactory,
    ResultLogFactory,
    SourceFactory,
)
from tracker.papers.duplicates import duplicate_candidate_propose
from tracker.papers.merge import paper_merge
from tracker.papers.models import HarvestRun, PaperSource, PaperVersion
from tracker.topics.models import ClusteringRun, PaperTopic, Topic
from tracker.triage.models import RatingHistory


@pytest.fixture
def rows(cast: Cast) -> None:
    paper, post, other = PaperFactory(), LabReportFactory(), PaperFactory()
    source = SourceFactory()
    HarvestRun.objects.create(source=source, fetched=3, new=2)
    PaperSource.objects.create(paper=paper, source=source, url=paper.canonical_url)
    PaperVersion.objects.create(paper=paper, version=1, title=paper.title)
    run = ClusteringRun.objects.create(model_name="m", metrics={"silhouette": 0.3})
    topic = Topic.objects.create(label="RL", last_run=run)
    PaperTopic.objects.create(paper=paper, topic=topic, run=run)
    RatingFactory(team=cast.vision, user=cast.ben, paper=paper)
    RatingHistory.objects.create(
        team=cast.vision, paper=paper, user=cast.ben, value=2, rated_at=paper.created_at
    )
    CommentFactory(team=cast.vision, user=cast.ben, paper=paper)
    repro = ReproductionFactory(team=cast.vision, paper=paper)
    ResultLogFactory(reproduction=repro, claim=ClaimFactory(team=cast.vision, paper=paper))
    duplicate_candidate_propose(paper, other, reason="title")
    paper_merge(paper, post, cast.ada)


def walk(client: Client) -> list[str]:
    """GET every changelist, add page and first change page the client may see."""
    seen = []
    for model, model_admin in admin.site._registry.items():
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        listing = client.get(base, follow=True)
        if listing.status_code == 403:
            continue
        assert listing.status_code == 200, base
        seen.append(base)
        first = model_admin.get_queryset(listing.wsgi_request).first()
        if first is not None:
            page = client.get(f"{base}{first.pk}/change/")
            assert page.status_code == 200, f"{base}{first.pk}/change/"
            history = client.get(f"{base}{first.pk}/history/")
            assert history.status_code == 200
        add = client.get(f"{base}add/")
        assert add.status_code in (200, 403), f"{base}add/"
    return seen


def test_every_page_a_curator_reaches_renders(rows: None, curator: Client) -> None:
    seen = walk(curator)
    assert "/admin/papers/paper/" in seen and "/admin/teams/membership/" in seen
    assert "/admin/admin/logentry/" not in seen
    assert "/admin/digests/digestsend/" not in seen


def test_every_page_a_superuser_reaches_renders(rows: None, cast: Cast) -> None:
    cast.carol.is_superuser = cast.carol.is_staff = True
    cast.carol.save()
    seen = walk(client_for(cast.carol))
    assert len(seen) == len(admin.site._registry)
