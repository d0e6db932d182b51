"""One harvest of one source, whatever its kind, recorded as a HarvestRun."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tracker.papers.models import HarvestRun, Source, SourceKind
from tracker.papers.services import harvest_run_finish, harvest_run_start
from workers.harvest.arxiv import arxiv_harvest
from workers.harvest.errors import (
    SERVICE_ERRORS,
    HarvestError,
    TransientHarvestError,
    error_kind,
)
from workers.harvest.feeds import feed_harvest
from workers.harvest.oai import oai_harvest

log = logging.getLogger(__name__)

HARVESTERS: dict[str, Callable[[Source, HarvestRun], None]] = {
    SourceKind.ARXIV: arxiv_harvest,
    SourceKind.FEED: feed_harvest,
    SourceKind.OAI: oai_harvest,
}


def source_harvest(source: Source) -> HarvestRun:
    """Run a harvest now. The run is recorded whatever happens; a failure is recorded with
    its reason and then raised (TransientHarvestError when a later retry may succeed).
    Raises SourceBusyError, recording nothing, while another run of the source is going on."""
    run = harvest_run_start(source)
    try:
        try:
            HARVESTERS[source.kind](source, run)
        except SERVICE_ERRORS as exc:
            raise TransientHarvestError(
                f"Redis unavailable ({exc.__class__.__name__}: {exc})"
            ) from exc
    except TransientHarvestError as exc:
        harvest_run_finish(
            run,
            error=f"temporary failure (a scheduled harvest retries it): {exc}",
            error_kind=error_kind(exc),
        )
        raise
    except HarvestError as exc:
        harvest_run_finish(run, error=str(exc), error_kind=error_kind(exc))
        raise
    except Exception as exc:
        log.exception("harvest of %s failed unexpectedly", source)
        harvest_run_finish(
            run, error=f"unexpected {exc.__class__.__name__}: {exc}", error_kind="other"
        )
        raise
    return harvest_run_finish(run)
