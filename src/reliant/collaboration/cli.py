"""``reliant collab``: human vs machine error analysis and post-hoc human-machine teams.

Options come from :mod:`reliant.collaboration.config`; the handler lives in
:mod:`reliant.collaboration.workflows` and is imported only when the command runs.
"""

from __future__ import annotations

import typer

from reliant.collaboration.config import CollabConfig
from reliant.core.cli_common import command, command_group

group = command_group("Human vs machine: how their mistakes differ, and when a human-machine team beats both.")

command(group, "analyze", CollabConfig, "reliant.collaboration.workflows:run_analyze",
        example="reliant collab analyze --machine-probs ../shared/data/cleanlab_cifar10/cifar10_test_set_pyx.npy "
                "--human-votes ../shared/data/cifar10h/cifar10h-counts.npy "
                "--labels ../shared/data/cleanlab_cifar10/cifar10_test_set_original_labels.npy --out collab-run")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="collab")
