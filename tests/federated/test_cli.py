"""Both commands end to end (local engine: no ray), and one real Flower simulation."""

from __future__ import annotations

import json

import pytest
import torch

from tests.cli_runner import run_main

SMALL = ["--limit", "400", "--test-size", "60", "--root-size", "40", "--clients", "5", "--model", "mlp"]


def test_simulate_local_end_to_end_and_deterministic(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in ("a", "b"):
        assert run_main(["federated", "simulate", "--engine", "local", "--rule", "multikrum", "--rounds", "3", "--lr", "0.5",
                         *SMALL, "--seed", "3", "--out", tmp_path / out]) == 0
    a, b = (json.loads((tmp_path / o / "metrics.json").read_text()) for o in ("a", "b"))
    assert a["rounds"] == b["rounds"]
    assert a["final"]["accuracy"] > 0.3  # 3 rounds of FedAvg-style local SGD on digits learn something
    assert (tmp_path / "a" / "report.html").is_file()


def test_simulate_with_central_dp_is_deterministic_and_noisy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["federated", "simulate", "--engine", "local", "--rule", "fang", "--rounds", "2", *SMALL,
              "--dp", "server-fixed", "--clipping-norm", "0.02", "--noise-multiplier", "0.5"]
    for out in ("a", "b"):
        assert run_main([*common, "--out", tmp_path / out]) == 0
    a, b = (json.loads((tmp_path / o / "metrics.json").read_text()) for o in ("a", "b"))
    assert a["rounds"] == b["rounds"]  # the noise is drawn from the run's seed
    assert a["rounds"][0]["DP: noise stddev"] == pytest.approx(0.5 * 0.02 / 5)
    assert a["rounds"][0]["DP: share clipped"] > 0


def test_attack_local_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_main(["federated", "attack", "--engine", "local", "--rule", "krum", *SMALL, "--warmup-rounds", "2",
                     "--poison-rounds", "2", "--steps", "20", "--craft-steps", "10", "--out", tmp_path / "out"]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"CGI (client, poisoned)", "no poisoning (client)", "server upper bound"}
    assert len(metrics["detections"]) == 2
    html = (tmp_path / "out" / "report.html").read_text()
    assert "reconstructions" in html.lower() and "data:image/png" in html
    assert (tmp_path / "out" / "reconstructions.png").is_file()


@pytest.mark.slow  # ray start-up: 25 s to 2 min on 2 cores
def test_flower_simulation_matches_the_local_engine():
    """Flower's FedMedian inside Flower's client-side adaptive-clipping DP wrapper, with Flower's
    adaptiveclipping_mod on every node, against the in-process engine's torch mirror."""
    from reliant.federated.config import SimulateConfig
    from reliant.federated.federation import build_federation, run_local, settings_from_config
    from reliant.federated.simulation import run_flower

    config = SimulateConfig(rounds=2, seed=1)
    config.federation.clients, config.federation.limit, config.federation.model = 3, 300, "mlp"
    config.federation.test_size, config.federation.root_size = 60, 40
    config.aggregation.rule, config.aggregation.assumed_malicious = "median", 0
    config.privacy.dp, config.privacy.noise_multiplier, config.privacy.clipping_norm = "client-adaptive", 0.2, 0.5
    config.validate()
    settings = settings_from_config(config)
    records = []
    flower = run_flower(settings, records.append)
    local = run_local(build_federation(settings), 2)
    assert [r.server_round for r in records] == [1, 2]
    assert max(r.metrics["flower_vs_torch_max_abs"] for r in records) < 1e-12
    assert torch.allclose(flower, local, atol=1e-12, rtol=0)
    assert records[-1].metrics["dp_clipping_norm"] != 0.5  # the adaptive norm moved
    assert records[0].metrics["dp_noise_stddev"] > 0
