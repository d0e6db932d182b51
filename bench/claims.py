"""Drafted claims against claims labelled by hand, beside a plain regex baseline.

    python bench/claims.py [--labels bench/claims_labels.jsonl] [--data ../shared/data]

The labels (bench/claims_labels.jsonl) hold only ids and claims; the abstracts are read by
id from the arXiv daily listings (arxiv_corpus/daily_listings/*.jsonl, the first record
of an id wins). Each paper is drafted from its title, abstract and comment.

Labelling rules (how the labels were written, abstract by abstract, before the extractor
was tuned):

1. A claim is a number the paper reports as its OWN measured result: a score, a gain
   over something, a ratio ("3x faster"), a reduction, or a finding of its own study or
   benchmark ("the best model reaches only 32.8%").
2. Not claims: setup numbers (model sizes, dataset sizes, token counts, parameter counts,
   hours of training, epochs, batch sizes, thresholds, task factors such as "6x
   super-resolution"), years, versions (YOLOv11, VTM 13.2), counts of things (four
   datasets, 22 models), section enumerations, background statistics ("30% of students
   use ..."), and numbers about prior work or baselines ("vs. 65.0%", "whereas the
   existing method recorded 0.0747", "DeepScaleR's 33.86%", ablated parts compared
   against, surveyed systems).
3. A range ("20-60%", "1.5--2.3x", "from 80.8% to 84.8%") gives one claim per bound.
   "Up to", "over", "nearly" keep the number. "1/3 the GFLOPs" is a ratio of 3; "four-fold"
   is 4x. The same claim said twice is labelled once.
4. value: the number as written; unit: "%", "points" (pp, percentage points, points),
   "x" (x, times, fold), "dB", a measurement unit (m, HU, days), or "" for a bare score.
5. metric: the metric the text names for that number, in its words ("accuracy",
   "mAP", "attack success rate", "speedup" for "faster"); "" when the text names none.
   dataset: the dataset or benchmark the text names for that number; several listed
   together are written as a comma-separated list; "" when none is named.
6. kind: "ratio" for x/times/fold; "improvement" for a gain, drop or reduction relative to
   something; "absolute" otherwise. direction: whether a higher or lower value of the
   metric is better (lower for latency, memory, cost, error, FLOPs, bit-rate ...).

Scoring: a drafted value matches a labelled value of the same paper when the numbers are
equal (each label matched once). Precision, recall and F1 count matched values; metric and
dataset agreement are over matched pairs: names agree when, lower-cased and split into
words, one's words contain the other's (so "accuracy" agrees with "detection accuracy"),
both are empty, or for datasets when any listed name agrees.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.claims import extract_claims  # noqa: E402

TARGET_F1 = 0.85
TARGET_METRIC_AGREEMENT = 0.7
LISTINGS = Path("arxiv_corpus") / "daily_listings"

# The baseline: a number followed by %, x, points, BLEU or dB, nothing else.
_BASELINE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:%|x\b|\u00d7|points\b|BLEU\b|dB\b)")


@dataclass
class Drafted:
    value: float
    metric: str = ""
    dataset: str = ""


def baseline(*texts: str) -> list[Drafted]:
    return [Drafted(float(m.group(1))) for text in texts for m in _BASELINE.finditer(text or "")]


def ours(*texts: str) -> list[Drafted]:
    return [Drafted(c.value, c.metric, c.dataset) for c in extract_claims(*texts)]


def _words(name: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", name.lower()))


def names_agree(predicted: str, labelled: str) -> bool:
    a, b = _words(predicted), _words(labelled)
    if not a or not b:
        return not a and not b
    return a <= b or b <= a


def datasets_agree(predicted: str, labelled: str) -> bool:
    if not predicted.strip() or not labelled.strip():
        return not predicted.strip() and not labelled.strip()
    return any(
        names_agree(p, lab)
        for p in re.split(r",|\band\b", predicted)
        for lab in re.split(r",|\band\b", labelled)
        if p.strip() and lab.strip()
    )


@dataclass
class Score:
    predicted: int = 0
    labelled: int = 0
    matched: int = 0
    metric_agree: int = 0
    dataset_agree: int = 0

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.labelled if self.labelled else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def metric_agreement(self) -> float:
        return self.metric_agree / self.matched if self.matched else 0.0

    @property
    def dataset_agreement(self) -> float:
        return self.dataset_agree / self.matched if self.matched else 0.0


def score(
    drafter: Callable[..., list[Drafted]],
    papers: dict[str, dict[str, Any]],
    labels: dict[str, list[dict[str, Any]]],
) -> Score:
    total = Score()
    for paper_id, claims in labels.items():
        paper = papers[paper_id]
        drafted = drafter(paper["title"], paper["summary"], paper.get("comment") or "")
        total.predicted += len(drafted)
        total.labelled += len(claims)
        left = list(claims)
        for draft in drafted:
            match = next((c for c in left if abs(float(c["value"]) - draft.value) < 1e-9), None)
            if match is None:
                continue
            left.remove(match)
            total.matched += 1
            total.metric_agree += names_agree(draft.metric, match["metric"])
            total.dataset_agree += datasets_agree(draft.dataset, match["dataset"])
    return total


def read_labels(path: Path) -> dict[str, list[dict[str, Any]]]:
    labels: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            labels[row["id"]] = row["claims"]
    return labels


def read_papers(listings: Path, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    wanted = set(ids)
    papers: dict[str, dict[str, Any]] = {}
    for path in sorted(listings.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("id") in wanted and record["id"] not in papers:
                papers[record["id"]] = record
    return papers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, default=REPO / "bench" / "claims_labels.jsonl")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args(argv)
    listings = args.data / LISTINGS
    if not listings.is_dir():
        print(f"skipped: the arXiv daily listings are not at {listings} (see the bench's doc)")
        return 0
    labels = read_labels(args.labels)
    papers = read_papers(listings, labels)
    missing = sorted(set(labels) - set(papers))
    if missing:
        print(f"skipped {len(missing)} labelled ids not in the listings: {', '.join(missing[:5])}")
        labels = {k: v for k, v in labels.items() if k in papers}
    with_claims = sum(1 for claims in labels.values() if claims)
    print(
        f"{len(labels)} abstracts ({with_claims} with claims, {len(labels) - with_claims} "
        f"without), {sum(len(c) for c in labels.values())} labelled claims"
    )
    results = {
        "ours": score(ours, papers, labels),
        "regex baseline": score(baseline, papers, labels),
    }
    print(f"{'':16}{'precision':>10}{'recall':>8}{'F1':>7}{'metric':>8}{'dataset':>9}")
    for name, s in results.items():
        print(
            f"{name:16}{s.precision:>10.3f}{s.recall:>8.3f}{s.f1:>7.3f}"
            f"{s.metric_agreement:>8.3f}{s.dataset_agreement:>9.3f}"
        )
    mine = results["ours"]
    met = mine.f1 >= TARGET_F1 and mine.metric_agreement >= TARGET_METRIC_AGREEMENT
    print(
        f"targets: F1 >= {TARGET_F1}, metric agreement >= {TARGET_METRIC_AGREEMENT}: "
        + ("met" if met else "NOT met")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
