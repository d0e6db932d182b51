"""The per-member ranking against date order, arxiv-sanity-lite's ranker and an
embedding-only logistic regression, on real daily listings; then its speed.

    python bench/rank.py [--listings DIR] [--personas FILE] [--write-personas FILE]
                         [--seed N | --seeds N,N,...]

DIR holds daily-listing JSONL files (default: the shared corpus beside the checkout);
FILE holds JSON lines {"persona", "kind"?, "train": [{"id", "value"}], "test": [{"id",
"relevance"}]}. Each method sees only a persona's training ratings and ranks all its
test ids.

Without --personas the bench makes its own, fixed by a seed (--seed, default 7; other
seeds draw other ratings, authors, seed papers and mixes, to show the spread). With
--seeds it makes the personas of each seed in turn and prints, per kind, ours against
ASL at every seed, then the mean and the worst margin over the seeds (of ours and of
ours without categories): a kind of a few personas moves by a few hundredths from one
seed to the next, so one seed says little about whether a method is better on it. The
listings are split by day: the last TEST_DAYS days are the test days, the others the
training days. Each persona has a hidden grade 0-3 for every paper, from one of five
kinds of taste:

- keyword: a theme written as a regular expression; 3 when the title matches, 2 when
  the abstract matches twice or more, 1 when once;
- category: an arXiv category; 3 when it is the primary one, 2 when cross-listed. Ours
  sees the categories the tracker stores (Paper.categories, the primary first); ASL as
  its code has it does not (title, abstract and authors), nor does the embedding LR.
  "ours w/o cats" is ours given no categories, to show what they bring;
- author: a dozen authors with papers on both sides of the split; 3 for their papers;
- semantic: two seed papers from the training days; a paper's grade comes from how close
  its *title alone* is to a seed's title in the default model's space (top 2% of the
  corpus 3, top 5% 2, top 10% 1). The methods embed title and abstract together, so
  the taste is semantic without being the very vectors that two of the methods use;
- mix: two tastes of the kinds above (keyword, category or semantic) and a disliked
  keyword theme that sets the grade of any paper it matches to 0.

A persona rates RATED papers of the training days: 40% drawn from those it grades 1 or
more, the rest at random (what a member sees in a date-ordered inbox), plus, for a mix,
a few of the disliked theme. Its rating is round(1 + 1.3 * grade + noise), noise
normal with sd 0.8, clipped to 1-5. The relevance of the test papers is the grade itself.

Measures: nDCG@20 (gain 2^grade - 1) and P@20 (grade >= 2), per kind and over all
personas. "ASL" is arxiv-sanity-lite as its code has it: tf-idf features computed over
every paper it holds (title, abstract and authors), a LinearSVC with the papers rated
>= 4 as positives and every other paper as negatives; "ASL rated" trains the same SVM on
the rated papers alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _setup import REPO, corpus_vectors, setup_django
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from pipeline.ranking import MemberModel, PaperDoc, PaperSpace, Signals, TeamRating
from tests.corpus import Record, read_corpus

DEFAULT_LISTINGS = REPO.parent / "shared" / "data" / "arxiv_corpus" / "daily_listings"
TEST_DAYS = 5
RATED = 60
SEED = 7
TOP = 20
# Reasons are made for the papers an inbox page shows.
EXPLAINED = 50

KEYWORD_THEMES = {
    "video": r"\bvideos?\b",
    "medical": r"\bmedical|\bclinical|patholog|radiolog|\bMRI\b",
    "rl-reasoning": r"reinforcement learning|\bGRPO\b|\bRLHF\b|policy optimi[sz]ation",
    "3d": r"gaussian splatting|\bNeRF\b|3D reconstruction|novel[- ]view",
    "retrieval": r"retrieval[- ]augmented|\bRAG\b|\bretriev",
    "safety": r"jailbreak|adversarial|red[- ]teaming|\bsafety\b",
    "efficiency": r"quantiz|pruning|distillation|token (?:compression|pruning|merging)",
    "driving": r"autonomous driving|self[- ]driving|\bBEV\b",
    "agents": r"\bagents?\b|\bagentic\b",
    "speech": r"\bspeech\b|\baudio\b|\bspoken\b",
}
CATEGORIES = ["cs.RO", "eess.IV", "cs.GR", "cs.HC", "cs.IR", "eess.AS", "cs.CR", "cs.MM"]


def keyword_grades(records: list[Record], pattern: str) -> np.ndarray:
    regex = re.compile(pattern, re.IGNORECASE)
    grades = np.zeros(len(records), dtype=np.int64)
    for i, r in enumerate(records):
        if regex.search(r.title):
            grades[i] = 3
        else:
            grades[i] = min(2, len(regex.findall(r.abstract)))
    return grades


def category_grades(records: list[Record], category: str) -> np.ndarray:
    return np.array(
        [
            3 if r.categories[:1] == [category] else 2 if category in r.categories else 0
            for r in records
        ]
    )


def author_grades(records: list[Record], authors: set[str]) -> np.ndarray:
    return np.array([3 if authors & set(r.authors) else 0 for r in records])


def semantic_grades(titles: np.ndarray, seeds: list[int]) -> np.ndarray:
    closeness = (titles @ titles[seeds].T).max(axis=1)
    cut3, cut2, cut1 = np.quantile(closeness, [0.98, 0.95, 0.90])
    return np.select([closeness >= cut3, closeness >= cut2, closeness >= cut1], [3, 2, 1], 0)


def make_personas(
    records: list[Record],
    titles: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int = SEED,
) -> list[dict]:
    rng = np.random.default_rng(seed)
    tastes: list[tuple[str, str, np.ndarray]] = []
    for name, pattern in KEYWORD_THEMES.items():
        tastes.append(("keyword", name, keyword_grades(records, pattern)))
    for category in CATEGORIES:
        tastes.append(("category", category, category_grades(records, category)))
    train_authors = {a for i in train for a in records[i].authors}
    test_authors = {a for i in test for a in records[i].authors}
    pool = sorted(train_authors & test_authors)
    for n in range(4):
        chosen = set(rng.choice(pool, size=12, replace=False).tolist())
        tastes.append(("author", f"authors-{n}", author_grades(records, chosen)))
    for n in range(5):
        first = int(rng.choice(train))
        far = train[(titles[train] @ titles[first]) < 0.2]
        seeds = [first, int(rng.choice(far))]
        tastes.append(("semantic", f"seeds-{n}", semantic_grades(titles, seeds)))
    mixable = [t for t in tastes if t[0] != "author"]
    mix_dislikes: dict[str, np.ndarray] = {}
    for _ in range(5):
        a, b = rng.choice(len(mixable), size=2, replace=False)
        dislike = str(rng.choice(list(KEYWORD_THEMES)))
        disliked = keyword_grades(records, KEYWORD_THEMES[dislike]) > 0
        grades = np.maximum(mixable[a][2], mixable[b][2])
        grades[disliked] = 0
        name = f"{mixable[a][1]}+{mixable[b][1]}-{dislike}"
        tastes.append(("mix", name, grades))
        mix_dislikes[name] = disliked
    personas = []
    for kind, name, grades in tastes:
        liked = train[grades[train] >= 1]
        if len(liked) < 5 or (grades[test] >= 2).sum() < 5:
            continue
        n_liked = min(len(liked), int(RATED * 0.4))
        rated = set(rng.choice(liked, size=n_liked, replace=False).tolist())
        if name in mix_dislikes:
            pool_disliked = train[mix_dislikes[name][train]]
            rated |= set(rng.choice(pool_disliked, size=min(8, len(pool_disliked))).tolist())
        rest = np.setdiff1d(train, np.array(sorted(rated)))
        rated |= set(rng.choice(rest, size=RATED - len(rated), replace=False).tolist())
        noise = rng.normal(0, 0.8, size=len(rated))
        personas.append(
            {
                "persona": name,
                "kind": kind,
                "train": [
                    {
                        "id": records[i].arxiv_id,
                        "value": int(np.clip(round(1 + 1.3 * grades[i] + e), 1, 5)),
                    }
                    for i, e in zip(sorted(rated), noise, strict=True)
                ],
                "test": [{"id": records[i].arxiv_id, "relevance": int(grades[i])} for i in test],
            }
        )
    return personas


def ndcg(grades: np.ndarray) -> float:
    """nDCG@TOP of grades in ranked order (the ideal is the same grades sorted)."""
    discounts = 1 / np.log2(np.arange(2, TOP + 2))
    gains = (2.0 ** grades[:TOP] - 1) @ discounts[: len(grades[:TOP])]
    ideal_grades = np.sort(grades)[::-1][:TOP]
    ideal = (2.0**ideal_grades - 1) @ discounts[: len(ideal_grades)]
    return float(gains / ideal) if ideal > 0 else 0.0


def precision(grades: np.ndarray) -> float:
    return float((grades[:TOP] >= 2).mean())


Ranker = Callable[[dict, list[int]], list[int]]


class Methods:
    """Each method takes a persona and its test rows and returns the rows best first."""

    def __init__(self, records: list[Record], vectors: np.ndarray) -> None:
        self.records = records
        self.vectors = vectors
        self.row = {r.arxiv_id: i for i, r in enumerate(records)}
        # arxiv-sanity-lite's compute.py, with the numbers of its current defaults.
        asl = TfidfVectorizer(
            input="content",
            encoding="utf-8",
            decode_error="replace",
            strip_accents="unicode",
            lowercase=True,
            analyzer="word",
            stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
            ngram_range=(1, 2),
            max_features=20000,
            norm="l2",
            use_idf=True,
            smooth_idf=True,
            sublinear_tf=True,
            max_df=0.1,
            min_df=5,
        )
        self.asl_x = asl.fit_transform(
            [" ".join([r.title, r.abstract, " ".join(r.authors)]) for r in records]
        ).astype(np.float32)
        self.space = PaperSpace(docs(records), vectors)
        # Ours as it ranked before the categories were its features.
        self.space_without_categories = PaperSpace(docs(records, categories=False), vectors)

    def date(self, persona: dict, test: list[int]) -> list[int]:
        # Newest listing first, in the listing's own order within a day.
        return sorted(test, key=lambda i: (-self.records[i].published_at.timestamp(), i))

    def _rated(self, persona: dict) -> tuple[np.ndarray, np.ndarray]:
        rows = np.array([self.row[t["id"]] for t in persona["train"]])
        values = np.array([t["value"] for t in persona["train"]])
        return rows, values

    def _classify(self, model, features, rows: np.ndarray, y: np.ndarray, test: list[int]):  # type: ignore[no-untyped-def]
        """Fit `model` on features[rows] and rank `test` by its decision function."""
        if y.all() or not y.any():
            return None
        model.fit(features[rows], y)
        scores = model.decision_function(features[test])
        return [test[i] for i in np.argsort(-scores, kind="stable")]

    def asl(self, persona: dict, test: list[int]) -> list[int]:
        # Its code: every paper it holds is a training row, the tagged ones positive.
        rows, values = self._rated(persona)
        y = np.zeros(len(self.records), dtype=bool)
        y[rows[values >= 4]] = True
        svm = LinearSVC(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-6)
        ranked = self._classify(svm, self.asl_x, np.arange(len(self.records)), y, test)
        return ranked or self.date(persona, test)

    def asl_rated(self, persona: dict, test: list[int]) -> list[int]:
        rows, values = self._rated(persona)
        svm = LinearSVC(C=0.01, class_weight="balanced", max_iter=10000, tol=1e-6)
        ranked = self._classify(svm, self.asl_x, rows, values >= 4, test)
        return ranked or self.date(persona, test)

    def embedding_lr(self, persona: dict, test: list[int]) -> list[int]:
        rows, values = self._rated(persona)
        model = LogisticRegression(class_weight="balanced", max_iter=1000)
        ranked = self._classify(model, self.vectors, rows, values >= 4, test)
        return ranked or self.date(persona, test)

    def _ours(self, space: PaperSpace, persona: dict, test: list[int]) -> list[int]:
        signals = Signals(ratings={t["id"]: t["value"] for t in persona["train"]})
        ranked = MemberModel(space, signals).rank([self.records[i].arxiv_id for i in test])
        return [self.row[r.key] for r in ranked]

    def ours(self, persona: dict, test: list[int]) -> list[int]:
        return self._ours(self.space, persona, test)

    def ours_without_categories(self, persona: dict, test: list[int]) -> list[int]:
        return self._ours(self.space_without_categories, persona, test)


def docs(records: list[Record], categories: bool = True) -> list[PaperDoc]:
    """The records as the ranking sees them: with their categories as the tracker stores
    them (the primary first), unless `categories` is False."""
    return [
        PaperDoc(
            key=r.arxiv_id,
            title=r.title,
            abstract=r.abstract,
            authors=tuple(r.authors),
            categories=tuple(r.categories) if categories else (),
        )
        for r in records
    ]


def evaluate(methods: Methods, personas: list[dict]) -> dict[str, dict[str, list[tuple]]]:
    """Per method, per kind: (nDCG@20, P@20) of each persona."""
    table = {
        "date order": methods.date,
        "ASL": methods.asl,
        "ASL rated": methods.asl_rated,
        "embedding LR": methods.embedding_lr,
        "ours w/o cats": methods.ours_without_categories,
        "ours": methods.ours,
    }
    results: dict[str, dict[str, list[tuple]]] = {name: defaultdict(list) for name in table}
    for persona in personas:
        test = [methods.row[t["id"]] for t in persona["test"]]
        grade = {methods.row[t["id"]]: t["relevance"] for t in persona["test"]}
        for name, method in table.items():
            ranked = np.array([grade[i] for i in method(persona, test)])
            score = (ndcg(ranked), precision(ranked))
            results[name][persona.get("kind", "given")].append(score)
            results[name]["all"].append(score)
    return results


def report(results: dict[str, dict[str, list[tuple]]]) -> tuple[float, float, list[str]]:
    kinds = [k for k in results["ours"] if k != "all"] + ["all"]
    header = f"{'':14s}" + "".join(f"{k:>16s}" for k in kinds)
    print(f"nDCG@{TOP} / P@{TOP} (relevance >= 2), mean over personas")
    print(header)
    print(f"{'personas':14s}" + "".join(f"{len(results['ours'][k]):>16d}" for k in kinds))
    for name, by_kind in results.items():
        cells = []
        for kind in kinds:
            n, p = np.mean([s[0] for s in by_kind[kind]]), np.mean([s[1] for s in by_kind[kind]])
            cells.append(f"{n:9.3f} / {p:4.2f}")
        print(f"{name:14s}" + "".join(f"{c:>16s}" for c in cells))
    below = [
        kind
        for kind in kinds
        if np.mean([s[0] for s in results["ours"][kind]])
        < np.mean([s[0] for s in results["ASL"][kind]])
    ]
    ours = float(np.mean([s[0] for s in results["ours"]["all"]]))
    asl = float(np.mean([s[0] for s in results["ASL"]["all"]]))
    return ours, asl, below


def kind_means(results: dict[str, dict[str, list[tuple]]], method: str) -> dict[str, float]:
    """Per kind (and "all"), the method's mean nDCG@TOP over the personas."""
    return {
        kind: float(np.mean([s[0] for s in scores])) for kind, scores in results[method].items()
    }


def report_seeds(
    by_seed: dict[int, dict[str, dict[str, list[tuple]]]],
) -> tuple[float, float, list[str]]:
    """Per seed and kind, ours / ASL nDCG@TOP; then per kind the mean of both, the mean
    margin (ours - ASL) and the worst margin with its seed. Returns the means over every
    persona of every seed and the kinds where ours is below ASL at some seed."""
    ours = {seed: kind_means(results, "ours") for seed, results in by_seed.items()}
    asl = {seed: kind_means(results, "ASL") for seed, results in by_seed.items()}
    plain = {seed: kind_means(results, "ours w/o cats") for seed, results in by_seed.items()}
    kinds = [*dict.fromkeys(k for o in ours.values() for k in o if k != "all"), "all"]
    print(f"nDCG@{TOP}, ours / ASL, mean over each seed's personas")
    print(f"{'seed':22s}" + "".join(f"{k:>16s}" for k in kinds) + f"{'ratio':>8s}")
    for seed in by_seed:
        cells = [
            f"{ours[seed][k]:.3f} / {asl[seed][k]:.3f}"
            + ("*" if ours[seed][k] < asl[seed][k] else " ")
            if k in ours[seed]
            else "-"
            for k in kinds
        ]
        ratio = ours[seed]["all"] / asl[seed]["all"]
        print(f"{seed:<22d}" + "".join(f"{c:>16s}" for c in cells) + f"{ratio:8.2f}")
    below: list[str] = []
    rows: dict[str, list[str]] = {
        "ours mean": [],
        "ASL mean": [],
        "mean margin": [],
        "worst margin": [],
        "w/o cats mean": [],
        "w/o cats mean margin": [],
        "w/o cats worst margin": [],
    }
    for kind in kinds:
        seeds = [seed for seed in by_seed if kind in ours[seed]]
        margins = {seed: ours[seed][kind] - asl[seed][kind] for seed in seeds}
        worst = min(margins, key=margins.__getitem__)
        rows["ours mean"].append(f"{np.mean([ours[s][kind] for s in seeds]):.3f}")
        rows["ASL mean"].append(f"{np.mean([asl[s][kind] for s in seeds]):.3f}")
        rows["mean margin"].append(f"{np.mean(list(margins.values())):+.3f}")
        rows["worst margin"].append(f"{margins[worst]:+.3f} ({worst})")
        # Ours given no categories, against ASL: what the categories bring.
        plain_margins = {seed: plain[seed][kind] - asl[seed][kind] for seed in seeds}
        plain_worst = min(plain_margins, key=plain_margins.__getitem__)
        rows["w/o cats mean"].append(f"{np.mean([plain[s][kind] for s in seeds]):.3f}")
        rows["w/o cats mean margin"].append(f"{np.mean(list(plain_margins.values())):+.3f}")
        rows["w/o cats worst margin"].append(f"{plain_margins[plain_worst]:+.3f} ({plain_worst})")
        if margins[worst] < 0:
            below.append(f"{kind} at seed {', '.join(str(s) for s in seeds if margins[s] < 0)}")
    for name, cells in rows.items():
        print(f"{name:22s}" + "".join(f"{c:>16s}" for c in cells))
    ratios = [ours[seed]["all"] / asl[seed]["all"] for seed in by_seed]
    print(f"ratio ours / ASL overall: mean {np.mean(ratios):.2f}, worst {min(ratios):.2f}")
    ratios = [plain[seed]["all"] / asl[seed]["all"] for seed in by_seed]
    print(f"ratio ours w/o cats / ASL overall: mean {np.mean(ratios):.2f}, worst {min(ratios):.2f}")
    print("(*: ours below ASL at that seed)")
    every = [s[0] for results in by_seed.values() for s in results["ours"]["all"]]
    every_asl = [s[0] for results in by_seed.values() for s in results["ASL"]["all"]]
    return float(np.mean(every)), float(np.mean(every_asl)), below


def overall(runs: list[dict[str, dict[str, list[tuple]]]], method: str) -> float:
    """The method's mean nDCG@TOP over every persona of these runs."""
    return float(np.mean([s[0] for results in runs for s in results[method]["all"]]))


def timing(methods: Methods, personas: list[dict], records: list[Record]) -> None:
    """1,000 new papers for 20 members: the shared features, then each member's model
    fitted and ranking them; then one rating's way to a re-ranked inbox (the member's
    model fitted anew over the kept features). The machine's load is printed with them:
    these are wall-clock times on a shared machine."""
    new = list(range(len(records)))[-1000:]
    members = (personas * 20)[:20]
    rated = sorted({methods.row[t["id"]] for p in members for t in p["train"]})
    rows = sorted(set(new) | set(rated))
    sub_docs = [docs([records[i]])[0] for i in rows]
    keys = [records[i].arxiv_id for i in new]
    team = [
        TeamRating(member=n, key=t["id"], value=t["value"])
        for n, p in enumerate(members)
        for t in p["train"]
    ]

    def features() -> float:
        started = time.perf_counter()
        PaperSpace(sub_docs, methods.vectors[rows])
        return time.perf_counter() - started

    space = PaperSpace(sub_docs, methods.vectors[rows])

    def rank_all() -> float:
        started = time.perf_counter()
        for n, persona in enumerate(members):
            signals = Signals(ratings={t["id"]: t["value"] for t in persona["train"]})
            model = MemberModel(space, signals, [r for r in team if r.member != n])
            model.rank(keys, explain=EXPLAINED)
        return time.perf_counter() - started

    built = [features() for _ in range(3)]
    runs = [rank_all() for _ in range(3)]
    print(
        f"\nfeatures of the 1,000 new papers and the {len(rated)} rated ones (built once, "
        f"shared by every member): median {statistics.median(built):.2f}s of 3"
    )
    print(
        f"rank 1,000 new papers for 20 members (each model fitted, 60 own ratings and "
        f"{len(team) - 60} of the team's): median {statistics.median(runs):.2f}s of 3 "
        f"(target < 2 s)"
    )
    print(f"(load average while measured: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    persona = members[0]
    ratings = {t["id"]: t["value"] for t in persona["train"]}
    others = [r for r in team if r.member != 0]
    latencies = []
    for i, key in enumerate(keys[:30]):
        started = time.perf_counter()
        ratings = {**ratings, key: 5 if i % 2 else 1}
        MemberModel(space, Signals(ratings=ratings), others).rank(keys, explain=EXPLAINED)
        latencies.append(time.perf_counter() - started)
    print(
        f"a rating to the re-ranked 1,000-paper inbox (model fit + rank + reasons): "
        f"median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms of 30 (target < 300 ms)"
    )


def seed_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"seeds are whole numbers separated by commas: {text!r}"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listings", type=Path, default=DEFAULT_LISTINGS)
    parser.add_argument("--personas", type=Path)
    parser.add_argument("--write-personas", type=Path)
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=SEED, help="of the personas made")
    seeds.add_argument(
        "--seeds", type=seed_list, help="several seeds, e.g. 1,2,3: a table over them"
    )
    args = parser.parse_args()
    if not args.listings.is_dir():
        sys.exit(f"no listings folder {args.listings} (the shared corpus sits beside the checkout)")
    if args.seeds and (args.personas or args.write_personas):
        sys.exit(
            "--seeds makes the personas of each seed: it takes no --personas or --write-personas"
        )
    setup_django()
    from tests.corpus import load_papers

    records = read_corpus(listings=args.listings)
    load_papers(records)
    vectors = corpus_vectors(records)
    days = sorted({r.published_at for r in records})
    split = days[-TEST_DAYS]
    train = np.array([i for i, r in enumerate(records) if r.published_at < split])
    test = np.array([i for i, r in enumerate(records) if r.published_at >= split])
    methods = Methods(records, vectors)
    print(f"{len(records)} papers, {len(train)} on training days, {len(test)} on test days", end="")
    if args.personas:
        personas = [json.loads(line) for line in args.personas.read_text().splitlines() if line]
        print()
        runs = [evaluate(methods, personas)]
        ours, asl, below = report(runs[0])
    else:
        titles = corpus_vectors([dataclasses.replace(r, abstract="") for r in records])
        if args.seeds:
            print(f", personas of seeds {', '.join(map(str, args.seeds))}")
            by_seed = {
                seed: evaluate(methods, make_personas(records, titles, train, test, seed))
                for seed in args.seeds
            }
            runs = list(by_seed.values())
            ours, asl, below = report_seeds(by_seed)
            personas = make_personas(records, titles, train, test, args.seeds[0])
        else:
            print(f", personas of seed {args.seed}")
            personas = make_personas(records, titles, train, test, args.seed)
            if args.write_personas:
                args.write_personas.write_text("".join(json.dumps(p) + "\n" for p in personas))
            runs = [evaluate(methods, personas)]
            ours, asl, below = report(runs[0])
    timing(methods, personas, records)
    if below:
        print(f"ours is below ASL on: {'; '.join(below)}")
    plain = overall(runs, "ours w/o cats")
    print(
        f"ours without categories: nDCG@{TOP} {plain:.3f}, ratio {plain / asl:.2f} "
        f"(categories bring {ours - plain:+.3f})"
    )
    print(f"rank: ours nDCG@{TOP} {ours:.3f}, ASL {asl:.3f}, ratio {ours / asl:.2f}")


if __name__ == "__main__":
    main()
