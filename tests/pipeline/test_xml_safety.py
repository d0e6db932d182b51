"""Untrusted XML (arXiv's Atom and OAI-PMH answers, lab feeds) is parsed safely without
defusedxml: lxml with no DTD, no entities and no network, behind a refusal of any DTD or
entity declaration; feedparser through expat with external entities off (and expat's own
guard against entity expansion). So the project declares no defusedxml that nothing uses.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import feedparser
import pytest

from pipeline import arxiv, oai
from pipeline.errors import HarvestError
from pipeline.xml import xml_parse
from tests.harvest.fakes import FakeServer, Reply

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-from-the-worker-disk"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


def _attacks(secret: Path, server_url: str) -> dict[str, bytes]:
    feed = '<feed xmlns="http://www.w3.org/2005/Atom"><title>&e;</title></feed>'
    return {
        "external_entity": (
            f'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY e SYSTEM "file://{secret}">]>{feed}'
        ).encode(),
        "external_dtd": (
            f'<?xml version="1.0"?><!DOCTYPE feed SYSTEM "{server_url}/evil.dtd">{feed}'
        ).encode(),
        "parameter_entity": (
            f'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY % p SYSTEM "{server_url}/p">%p;]>{feed}'
        ).encode(),
        "entity_expansion": (
            '<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY e "&b;&b;&b;&b;&b;&b;">]>'
            f"{feed}"
        ).encode(),
        "lower_case_doctype_after_a_bom": (
            "\ufeff<?xml version='1.0'?>\n<!doctype feed [<!entity e 'x'>]>" + feed
        ).encode("utf-8"),
    }


@pytest.mark.parametrize(
    "name",
    [
        "external_entity",
        "external_dtd",
        "parameter_entity",
        "entity_expansion",
        "lower_case_doctype_after_a_bom",
    ],
)
def test_the_harvest_xml_parser_refuses_dtds_and_fetches_nothing(
    name: str, secret_file: Path
) -> None:
    with FakeServer(lambda request: Reply(body=b'<!ENTITY e "fetched">')) as server:
        body = _attacks(secret_file, server.url)[name]
        for parse in (xml_parse, arxiv.page_parse, oai.page_parse):
            with pytest.raises(HarvestError, match="declares a DTD or entities"):
                parse(body)
    assert server.requests == []


def test_a_document_nested_past_the_parser_limit_is_refused() -> None:
    body = b"<a>" * 100_000 + b"</a>" * 100_000
    with pytest.raises(HarvestError, match="malformed XML"):
        xml_parse(body)


def test_feedparser_reads_no_local_file_and_fetches_nothing(secret_file: Path) -> None:
    with FakeServer(lambda request: Reply(body=b'<!ENTITY e "fetched">')) as server:
        for body in _attacks(secret_file, server.url).values():
            parsed = feedparser.parse(body)
            assert SECRET not in repr(parsed) and "fetched" not in repr(parsed)
    assert server.requests == []


def test_no_xml_hardening_library_is_declared_that_nothing_uses() -> None:
    """A safety dependency nothing imports only looks like protection (it was defusedxml)."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    names = {
        dep.split(">")[0].split("=")[0].split("[")[0].lower() for dep in declared["dependencies"]
    }
    sources = [
        p.read_text("utf-8") for d in ("tracker", "workers") for p in (ROOT / d).rglob("*.py")
    ]
    for library in ("defusedxml",):
        if library in names:
            assert any(f"import {library}" in s or f"from {library}" in s for s in sources)
