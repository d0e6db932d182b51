"""The optional LLM backend against a fake OpenAI-compatible server on loopback: what it
answers is kept only where the text supports it, and any failure falls back to the rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.claims import draft_claims
from pipeline.claims.llm import LLMConfig
from tests.pipeline.examples import ACCURACY_CLAIM, SENTENCE
from tests.pipeline.fake_llm import FakeLLM, fake_llm

TITLE = "Foo: fast decoding"
ABSTRACT = (
    "We present Foo. Foo achieves 84.2% accuracy on ImageNet. "
    "It decodes 3.1x faster than the baseline."
)


def _item(**overrides: Any) -> dict[str, Any]:
    return {**ACCURACY_CLAIM, "quote": SENTENCE, **overrides}


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with fake_llm() as fake:
        yield fake


def _config(fake: FakeLLM, timeout: float = 5.0) -> LLMConfig:
    return LLMConfig(base_url=fake.url, model="qwen2.5-7b", api_key="sk-test", timeout=timeout)


def test_valid_answer_is_used_and_the_request_is_openai_shaped(llm: FakeLLM) -> None:
    llm.content = json.dumps({"claims": [_item()]})
    result = draft_claims(TITLE, ABSTRACT, llm=_config(llm))
    assert result.backend == "llm"
    assert (result.dropped, result.error) == (0, "")
    assert [(c.value, c.metric, c.dataset, c.quote) for c in result.claims] == [
        (84.2, "accuracy", "ImageNet", "Foo achieves 84.2% accuracy on ImageNet.")
    ]
    request = llm.seen[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "qwen2.5-7b"
    assert request["body"]["messages"][-1]["content"].count("84.2%") == 1
    assert request["headers"]["Authorization"] == "Bearer sk-test"


def test_answer_in_a_code_fence_as_a_bare_list_is_read(llm: FakeLLM) -> None:
    llm.content = "Here you go:\n```json\n" + json.dumps([_item()]) + "\n```"
    result = draft_claims(TITLE, ABSTRACT, llm=_config(llm))
    assert [c.value for c in result.claims] == [84.2]


def test_hallucinated_quote_and_wrong_number_are_dropped_and_counted(llm: FakeLLM) -> None:
    llm.content = json.dumps(
        {
            "claims": [
                _item(),
                _item(quote="Foo achieves 91.0% accuracy on ImageNet.", value=91.0),
                _item(value=85.0),  # the quote is real but says 84.2
                _item(kind="impressive"),
                "not an object",
                _item(
                    value=3.1,
                    unit="x",
                    metric="speedup",
                    dataset="",
                    kind="ratio",
                    quote="It decodes 3.1x faster than the baseline.",
                ),
            ]
        }
    )
    result = draft_claims(TITLE, ABSTRACT, llm=_config(llm))
    assert result.backend == "llm"
    assert [c.value for c in result.claims] == [84.2, 3.1]
    assert result.dropped == 4


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"content": "I think the paper claims 84.2% accuracy."}, "not valid JSON"),
        ({"content": '{"answer": 1}'}, 'no "claims" list'),
        ({"status": 500, "body": b'{"error": "boom"}'}, "HTTP 500"),
        ({"body": b"<html>proxy error</html>"}, "not a chat completion"),
    ],
)
def test_unusable_answers_fall_back_to_the_rules(
    llm: FakeLLM, setup: dict[str, Any], message: str
) -> None:
    for name, value in setup.items():
        setattr(llm, name, value)
    result = draft_claims(TITLE, ABSTRACT, llm=_config(llm))
    assert result.backend == "rules"
    assert message in result.error
    assert "Traceback" not in result.error
    assert [c.value for c in result.claims] == [84.2, 3.1]


def test_a_slow_endpoint_times_out_and_falls_back(llm: FakeLLM) -> None:
    llm.delay = 1.0
    result = draft_claims(TITLE, ABSTRACT, llm=_config(llm, timeout=0.2))
    assert result.backend == "rules"
    assert result.error == "the LLM endpoint did not answer within 0.2s"
    assert [c.value for c in result.claims] == [84.2, 3.1]


def test_an_endpoint_that_is_down_falls_back() -> None:
    with fake_llm() as fake:
        url = fake.url
    config = LLMConfig(base_url=url, model="m", timeout=1.0)
    result = draft_claims(TITLE, ABSTRACT, llm=config)
    assert result.backend == "rules"
    assert result.error.startswith("the LLM endpoint could not be reached")


def test_without_an_endpoint_the_rules_draft() -> None:
    result = draft_claims(TITLE, ABSTRACT)
    assert (result.backend, result.error) == ("rules", "")
    assert [(c.value, c.unit, c.kind) for c in result.claims] == [
        (84.2, "%", "absolute"),
        (3.1, "x", "ratio"),
    ]
