"""Links found in a paper's own text: code repositories named in the abstract or comments."""

from __future__ import annotations

import re

from tracker.papers.models import CODE_HOSTS, Paper

# A repository on one of the hosts ML code lives on (the hosts Paper.has_code looks for):
# owner/name, nothing after it.
_HOSTS = "|".join(re.escape(host.rstrip("/")) for host in CODE_HOSTS)
_REPO = re.compile(
    rf"https?://(?:www\.)?({_HOSTS})/"
    r"((?:datasets/|spaces/)?[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+)",
    re.IGNORECASE,
)


def code_links(paper: Paper) -> list[str]:
    """Harvested code URLs first, then repositories named in the abstract and comments."""
    found: list[str] = []
    for url in paper.code_urls or []:
        if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
            found.append(url)
    for text in (paper.abstract, paper.comment):
        for match in _REPO.finditer(text or ""):
            path = match.group(2).rstrip(".")
            if path.lower().endswith(".git"):
                path = path[:-4]
            found.append(f"https://{match.group(1).lower()}/{path}")
    seen: set[str] = set()
    unique = []
    for url in found:
        key = url.lower().rstrip("/")
        if key not in seen:
            seen.add(key)
            unique.append(url)
    return unique
