"""What changed between the stored versions of a paper, in words a reader can scan."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from tracker.papers.models import UNNUMBERED_VERSION, PaperVersion


@dataclass
class VersionChange:
    version: PaperVersion
    changes: list[str]


def version_changes(versions: list[PaperVersion]) -> list[VersionChange]:
    """Each version with what differs from the one before it (the first is "first seen")."""
    ordered = sorted(versions, key=lambda v: v.version)
    rows: list[VersionChange] = []
    for previous, current in zip([None, *ordered], ordered, strict=False):
        if previous is None:
            first = (
                "first text seen, imported without a version number"
                if current.version == UNNUMBERED_VERSION
                else "first version seen"
            )
            rows.append(VersionChange(current, [first]))
            continue
        changes = []
        if previous.title.strip() != current.title.strip():
            changes.append("title changed")
        if previous.abstract.strip() != current.abstract.strip():
            delta = len(current.abstract.split()) - len(previous.abstract.split())
            changes.append(f"abstract changed ({delta:+d} words)")
        if list(previous.authors) != list(current.authors):
            added = [a for a in current.authors if a not in previous.authors]
            removed = [a for a in previous.authors if a not in current.authors]
            parts = []
            if added:
                parts.append("added " + ", ".join(added))
            if removed:
                parts.append("removed " + ", ".join(removed))
            changes.append("authors: " + ("; ".join(parts) or "reordered"))
        rows.append(VersionChange(current, changes or ["metadata unchanged"]))
    return list(reversed(rows))


def abstract_diff(old: str, new: str, context: int = 4) -> str:
    """What a new version's abstract changed, word by word: removed words in [-...-], added
    ones in {+...+}, with a few words around each change and the unchanged rest elided."""
    before, after = old.split(), new.split()
    matcher = SequenceMatcher(a=before, b=after, autojunk=False)
    parts: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            same = before[i1:i2]
            if len(same) > 2 * context:
                head = same[:context] if parts else []
                tail = same[-context:] if (i2 < len(before) or j2 < len(after)) else []
                parts.append(" ".join([*head, "…", *tail]).strip())
            else:
                parts.append(" ".join(same))
            continue
        if i2 > i1:
            parts.append("[-" + " ".join(before[i1:i2]) + "-]")
        if j2 > j1:
            parts.append("{+" + " ".join(after[j1:j2]) + "+}")
    if not any(p.startswith(("[-", "{+")) for p in parts):
        return ""
    return " ".join(p for p in parts if p)
