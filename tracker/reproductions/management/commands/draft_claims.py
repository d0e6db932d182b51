"""Draft claims for papers given as JSON lines, without touching the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pipeline.claims import draft_claims
from tracker.reproductions.services import llm_config

FIELDS = ("value", "unit", "metric", "dataset", "kind", "direction", "quote")


def _paper(line: str) -> dict[str, Any]:
    """The paper on one input line, or ValueError saying what is wrong with it."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ValueError("not JSON") from exc
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    if not isinstance(record.get("id"), (str, int)) or record.get("id") in ("", None):
        raise ValueError('no "id"')
    for name in ("title", "abstract", "comment"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise ValueError(f'"{name}" is not text')
    if not (record.get("title") or record.get("abstract")):
        raise ValueError('neither "title" nor "abstract"')
    return record


class Command(BaseCommand):
    help = (
        'Draft claims for each line {"id", "title", "abstract", "comment"} of --input and '
        'write {"id", "claims": [...]} lines to --output. Bad lines are skipped and reported.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--input", required=True, type=Path)
        parser.add_argument("--output", required=True, type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["input"])
        if not source.is_file():
            raise CommandError(f"no such input file: {source}")
        config = llm_config()
        papers = claims = skipped = dropped = fallbacks = 0
        with (
            source.open(encoding="utf-8", errors="replace") as lines,
            Path(options["output"]).open("w", encoding="utf-8") as out,
        ):
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    record = _paper(line)
                except ValueError as exc:
                    skipped += 1
                    self.stderr.write(f"line {number}: skipped, {exc}")
                    continue
                result = draft_claims(
                    record.get("title") or "",
                    record.get("abstract") or "",
                    record.get("comment") or "",
                    llm=config,
                )
                if result.error:
                    fallbacks += 1
                    self.stderr.write(f"line {number}: drafted by the rules, {result.error}")
                dropped += result.dropped
                row = [{k: c.as_dict()[k] for k in FIELDS} for c in result.claims]
                out.write(json.dumps({"id": record["id"], "claims": row}) + "\n")
                papers += 1
                claims += len(row)
        summary = f"{papers} papers, {claims} claims drafted; {skipped} bad lines skipped"
        if config is not None:
            summary += (
                f"; {dropped} LLM items dropped as unsupported by the text; "
                f"{fallbacks} papers drafted by the rules after an LLM failure"
            )
        self.stdout.write(summary)
