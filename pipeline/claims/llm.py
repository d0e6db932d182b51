"""Claims drafted by a language model behind any OpenAI-compatible chat-completions
endpoint (vLLM, Ollama, a hosted API), kept only where the text supports them.

The model is asked for JSON; whatever it answers is checked: the quote must be a substring
of the paper's text and the claimed number must appear in the quote. Items that fail are
dropped and counted, never stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import requests

from pipeline.claims.types import DIRECTIONS, DraftClaim, Kind

PROMPT = """You extract the quantitative claims a research paper makes about its OWN results.
Return JSON only: {"claims": [{"value": number, "unit": "%" | "points" | "x" | "dB" | "",
"metric": str, "dataset": str, "kind": "absolute" | "improvement" | "ratio",
"direction": "higher" | "lower", "quote": str}]}.
Rules: "quote" is copied exactly from the text and contains the number. Setup numbers
(model or dataset sizes, token counts, years, counts of things) and numbers about prior
work are not claims. "ratio" is for "3.2x faster"; "improvement" for a gain over something;
"direction" says whether a higher or lower value of the metric is better."""

_NUMBER_IN_QUOTE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")


class LLMError(Exception):
    """The endpoint could not give a usable answer; the message says why, in one line."""


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 30.0


def llm_answer(config: LLMConfig, text: str) -> str:
    """The model's reply to the extraction prompt for `text`."""
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    body = {
        "model": config.model,
        "temperature": 0,
        "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": text}],
    }
    url = config.base_url.rstrip("/") + "/chat/completions"
    try:
        response = requests.post(url, json=body, headers=headers, timeout=config.timeout)
    except requests.Timeout as exc:
        raise LLMError(f"the LLM endpoint did not answer within {config.timeout:g}s") from exc
    except requests.RequestException as exc:
        raise LLMError(f"the LLM endpoint could not be reached: {exc.__class__.__name__}") from exc
    if response.status_code != 200:
        raise LLMError(f"the LLM endpoint answered HTTP {response.status_code}")
    try:
        return str(response.json()["choices"][0]["message"]["content"])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMError("the LLM endpoint's answer is not a chat completion") from exc


def parse_items(content: str) -> list[Any]:
    """The list of claim items in the model's reply (bare JSON or inside a code fence)."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", content, re.DOTALL)
    raw = fenced.group(1) if fenced else content
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise LLMError("the LLM's reply is not valid JSON") from exc
    items = data.get("claims") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise LLMError('the LLM\'s reply has no "claims" list')
    return items


def number_in_quote(value: float, quote: str) -> bool:
    return any(
        abs(float(raw.replace(",", "")) - value) < 1e-9 for raw in _NUMBER_IN_QUOTE.findall(quote)
    )


def validated(item: Any, texts: list[str]) -> DraftClaim | None:
    """The item as a draft, or None when the text does not support it."""
    if not isinstance(item, dict):
        return None
    quote = item.get("quote")
    try:
        value = float(item["value"])
    except (KeyError, TypeError, ValueError):
        return None
    if not isinstance(quote, str) or not quote.strip():
        return None
    if not any(quote in text for text in texts) or not number_in_quote(value, quote):
        return None
    kind = str(item.get("kind", "")).lower()
    direction = str(item.get("direction", "")).lower()
    if kind not in set(Kind) or direction not in DIRECTIONS:
        return None
    return DraftClaim(
        value=value,
        unit=str(item.get("unit") or "")[:20],
        metric=str(item.get("metric") or "")[:120],
        dataset=str(item.get("dataset") or "")[:200],
        kind=kind,
        direction=direction,
        quote=quote,
    )


def llm_claims(config: LLMConfig, texts: list[str]) -> tuple[list[DraftClaim], int]:
    """The validated drafts and how many items were dropped. Raises LLMError when the
    endpoint fails or its reply cannot be read at all."""
    items = parse_items(llm_answer(config, "\n\n".join(t for t in texts if t)))
    claims = [claim for claim in (validated(item, texts) for item in items) if claim]
    return claims, len(items) - len(claims)
