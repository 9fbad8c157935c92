"""``reliant robust``: post-hoc robustness to prior shift (DROPS) on saved classifier outputs.

Options come from :mod:`reliant.robustness.config`; the handlers live in
:mod:`reliant.robustness.workflows` and are imported only when a command runs.
"""

from __future__ import annotations

import typer

from reliant.core.cli_common import command, command_group
from reliant.robustness.config import DropsConfig, LongTailConfig

group = command_group("Robustness to class/group prior shift, post hoc on a trained classifier's logits (DROPS).")

command(group, "drops", DropsConfig, "reliant.robustness.workflows:run_drops",
        example="reliant robust drops --logits lt/val_logits.npy --labels lt/val_labels.npy "
                "--test-logits lt/test_logits.npy --test-labels lt/test_labels.npy --prior lt/prior.npy "
                "--out drops-run")
command(group, "longtail", LongTailConfig, "reliant.robustness.workflows:run_longtail",
        example="reliant robust longtail --probs ../shared/data/cleanlab_cifar10/cifar10_test_set_pyx.npy "
                "--labels ../shared/data/cleanlab_cifar10/cifar10_test_set_original_labels.npy --ratio 100 --out lt")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="robust")
