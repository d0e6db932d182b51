"""The deterministic claim extractor: sentences, numbers with units, a metric lexicon and
dataset names. No network, no model; the same text always gives the same drafts.

A number is drafted only when it reads as the paper's own result: it carries a result
unit (%, points, x, dB) or follows a metric ("an F1 of 0.91"), and its sentence says
something was achieved, improved or reduced. Counts, sizes, years, versions and numbers
given for other work (after "vs.", "whereas", "compared to X (...)") are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from pipeline.claims.types import DraftClaim, Kind

# Metric names as papers write them -> the name a draft carries. Longer names come first
# so that "attack success rate" wins over "success rate" at the same place.
METRICS: dict[str, str] = {
    "attack success rate": "attack success rate",
    "asr": "attack success rate",
    "success rate": "success rate",
    "win rate": "win rate",
    "top-1 accuracy": "top-1 accuracy",
    "top-5 accuracy": "top-5 accuracy",
    "accuracy": "accuracy",
    "accuracies": "accuracy",
    "acc": "accuracy",
    "micro-f1": "micro-F1",
    "macro-f1": "macro-F1",
    "f1-score": "F1",
    "f1 score": "F1",
    "f1": "F1",
    "exact match": "exact match",
    "bleu": "BLEU",
    "rouge-l": "ROUGE-L",
    "rouge": "ROUGE",
    "meteor": "METEOR",
    "cider": "CIDEr",
    "map@50": "mAP@50",
    "map50": "mAP@50",
    "map": "mAP",
    "miou": "mIoU",
    "iou": "IoU",
    "average precision": "average precision",
    "precision": "precision",
    "recall": "recall",
    "auc": "AUC",
    "auroc": "AUROC",
    "dice": "Dice",
    "fid": "FID",
    "perplexity": "perplexity",
    "wer": "WER",
    "word error rate": "WER",
    "cer": "CER",
    "pass@1": "pass@1",
    "pass@k": "pass@k",
    "psnr": "PSNR",
    "ssim": "SSIM",
    "lpips": "LPIPS",
    "rmse": "RMSE",
    "mean squared error": "MSE",
    "mse": "MSE",
    "mean absolute error": "MAE",
    "mae": "MAE",
    "relative pose error": "relative pose error",
    "rpe": "relative pose error",
    "bd-rate": "BD-rate",
    "bit-rate": "bit-rate",
    "bitrate": "bit-rate",
    "speedup": "speedup",
    "speed-up": "speedup",
    "speed up": "speedup",
    "faster": "speedup",
    "accelerates": "speedup",
    "acceleration": "speedup",
    "throughput": "throughput",
    "latency": "latency",
    "inference time": "inference time",
    "processing time": "processing time",
    "acquisition time": "acquisition time",
    "memory": "memory",
    "gflops": "GFLOPs",
    "flops": "FLOPs",
    "compute": "compute",
    "cheaper": "cost",
    "cost": "cost",
    "model size": "model size",
    "smaller model": "model size",
    "parameters": "parameters",
    "training data": "training data",
    "token usage": "token usage",
    "tokens": "tokens",
    "keypoints": "keypoints",
    "search space": "search space",
    "standard deviation": "standard deviation",
    "correlation": "correlation",
    "hallucination": "hallucination",
    "silhouette": "Silhouette",
    "dbi": "DBI",
    "rel": "Rel",
    "kitti_score": "kitti_score",
    "progress": "progress",
    "performance": "performance",
}

_RENAMED = {
    "faster", "accelerates", "acceleration", "speed up", "speed-up", "cheaper",
    "smaller model", "accuracies", "acc", "asr", "map50",
}  # fmt: skip

# Names that follow a setup count ("256 tokens", "7B parameters") as often as a result.
_SIZES = {
    "tokens", "parameters", "keypoints", "training data", "model size", "flops", "gflops",
    "search space", "token usage", "compute", "memory", "cost",
}  # fmt: skip

# Metrics where a smaller number is the better one.
LOWER_IS_BETTER = {
    "latency", "memory", "FLOPs", "GFLOPs", "compute", "cost", "model size", "parameters",
    "training data", "token usage", "tokens", "keypoints", "search space", "WER", "CER",
    "FID", "perplexity", "RMSE", "MSE", "MAE", "LPIPS", "relative pose error", "BD-rate",
    "bit-rate", "inference time", "processing time", "acquisition time", "DBI", "Rel",
    "kitti_score", "standard deviation", "hallucination",
}  # fmt: skip

# Benchmarks named often enough to be known without the "on X" cue.
KNOWN_DATASETS = (
    "ImageNet-1K", "ImageNet", "CIFAR-100", "CIFAR-10", "COCO", "GSM8K", "MATH", "MMLU",
    "HumanEval", "MBPP", "SQuAD", "GLUE", "SuperGLUE", "TruthfulQA", "HellaSwag", "ARC",
    "WMT", "LibriSpeech", "ADE20K", "Cityscapes", "nuScenes", "KITTI", "Kinetics-400",
    "UCF-101", "HMDB51", "MMMU", "BLINK", "LIBERO", "AIME", "SWE-bench", "BraTS",
)  # fmt: skip

_NUM = r"(?<![\w.@/^])(?<![A-Za-z]-)\+?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_UNIT = (
    r"\s*(?:\$\s*)?(?P<unit>\\?%|percent(?:age points?)?|pp\b|p\.p\.|points?\b|pts\b"
    r"|[x\u00d7X](?![\w\d]|\s*\d)|\$?\\times\$?|-?fold\b|times\b|dB\b|HU\b|ms\b|m\b(?!-)|days?\b)?"
)
_NUMBER = re.compile(r"\$?" + _NUM + _UNIT)
_FRACTION = re.compile(r"(?<![\w.])1/(\d+)(?:th)?\s+(?:the\s+)?(?=[\w$])")
_FOLD_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "ten": 10}
_FOLD = re.compile(r"\b(two|three|four|five|six|ten)-fold\b", re.IGNORECASE)
# Between the numbers of a range or a list, which share the last number's unit.
_LIST_GAP = re.compile(r"^\$?\s*(?:-{1,2}|\u2013|\u2014|to|,|and|or|, and|,\s*and)\s*\$?\+?$")

_RESULT_CUE = re.compile(
    r"achiev|obtain|reach|attain|outperform|surpass|exceed|improv|boost|gain|reduc|lower"
    r"|higher|better|faster|speed|accelerat|sav(?:e|ing)|decreas|increas|drop|yield"
    r"|deliver|score|accura|result|show|demonstrat|observ|\bfind|found|beat|perform"
    r"|succe|fewer|less|cheaper|smaller|margin|up to|rate|relative|\bcut|halv|\bvs\b|\bof\s+[\d.]+",
    re.IGNORECASE,
)
# What introduces a number given for other work, when no own-result verb follows it.
_PRIOR_CUE = re.compile(
    r"\bvs\.?|\bversus\b|compared (?:to|with)|whereas|while the (?:current|best|previous)"
    r"|current (?:sota|state[- ]of[- ]the[- ]art)|\bprior\b|'s\s*$",
    re.IGNORECASE,
)
_OWN_VERB = re.compile(
    r"\b(?:we|our|ours)\b|achiev|obtain|reach|improv|outperform|surpass|reduc|boost|yield",
    re.IGNORECASE,
)
_SETUP_AFTER = re.compile(
    r"^\s*(?:of\s+(?:the\s+)?(?:model\s+)?(?:parameters|data(?:set)?\b|training|variance"
    r"|healthcare|college)|lack\b)",
    re.IGNORECASE,
)
_IMPROVEMENT_BEFORE = re.compile(
    r"(?:\bby|\+|margin of|improvements? of|gains? of|reduction of|relative|higher)"
    r"\s*(?:up to|over|around|about|nearly|roughly|approximately|more than|an average of"
    r"|on average|at least|only)?\s*\$?$",
    re.IGNORECASE,
)
_IMPROVEMENT_AFTER = re.compile(
    r"^\s*(?:\w+\s+){0,2}?(?:improvements?|gains?|reductions?|higher|lower|more|fewer|less"
    r"|better|increase|drop|faster|relative|average relative|boost)\b",
    re.IGNORECASE,
)
_LOWER_WORDS = re.compile(r"reduc|lower|fewer|less\b|sav(?:e|ing)|decreas|cut", re.IGNORECASE)
_PLAIN_AFTER_METRIC = re.compile(
    r"^\s*(?:-?score\s*)?(?:\([^)]{1,15}\)\s*)?"
    r"(?:(?:of|is|was|were|found|to|be|at|reaches|reached|achieves|achieved|:|=)\s*)+"
    r"(?:about|around|approximately|only|just)?\s*\$?$"
)
_DATASET_AFTER_PREP = re.compile(
    r"\b(?:on|in|for|across|over)\s+(?:the\s+)?(?:challenging\s+|public\s+|standard\s+)?"
    r"(?P<name>(?:[A-Z][\w.-]*[A-Z0-9][\w.-]*|[A-Z]{2,}[\w-]*|[A-Z][a-z]+[A-Z][\w-]*)"
    r"(?:\s+\((?:v\d+)\))?(?:\s+(?:[A-Z][\w-]*[A-Z0-9][\w-]*|[A-Z]{2,}))?)"
)
_DATASET_BEFORE_NOUN = re.compile(
    r"(?P<name>\b[A-Z][\w-]*[A-Z0-9][\w-]*(?:\s+[A-Z][\w-]*)?)\s+(?:dataset|benchmark|corpus)\b"
)
_NOT_DATASETS = re.compile(
    r"^(?:[A-Z]+s$|GPT|Claude|Gemini|Llama|LLaMA|Qwen|DeepSeek|Mistral|LLM|LLMs|VLM|VLMs|SOTA|FP16"
    r"|GPU|CPU|AI|NLP|RL|SFT)\b"
)
_ABBREVIATIONS = re.compile(r"(?:\be\.g|\bi\.e|\bvs|\bet al|\bFig|\bEq|\bcf)\.$", re.IGNORECASE)
_METRIC_RE = re.compile(
    r"(?<![\w@-])("
    + "|".join(re.escape(k) for k in sorted(METRICS, key=len, reverse=True))
    + r")(?![\w@])",
    re.IGNORECASE,
)


def sentences(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence: a stop followed by space and a capital, a digit or
    a bracket, skipping abbreviations such as "e.g." and decimals."""
    start = 0
    for match in re.finditer(r"[.!?](?=\s+[A-Z0-9(\[$\\])", text):
        if _ABBREVIATIONS.search(text[max(start, match.start() - 6) : match.end()]):
            continue
        yield start, match.end()
        start = match.end()
        while start < len(text) and text[start].isspace():
            start += 1
    if text[start:].strip():
        yield start, len(text.rstrip())


def _unit(raw: str | None) -> str:
    if not raw:
        return ""
    lowered = raw.lower().strip("$\\ ")
    if lowered in {"%", "percent"}:
        return "%"
    if lowered.startswith(("percentage point", "pp", "p.p", "point", "pt")):
        return "points"
    if lowered in {"x", "\u00d7", "times"} or "fold" in lowered:
        return "x"
    if lowered in {"db", "hu", "ms", "m"}:
        return raw
    if lowered.startswith("day"):
        return "days"
    return raw


def _nearest(items: list[tuple[int, int, str]], at: int) -> str:
    """The item closest to position `at`; one before the number wins a tie."""
    best = min(items, key=lambda it: (min(abs(it[1] - at), abs(it[0] - at)), it[0] > at))
    return best[2]


def _metrics_in(sentence: str) -> list[tuple[int, int, str]]:
    """Each metric named, in the paper's words unless the word is a verb or an
    abbreviation of one ("faster" is a speedup, "acc" accuracy)."""
    found = []
    for m in _METRIC_RE.finditer(sentence):
        key = m.group(1).lower()
        name = METRICS[key] if key in _RENAMED else m.group(1)
        found.append((m.start(), m.end(), name))
    return found


def _datasets_in(sentence: str) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for m in _DATASET_AFTER_PREP.finditer(sentence):
        name = m.group("name").rstrip(".,")
        if _NOT_DATASETS.match(name) or name.lower() in METRICS:
            continue
        found.append((m.start("name"), m.start("name") + len(name), name))
    for m in _DATASET_BEFORE_NOUN.finditer(sentence):
        name = m.group("name")
        if not _NOT_DATASETS.match(name) and not any(s <= m.start() < e for s, e, _ in found):
            found.append((m.start("name"), m.end("name"), name))
    for name in KNOWN_DATASETS:
        for m in re.finditer(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", sentence):
            if not any(s <= m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), name))
    return found


def _metric_for(metrics: list[tuple[int, int, str]], at: int, before: str) -> str:
    """The nearest metric; after "improves X by" the one before the number."""
    if re.search(r"\bby\s+(?:\w+\s+){0,3}\$?\+?$", before[-40:]):
        earlier = [it for it in metrics if it[1] <= at]
        if earlier:
            return _nearest(earlier, at)
    return _nearest(metrics, at)


def _is_prior(before: str) -> bool:
    """The number is given for other work: a comparison cue precedes it with no own-result
    verb between the cue and the number."""
    window = re.split(r";|\),|, while\b", before[-90:])[-1]
    cues = list(_PRIOR_CUE.finditer(window))
    if not cues:
        return False
    return not _OWN_VERB.search(window[cues[-1].end() :])


def _mentions(sentence: str) -> Iterator[tuple[int, float, str, bool]]:
    """(position, value, unit, explicit_unit) for each number in the sentence; a number
    before a range dash takes the unit of the number after it ("20-60%")."""
    matches = list(_NUMBER.finditer(sentence))
    units = [_unit(m.group("unit")) for m in matches]
    for i in range(len(matches) - 2, -1, -1):
        between = sentence[matches[i].end() : matches[i + 1].start(1)]
        if not units[i] and _LIST_GAP.match(between):
            units[i] = units[i + 1]
    for i, m in enumerate(matches):
        value = float(m.group(1).replace(",", ""))
        unit = units[i]
        explicit = bool(_unit(m.group("unit")))
        if re.match(r"\$?[A-Za-z]", sentence[m.end(1) :]) and not explicit:
            continue  # 3B, 2D, v7: names and sizes
        yield m.start(1), value, unit, explicit
    for m in _FRACTION.finditer(sentence):
        yield m.start(), float(m.group(1)), "x/", True
    for m in _FOLD.finditer(sentence):
        yield m.start(), float(_FOLD_WORDS[m.group(1).lower()]), "x", True


def _claims_in_sentence(sentence: str) -> list[DraftClaim]:
    if not _RESULT_CUE.search(sentence):
        return []
    metrics = _metrics_in(sentence)
    datasets = _datasets_in(sentence)
    found = list(_sentence_claims(sentence, metrics, datasets))
    if re.search(r"\brespectively\b", sentence, re.IGNORECASE):
        found = _respectively(sentence, found, metrics, datasets)
    return [claim for _, claim in found]


_AFTER_NUMBER = re.compile(r"^\$?\+?[\d.,]+\$?\s*(?:\\?%|[x\u00d7]|points?|pp)?")
_LIST_JOIN = re.compile(r"^\s*(?:,\s*(?:and\s+)?|and\s+|or\s+)$")


def _respectively(
    sentence: str,
    found: list[tuple[int, DraftClaim]],
    metrics: list[tuple[int, int, str]],
    datasets: list[tuple[int, int, str]],
) -> list[tuple[int, DraftClaim]]:
    """ "67.2%, 94.1% and 78.9% on A, B and C, respectively": each number of a list takes
    the dataset (or metric) in the same place of a list of the same length."""
    runs: list[list[tuple[int, DraftClaim]]] = []
    for at, claim in found:
        if runs:
            gap = sentence[runs[-1][-1][0] : at]
            if _LIST_JOIN.match(_AFTER_NUMBER.sub("", gap, count=1)):
                runs[-1].append((at, claim))
                continue
        runs.append([(at, claim)])
    names = {"dataset": [d[2] for d in sorted(datasets)], "metric": [m[2] for m in sorted(metrics)]}
    out: list[tuple[int, DraftClaim]] = []
    for run in runs:
        for field_name, listed in names.items():
            if len(run) >= 2 and len(listed) == len(run):
                run = [
                    (at, replace(c, dataset=n) if field_name == "dataset" else replace(c, metric=n))
                    for (at, c), n in zip(run, listed, strict=True)
                ]
        out.extend(
            (at, replace(c, direction=_direction(c.metric, Kind(c.kind), sentence)))
            for at, c in run
        )
    return out


def _sentence_claims(
    sentence: str, metrics: list[tuple[int, int, str]], datasets: list[tuple[int, int, str]]
) -> Iterator[tuple[int, DraftClaim]]:
    for at, value, unit, _explicit in _mentions(sentence):
        before, after = sentence[:at], sentence[at:]
        tail = re.sub(r"^\$?[\d.,+]+\$?\s*\S*", "", after, count=1)
        metric = ""
        if unit in {"", "m", "HU", "days", "ms"}:
            # A plain number counts only right after a metric: "an F1 of 0.91", "SSIM: 0.8".
            preceding = [it for it in metrics if it[1] <= at and at - it[1] <= 45]
            # A mention starts with its number, so the match always finds one.
            number = re.match(r"[\d.,]+", after)
            number_end = at + (len(number.group()) if number else 0)
            following = [
                it for it in metrics if 0 <= it[0] - number_end <= 2 and it[2].lower() not in _SIZES
            ]
            if following and unit == "":
                # "41.5 mAP", "42.2 BLEU": the metric named right after the number.
                metric = following[0][2]
            elif not preceding:
                continue
            else:
                last = max(preceding, key=lambda it: it[1])
                if not _PLAIN_AFTER_METRIC.match(sentence[last[1] : at]) and unit == "":
                    continue
                if re.search(r"\d", sentence[last[1] : at]):
                    continue
                metric = last[2]
        if _is_prior(before) or _SETUP_AFTER.match(tail):
            continue
        if 1900 <= value <= 2100 and unit == "":
            continue
        if not metric and metrics:
            metric = _metric_for(metrics, at, before)
        dataset = _nearest(datasets, at) if datasets else ""
        kind = _kind(unit, before, tail)
        if unit == "x/":
            unit = "x"
        yield (
            at,
            DraftClaim(
                value=value,
                unit=unit,
                metric=metric,
                dataset=dataset,
                kind=kind,
                direction=_direction(metric, kind, sentence),
                quote=sentence,
            ),
        )


def _kind(unit: str, before: str, tail: str) -> Kind:
    if unit in {"x", "x/"}:
        return Kind.RATIO
    if _IMPROVEMENT_BEFORE.search(before[-40:]) or _IMPROVEMENT_AFTER.match(tail):
        return Kind.IMPROVEMENT
    if unit == "points":
        return Kind.IMPROVEMENT
    return Kind.ABSOLUTE


def _direction(metric: str, kind: Kind, sentence: str) -> str:
    if metric in LOWER_IS_BETTER:
        return "lower"
    if not metric and kind != Kind.ABSOLUTE and _LOWER_WORDS.search(sentence):
        return "lower"
    return "higher"


def extract_claims(*texts: str) -> list[DraftClaim]:
    """Draft claims from each text (title, abstract, comment, a lab post's text), in order;
    a number repeated with the same unit is drafted once."""
    drafts: list[DraftClaim] = []
    # The same number with the same unit is one claim said twice (abstract and comment,
    # or a summary sentence repeating a result).
    seen: set[tuple[float, str]] = set()
    for text in texts:
        if not text:
            continue
        for start, end in sentences(text):
            for claim in _claims_in_sentence(text[start:end]):
                key = (claim.value, claim.unit)
                if key not in seen:
                    seen.add(key)
                    drafts.append(claim)
    return drafts
