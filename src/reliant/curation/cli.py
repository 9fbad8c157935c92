"""``reliant curate``: label-noise diagnosis (HOC), detection (SimiFeat) and DS2 data selection.

Each command is generated from its config dataclass in :mod:`reliant.curation.config`; the
handlers live in :mod:`reliant.curation.workflows` and are imported only when a command runs.
"""

from __future__ import annotations

import typer

from reliant.core.cli_common import command, command_group
from reliant.curation.config import DetectConfig, DiagnoseConfig, RateConfig, SelectConfig

group = command_group(
    "Label-noise diagnosis (HOC), label-error detection (SimiFeat) and LLM-rated data selection (DS2)."
)

command(group, "diagnose", DiagnoseConfig, "reliant.curation.workflows:run_diagnose",
        example="reliant curate diagnose --features emb.npy --labels noisy_labels.npy --clean-labels clean_labels.npy")
command(group, "detect", DetectConfig, "reliant.curation.workflows:run_detect",
        example="reliant curate detect --data texts.jsonl --label-field label --embedding-cache ~/.cache/reliant/emb")
command(group, "rate", RateConfig, "reliant.curation.workflows:run_rate",
        example="reliant curate rate --pool alpaca.json --rater tiny --out runs/rate")
command(group, "select", SelectConfig, "reliant.curation.workflows:run_select",
        example="reliant curate select --pool alpaca.json --scores runs/rate/scores.npy --budget 1000")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="curate")
