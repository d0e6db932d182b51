"""One entry point for drafting: the LLM when one is configured, the rules otherwise or
when the LLM fails, so a paper always gets its drafts."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.claims.llm import LLMConfig, LLMError, llm_claims
from pipeline.claims.rules import extract_claims
from pipeline.claims.types import DraftClaim


@dataclass
class DraftResult:
    claims: list[DraftClaim] = field(default_factory=list)
    backend: str = "rules"
    dropped: int = 0  # LLM items that the text did not support
    error: str = ""  # why the LLM was not used, when it failed


def draft_claims(
    title: str, abstract: str, comment: str = "", post: str = "", llm: LLMConfig | None = None
) -> DraftResult:
    texts = [title or "", abstract or "", comment or "", post or ""]
    if llm is not None:
        try:
            claims, dropped = llm_claims(llm, texts)
        except LLMError as exc:
            return DraftResult(claims=extract_claims(*texts), error=str(exc))
        return DraftResult(claims=claims, backend="llm", dropped=dropped)
    return DraftResult(claims=extract_claims(*texts))
