"""Candidate claims drafted from a paper's text, for a person to accept.

`extract_claims` is the deterministic default; `llm.llm_claims` asks an OpenAI-compatible
endpoint and keeps only what the text supports; `draft_claims` picks between them.
"""

from pipeline.claims.drafting import DraftResult, draft_claims
from pipeline.claims.rules import extract_claims
from pipeline.claims.types import DraftClaim, Kind

__all__ = ["DraftClaim", "DraftResult", "Kind", "draft_claims", "extract_claims"]
