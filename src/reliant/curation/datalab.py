"""Dataset-level checks through cleanlab's Datalab, in the same run folder and report.

Datalab does these well, so they are not rewritten here: label issues, outliers, near
duplicates, class imbalance, non-IID ordering, underperforming groups and null features,
from the features and out-of-sample predicted probabilities the detect command already
has. The summary table goes into the report, every row Datalab flags into
``datalab_issues.jsonl``.
"""

from __future__ import annotations

import numpy as np

from reliant.core.data import save_records

#: The Datalab issue types asked for ("label" is the detector's own job, so left out).
ISSUE_TYPES = ("outlier", "near_duplicate", "class_imbalance", "non_iid", "underperforming_group", "null")


def run_datalab(run, features: np.ndarray, labels: np.ndarray, pred_probs: np.ndarray, seed: int) -> dict:
    """Run Datalab's checks, add the summary table to ``run`` and return the summary."""
    import warnings

    from cleanlab import Datalab  # deliberately lazy: heavy, only this option needs it

    np.random.seed(seed)  # Datalab's non-IID permutation test draws from the global generator
    lab = Datalab(data={"label": np.asarray(labels)}, label_name="label", verbosity=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Datalab warns per check it adapts; the summary says what it found
        lab.find_issues(features=np.asarray(features, dtype=np.float32), pred_probs=np.asarray(pred_probs),
                        issue_types={name: {} for name in ISSUE_TYPES})
    summary = lab.get_issue_summary()
    rows = [{"issue": str(r["issue_type"]), "rows flagged": int(r["num_issues"]), "score (1 = none)": float(r["score"])}
            for _, r in summary.iterrows()]
    run.add_table("Dataset checks (cleanlab Datalab)", rows,
                  caption="Datalab's own checks on the same features and predicted probabilities; the score is "
                          "its dataset-level quality score per issue (lower is worse); rows in datalab_issues.jsonl.")
    issues = lab.get_issues()
    flags = [column for column in issues.columns if column.startswith("is_") and column.endswith("_issue")]
    flagged = []
    for i in np.flatnonzero(issues[flags].to_numpy().any(axis=1)):
        flagged.append({"index": int(i), "issues": [c[3:-6] for c in flags if bool(issues.iloc[i][c])]})
    save_records(flagged, run.file("datalab_issues.jsonl"))
    return {r["issue"]: {"rows_flagged": r["rows flagged"], "score": r["score (1 = none)"]} for r in rows}
