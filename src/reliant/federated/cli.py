"""``reliant federated``: Flower simulations, robust aggregation and the CGI attack.

Options come from :mod:`reliant.federated.config`; the handlers in
:mod:`reliant.federated.workflows` are imported only when a command runs.
"""

from __future__ import annotations

import typer

from reliant.core.cli_common import command, command_group
from reliant.federated.config import AttackConfig, SimulateConfig

group = command_group("Federated learning on Flower: robust aggregation and client-side gradient inversion (CGI).")

command(group, "simulate", SimulateConfig, "reliant.federated.workflows:run_simulate",
        example="reliant federated simulate --rule krum --clients 10 --rounds 5 --out fl-krum")
command(group, "attack", AttackConfig, "reliant.federated.workflows:run_attack",
        example="reliant federated attack --rule krum --dataset mnist --out cgi-krum")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="federated")
