"""Every registered unlearning method honours the registry contract.

Parametrised over ``reliant.unlearning.methods.REGISTRY``, so a new method is covered the
moment it is registered: it trains for a step or two on the session's tiny LM, returns
finite loss parts, changes the weights, and its ``needs`` are truthful (a declared input
that is missing is a one-line ConfigError; an undeclared one is never touched).
"""

import dataclasses
import math

import pytest
import torch

from reliant.core.builtin_data import builtin_qa, split_forget_retain
from reliant.core.errors import ConfigError, UserError
from reliant.core.models import load_causal_lm
from reliant.unlearning import api
from reliant.unlearning.methods import METHOD_LABELS, NEEDS, REGISTRY, available_methods, get_method
from reliant.unlearning.methods.base import UnlearningMethod, register
from reliant.unlearning.trainer import UnlearnData, UnlearnSettings, pair_templates, unlearn_model

FORGET, RETAIN = split_forget_retain(builtin_qa(n_people=10), 0.1)
PAIRS_FORGET = [(r["question"], r["answer"]) for r in FORGET]
PAIRS_RETAIN = [(r["question"], r["answer"]) for r in RETAIN]
ALL = available_methods()


def _data(method_cls, *, retain=True, templates=True) -> UnlearnData:
    return UnlearnData(
        forget=list(PAIRS_FORGET),
        templates=pair_templates(len(PAIRS_FORGET), api.load_templates(), 0) if templates else [],
        retain=list(PAIRS_RETAIN) if retain else [],
    )


def _train(small_lm_dir, method, data, **overrides):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    settings = UnlearnSettings(method=method, epochs=1, lr=5e-4, batch_size=4, **overrides)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = unlearn_model(model, tokenizer, data, settings)
    return model, before, result


def test_registry_lists_every_method_once_in_order():
    assert ALL == ["flat", "ga", "gd", "ga_kl", "npo_forget", "npo", "simnpo_forget", "simnpo", "idkdpo_forget",
                   "idkdpo", "wga", "satimp", "ceu", "undial", "rmu", "pdu", "retain_ft"]
    assert dict(METHOD_LABELS) == {name: REGISTRY[name].label for name in ALL}
    assert len(set(METHOD_LABELS.values())) == len(ALL)
    with pytest.raises(ConfigError, match="unknown method 'magic'") as info:
        get_method("magic")
    assert "flat, ga, gd" in str(info.value) and "\n" not in str(info.value)


def test_unknown_method_in_settings_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown method 'magic'"):
        UnlearnSettings(method="magic").check()


def test_register_refuses_duplicates_and_unknown_needs():
    class Clash(UnlearningMethod):
        name, label = "ga", "Clash"

    with pytest.raises(ValueError, match="already registered"):
        register(Clash)

    class Odd(UnlearningMethod):
        name, label, needs = "odd_contract_test", "Odd", frozenset({"oracle"})

    with pytest.raises(ValueError, match="unknown inputs"):
        register(Odd)
    assert "odd_contract_test" not in REGISTRY


@pytest.mark.parametrize("method", ALL)
def test_method_declares_a_valid_contract(method):
    cls = REGISTRY[method]
    assert cls.name == method and cls.label and cls.summary
    assert set(cls.needs) <= NEEDS
    assert dataclasses.is_dataclass(cls.Params)
    # Defaults stay those of the run settings the method reads them from (behaviour unchanged).
    params = cls.params_from(UnlearnSettings())
    assert params == cls.Params()


@pytest.mark.parametrize("method", ALL)
def test_method_trains_with_finite_parts_and_moves_the_weights(small_lm_dir, method):
    cls = REGISTRY[method]
    parts_seen = []
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    settings = UnlearnSettings(method=method, epochs=1, lr=5e-4, batch_size=4)
    result = unlearn_model(model, tokenizer, _data(cls), settings, on_step=lambda step, record: parts_seen.append(record))
    assert result.steps >= 2 and result.tokens > 0
    for record in parts_seen:
        named = {k: v for k, v in record.items() if k not in ("step", "epoch")}
        assert len(named) >= 2  # the loss and at least one named part
        assert all(math.isfinite(v) for v in named.values()), record
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("method", [m for m in ALL if "retain" in REGISTRY[m].needs])
def test_declared_retain_need_is_enforced(small_lm_dir, method):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    with pytest.raises(ConfigError, match="needs retain data") as info:
        unlearn_model(model, tokenizer, _data(REGISTRY[method], retain=False), UnlearnSettings(method=method, epochs=1))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("method", [m for m in ALL if "template" in REGISTRY[m].needs])
def test_declared_template_need_is_enforced(small_lm_dir, method):
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    with pytest.raises(UserError, match="0 template answers for 8 forget questions"):
        unlearn_model(model, tokenizer, _data(REGISTRY[method], templates=False), UnlearnSettings(method=method, epochs=1))


@pytest.mark.parametrize("method", [m for m in ALL if not {"retain", "template"} <= set(REGISTRY[m].needs)])
def test_undeclared_inputs_are_never_touched(small_lm_dir, method):
    cls = REGISTRY[method]
    data = _data(cls, retain="retain" in cls.needs, templates="template" in cls.needs)
    _, _, result = _train(small_lm_dir, method, data)
    assert result.steps >= 1


@pytest.mark.parametrize("method", [m for m in ALL if "reference" in REGISTRY[m].needs and m not in ("undial", "rmu")])
def test_reference_methods_start_at_their_reference(small_lm_dir, method):
    """Declaring 'reference' is truthful: against the original model, the first step's
    preference/KL term sits at its neutral value."""
    cls = REGISTRY[method]
    first = []
    model, tokenizer = load_causal_lm(str(small_lm_dir), device="cpu")
    unlearn_model(model, tokenizer, _data(cls), UnlearnSettings(method=method, epochs=1, lr=5e-4, batch_size=4),
                  on_step=lambda step, record: first.append(record) if step == 1 else None)
    if method == "ga_kl":
        assert first[0]["retain"] == pytest.approx(0.0, abs=1e-6)
    else:  # NPO / DPO forget terms equal (2 / beta) * log 2 when policy == reference
        assert first[0]["forget"] == pytest.approx(2 / 0.1 * math.log(2), rel=1e-4)


# ----------------------------------------------------------------- parameters as options


@pytest.mark.parametrize("method", ALL)
def test_every_method_parameter_is_one_run_option(method):
    """Each method's own Params field is one field of the run's method_params section (one
    flag), declared with a help text, so a new method's parameters reach the command line."""
    from reliant.core.config import option_specs
    from reliant.unlearning.config import MethodParams, RunConfig

    cls = REGISTRY[method]
    section = {f.name: f for f in dataclasses.fields(MethodParams)}
    flags = {spec.path: spec.flag for spec in option_specs(RunConfig)}
    for f in dataclasses.fields(cls.Params):
        key = f.metadata.get("setting", f.name)
        assert key in section, key
        assert section[key].default == f.default
        assert f.metadata.get("help") and cls.label in section[key].metadata["help"]
        assert flags[f"train.method_params.{key}"] == "--" + key.replace("_", "-")


def test_flat_choices_match_the_loss_maths():
    from reliant.unlearning import losses
    from reliant.unlearning.methods.flat import DIVERGENCES, REDUCTIONS

    assert tuple(losses.FLAT_DIVERGENCES) == DIVERGENCES and tuple(losses.FLAT_REDUCTIONS) == REDUCTIONS


def test_a_shared_parameter_declared_differently_is_refused():
    from reliant.core.config import option
    from reliant.unlearning.methods.base import method_params_section

    @dataclasses.dataclass
    class OddParams:
        beta: float = option(0.5, "another beta", gt=0)

    class Odd(UnlearningMethod):
        name, label, Params = "odd_params", "Odd", OddParams

    with pytest.raises(TypeError, match="declares 'beta' differently"):
        method_params_section([REGISTRY["npo"], Odd])


def test_method_parameters_reach_the_method_from_settings_and_overrides():
    settings = UnlearnSettings(method="simnpo")
    from reliant.core.config import replace_config

    changed = replace_config(settings, simnpo_beta=3.0, simnpo_delta=0.25)
    params = REGISTRY["simnpo"].params_from(changed)
    assert (params.beta, params.delta, params.forget_weight) == (3.0, 0.25, 0.125)
    with pytest.raises(ConfigError, match="simnpo_beta"):
        replace_config(settings, simnpo_beta=0.0)
    with pytest.raises(ConfigError, match="retain_weight"):
        UnlearnSettings(method="gd", method_params=dataclasses.replace(UnlearnSettings().method_params,
                                                                      retain_weight=float("nan"))).check()


# ----------------------------------------------------------------- published defaults

# OpenUnlearning configs/trainer/<Name>.yaml (method_args), one row per registered name:
# forget weight (gamma), retain weight (alpha, None = no retain term) and the method's own.
PUBLISHED = {
    "ga": (1.0, None, {}),
    "gd": (1.0, 1.0, {}),
    "ga_kl": (1.0, 1.0, {}),
    "npo": (1.0, 1.0, {"beta": 0.1}),
    "npo_forget": (1.0, None, {"beta": 0.1}),
    "simnpo": (0.125, 1.0, {"beta": 4.5, "delta": 0.0}),
    "simnpo_forget": (0.125, None, {"beta": 4.5, "delta": 0.0}),
    "idkdpo": (1.0, 1.0, {"beta": 0.1}),
    "idkdpo_forget": (1.0, None, {"beta": 0.1}),
    "wga": (1.0, 1.0, {"beta": 1.0}),
    "satimp": (0.1, 1.0, {"beta1": 5.0, "beta2": 1.0}),
    "ceu": (1.0, None, {"ignore_first": 1}),
    "undial": (1.0, None, {"beta": 10.0}),
    "rmu": (1.0, 1.0, {"layer": 7, "steering": 2.0}),
    "pdu": (1.0, 1.0, {"dual_step": 1.0, "dual_warmup_epochs": 5}),
}


@pytest.mark.parametrize("method", sorted(PUBLISHED))
def test_published_defaults_on_every_path(method):
    """The run settings, the API's defaults and the benchmark's settings give each method
    OpenUnlearning's published defaults (SimNPO: beta 4.5 and forget weight 0.125 on every path)."""
    from reliant.unlearning.bench import method_settings
    from reliant.unlearning.config import BenchConfig

    gamma, alpha, own = PUBLISHED[method]
    cls = REGISTRY[method]
    for settings in (UnlearnSettings(method=method), method_settings(BenchConfig(), method)):
        params = cls.params_from(settings)
        assert params.forget_weight == gamma
        assert getattr(params, "retain_weight", None) == alpha
        assert ("retain" in cls.needs) == (alpha is not None)
        for key, value in own.items():
            assert getattr(params, key) == value, key


def test_retain_variants_have_forget_only_twins():
    for name in ("npo", "simnpo", "idkdpo"):
        assert "retain" in REGISTRY[name].needs
        assert "retain" not in REGISTRY[f"{name}_forget"].needs


def test_training_leaves_no_hooks_or_reference_copies_behind(small_lm_dir):
    """RMU's forward hooks stayed on the user's model after training (and stacked up when a
    model was unlearned twice); teardown removes them however training ends."""
    model, _, result = _train(small_lm_dir, "rmu", _data(REGISTRY["rmu"]))
    assert result.steps > 0
    assert not any(module._forward_hooks for module in model.modules())
