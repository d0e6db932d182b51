"""One claim and the sentence it is read from, shared by the claim tests."""

from __future__ import annotations

from typing import Any

SENTENCE = "Foo achieves 84.2% accuracy on ImageNet."

ACCURACY_CLAIM: dict[str, Any] = {
    "value": 84.2,
    "unit": "%",
    "metric": "accuracy",
    "dataset": "ImageNet",
    "kind": "absolute",
    "direction": "higher",
}
