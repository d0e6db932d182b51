"""OAI-PMH: a recorded ListRecords page, resumption tokens kept across a killed run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.errors import TransientHarvestError
from tests.harvest.fakes import FakeServer, Reply, Request
from tracker.papers.harvest import source_harvest
from tracker.papers.models import Paper, RunStatus, Source
from tracker.papers.services import source_create

pytestmark = pytest.mark.django_db

TOKEN = "6960524|1001"
LAST_PAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">
<responseDate>2024-01-27T17:53:44Z</responseDate>
<request verb="ListRecords">http://export.arxiv.org/oai2</request>
<ListRecords>
<record><header status="deleted"><identifier>oai:arXiv.org:2401.00001</identifier>
<datestamp>2024-01-26</datestamp></header></record>
<record><header><identifier>oai:arXiv.org:2401.14999</identifier><datestamp>2024-01-26</datestamp>
<setSpec>cs</setSpec></header><metadata>
<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title>A last record</dc:title><dc:creator>Lovelace, Ada</dc:creator>
<dc:description>Abstract text.</dc:description><dc:date>2024-01-20</dc:date>
<dc:date>2024-01-25</dc:date><dc:identifier>http://arxiv.org/abs/2401.14999</dc:identifier>
</oai_dc:dc></metadata></record>
<resumptionToken cursor="1001" completeListSize="1162"></resumptionToken>
</ListRecords></OAI-PMH>"""


@pytest.fixture
def oai(shared_data: Path, settings) -> Iterator[FakeServer]:  # type: ignore[no-untyped-def]
    first = (shared_data / "arxiv_oai" / "AtomikLabs_aws-iac" / "test_arxiv_data.xml").read_bytes()

    def respond(request: Request) -> Reply:
        if request.params.get("resumptionToken") == TOKEN:
            return Reply(body=LAST_PAGE)
        return Reply(body=first)

    with FakeServer(respond) as server:
        settings.ARXIV_OAI_URL = f"{server.url}/oai"
        yield server


def _source() -> Source:
    return source_create(kind="oai", name="cs backfill", oai_set="cs", window_days=3)


def test_oai_harvest_pages_through_with_the_resumption_token(oai: FakeServer) -> None:
    source = _source()
    run = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Paper.objects.count() == 6
    paper = Paper.objects.get(arxiv_id="1303.2033")
    assert paper.title == "Extended Fourier analysis of signals"
    assert paper.authors == ["Vilnis Liepins"]
    assert paper.comment == "32 pages, 9 figures" and paper.version == 2
    assert not Paper.objects.filter(arxiv_id="2401.00001").exists(), "deleted records skipped"
    first, second = oai.requests
    assert (first.params["metadataPrefix"], first.params["set"]) == ("oai_dc", "cs")
    assert second.params == {"verb": "ListRecords", "resumptionToken": TOKEN}
    source.refresh_from_db()
    assert source.resume_token == "" and source.cursor is not None


def test_a_killed_oai_run_resumes_from_its_stored_token(oai: FakeServer) -> None:
    source = _source()
    oai.fault(Reply(status=500), when=lambda r: "resumptionToken" in r.params, times=None)
    with pytest.raises(TransientHarvestError):
        source_harvest(source)
    source.refresh_from_db()
    assert source.resume_token == TOKEN and source.cursor is None
    assert Paper.objects.count() == 5

    oai.faults.clear()
    oai.requests.clear()
    run = source_harvest(source)

    assert run.status == RunStatus.SUCCEEDED and Paper.objects.count() == 6
    assert [r.params.get("resumptionToken") for r in oai.requests] == [TOKEN]


def test_oai_503_retry_after_is_honoured(oai: FakeServer, sleeps: list[float]) -> None:
    oai.fault(Reply(status=503, headers={"Retry-After": "5"}))
    run = source_harvest(_source())
    assert run.status == RunStatus.SUCCEEDED and sleeps == [5.0]
