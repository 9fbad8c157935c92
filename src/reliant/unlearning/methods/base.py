"""The unlearning-method registry: one class per method, registered under one name.

A method is a small class holding what the trainer needs to know about it and nothing
else:

* ``name`` -- the registry key (``--method NAME``); ``label`` -- how reports print it;
* ``needs`` -- which inputs besides the forget answers it uses, a subset of
  ``{"template", "retain", "reference"}``. The trainer hands a method only what it
  declares (an undeclared input is ``None`` in the step context), and refuses to start
  a method whose declared inputs are missing, so the declaration is always truthful;
* ``Params`` -- a dataclass of the method's own hyper-parameters with their defaults;
* ``setup(env)`` -- optional, once before training on the *original* model (reference
  log-probabilities, a frozen reference copy);
* ``loss(ctx) -> (loss, parts)`` -- the scalar loss of one batch and its named parts as
  floats. The maths lives in :mod:`reliant.unlearning.losses`;
* ``teardown()`` -- once after training: removes what ``setup`` attached to the model.

The shared pieces live here once: ``Params`` extend :class:`ForgetWeight` or
:class:`ForgetRetainWeights`; ``ctx.forget_logits()`` is the forget forward pass;
:meth:`UnlearningMethod.objective` forms ``gamma * forget + alpha * retain`` (with the
token-mean retain NLL when a method needs retain data and passes no retain term of its own);
``holds_reference_copy = True`` keeps a frozen copy of the original model, read with
:meth:`UnlearningMethod.reference_logits`. Adding a method is one file::

    @dataclass
    class MyParams(ForgetRetainWeights):
        beta: float = own_option("my_beta", 1.0, "...", gt=0)

    @register
    class MyMethod(UnlearningMethod):
        name, label, needs = "mine", "Mine", frozenset({"retain"})
        Params = MyParams
        def loss(self, ctx):
            logits, forget = ctx.forget_logits()
            return self.objective(ctx, my_forget_loss(logits, forget["labels"], self.params.beta))

and one import line in ``reliant/unlearning/methods/__init__.py``.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import random
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

from reliant.core.config import option
from reliant.core.errors import ConfigError

if TYPE_CHECKING:
    import torch


class _Lazy(ModuleType):
    """A module imported on first attribute access, so that listing the registry (e.g. for
    ``reliant unlearn run --help``) never imports torch."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        if self._module is None:
            self._module = importlib.import_module(self.__name__)
        return getattr(self._module, attr)


losses = _Lazy("reliant.unlearning.losses")
"""The loss maths (:mod:`reliant.unlearning.losses`), imported when a method first computes."""
torch_lazy = _Lazy("torch")

NEEDS = frozenset({"template", "retain", "reference"})
"""Everything a method may declare in ``needs``."""


@dataclass
class NoParams:
    """A method without hyper-parameters of its own."""


def settings_field(name: str, declared: Any) -> Any:
    """A ``Params`` field (made with :func:`reliant.core.config.option`) that appears as
    ``name`` among the run's method parameters, for a field whose own name (``gamma``)
    would be ambiguous across methods (``--simnpo-gamma``)."""
    return dataclasses.field(default=declared.default, metadata={**declared.metadata, "setting": name})


# Parameters several methods share, declared once (default, help, range): every method
# that reads one uses the same declaration, so the union of all methods' parameters
# (:func:`method_params_section`) holds each of them once.
def forget_weight_option() -> Any:
    return option(1.0, "Weight of the forget term (OpenUnlearning's gamma).", min=0)


def retain_weight_option() -> Any:
    return option(1.0, "Weight of the retain term (OpenUnlearning's alpha).", min=0)


def beta_option() -> Any:
    return option(0.1, "Inverse temperature beta of NPO's and DPO's preference loss (OpenUnlearning NPO/DPO: 0.1).", gt=0)


def own_option(setting: str, default: float, help: str, **limits: Any) -> Any:
    """A parameter whose published default differs between methods (SimNPO's beta 4.5 vs
    NPO's 0.1, SimNPO's forget weight 0.125): declared once, in its method's file, under its
    own run-settings name (``simnpo_beta`` -> ``--simnpo-beta``)."""
    return settings_field(setting, option(default, help, **limits))


@dataclass
class ForgetWeight:
    """The forget weight every unlearning objective scales its forget term by; a method's
    ``Params`` extends this (or :class:`ForgetRetainWeights`) with its own fields."""

    forget_weight: float = forget_weight_option()


@dataclass
class ForgetRetainWeights(ForgetWeight):
    """Forget and retain weights, ``gamma * forget + alpha * retain`` (OpenUnlearning's GradDiff)."""

    retain_weight: float = retain_weight_option()


@dataclass
class SetupEnv:
    """What :meth:`UnlearningMethod.setup` sees: the original model before any update."""

    model: Any
    forget: list[tuple[str, str]]
    epoch_templates: list[list[str]] | None
    """The template answer of every forget question in every epoch (``[epoch][question]``;
    every epoch the same list when templates are drawn once)."""
    reference_logps: Callable[[Sequence[tuple[str, str]]], torch.Tensor]
    """Summed answer log-probabilities of QA pairs under the original model, ``(N,)``, on CPU."""
    retain: list[tuple[str, str]] | None = None
    seed: int = 0
    reference_retain_nll: Callable[[], float] | None = None
    """The original model's token-mean NLL over the whole retain set (PDU's default bound)."""


@dataclass
class StepContext:
    """One batch as a method sees it.

    ``forget``, ``templates`` and ``retain`` are the full lists (``templates``: this
    epoch's draw, one per forget question); ``templates`` and ``retain`` are ``None``
    unless the method declares it needs them.
    """

    model: Any
    indices: list[int]
    device: Any
    forget: list[tuple[str, str]]
    templates: list[str] | None
    retain: list[tuple[str, str]] | None
    build_batch: Callable[[Sequence[tuple[str, str]]], dict[str, torch.Tensor]]
    retain_rng: random.Random
    method: str
    tokens: int = 0
    process_index: int = 0
    num_processes: int = 1
    epoch: int = 0

    def batch(self, pairs: Sequence[tuple[str, str]]) -> dict[str, torch.Tensor]:
        """A tokenised QA batch on the training device (its tokens count as processed)."""
        built = self.build_batch(pairs)
        self.tokens += int(built["attention_mask"].sum())
        return built

    def logits(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits

    def logits_of_both(
        self, first: Sequence[tuple[str, str]], second: Sequence[tuple[str, str]]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Two QA batches scored in ONE forward pass (one concatenated, right-padded batch).

        Each half's logits and labels are cut back to that half's own longest sequence, so
        they equal what two separate forward passes give (a right-padded causal LM never
        looks at the padding after a token); only the number of passes changes.
        """
        both = self.batch(list(first) + list(second))
        logits = self.logits(both)
        n = len(first)
        halves = []
        for rows in (slice(0, n), slice(n, None)):
            width = int(both["attention_mask"][rows].sum(-1).max())
            part = {k: v[rows, :width] for k, v in both.items()}
            halves += [logits[rows, :width], part]
        return halves[0], halves[1], halves[2], halves[3]

    def forget_logits(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The logits and the tokenised batch of this step's forget answers (one forward pass)."""
        forget = self.batch(self.forget_pairs())
        return self.logits(forget), forget

    def retain_nll(self) -> torch.Tensor:
        """NLL of a random retain batch averaged over all its answer tokens (OpenUnlearning's
        ``retain_loss_type: NLL``, i.e. ``model(**retain_inputs).loss``)."""
        retain = self.batch(self.retain_pairs())
        return losses.token_mean_nll(self.logits(retain), retain["labels"])

    def forget_pairs(self) -> list[tuple[str, str]]:
        return [self.forget[i] for i in self.indices]

    def template_pairs(self) -> list[tuple[str, str]]:
        """Each forget question of the batch with its paired template answer."""
        if self.templates is None:
            raise RuntimeError(f"method {self.method!r} uses template answers but does not declare needs 'template'")
        return [(self.forget[i][0], self.templates[i]) for i in self.indices]

    def retain_pairs(self) -> list[tuple[str, str]]:
        """As many retain QA pairs as the batch has rows, drawn with the run's retain RNG.

        With several processes every process draws the *global* batch's retain rows (the
        same RNG, the same draws) and keeps its own slice, so N processes of batch B train
        on exactly the retain rows one process of batch N*B would."""
        if self.retain is None:
            raise RuntimeError(f"method {self.method!r} uses retain data but does not declare needs 'retain'")
        rows = len(self.indices)
        drawn = [self.retain[self.retain_rng.randrange(len(self.retain))] for _ in range(rows * self.num_processes)]
        return drawn[self.process_index * rows : (self.process_index + 1) * rows]

    def indexed_retain_pairs(self) -> list[tuple[str, str]]:
        """The retain pairs the batch indices point at (methods that train on retain data)."""
        if self.retain is None:
            raise RuntimeError(f"method {self.method!r} uses retain data but does not declare needs 'retain'")
        return [self.retain[i] for i in self.indices]


class UnlearningMethod(ABC):
    """Base class of every registered method (see the module docstring)."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    summary: ClassVar[str] = ""
    Params: ClassVar[type] = NoParams
    trains_on: ClassVar[str] = "forget"
    """The list one epoch runs over: ``"forget"`` (every unlearning method) or ``"retain"``."""
    uses_every_parameter: ClassVar[bool] = True
    """Whether every trainable parameter reaches the loss each step. False for methods whose loss
    stops at one layer (RMU): DDP refuses those, so the trainer runs them in one process only."""
    holds_reference_copy: ClassVar[bool] = False
    """Whether :meth:`setup` keeps a frozen copy of the original model (``self.reference_model``,
    read through :meth:`reference_logits`): for methods that need its full next-token
    distribution or its activations on batches that change every step."""

    def __init__(self, params: Any | None = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def params_from(cls, settings: Any) -> Any:
        """The method's ``Params`` filled from the run's method parameters: an object with
        same-named fields, or run settings holding them as ``method_params``."""
        settings = getattr(settings, "method_params", settings)
        values = {}
        for f in dataclasses.fields(cls.Params):
            source = f.metadata.get("setting", f.name)
            if hasattr(settings, source):
                values[f.name] = getattr(settings, source)
        return cls.Params(**values)

    def setup(self, env: SetupEnv) -> None:
        """Once before training, on the original model (an override calls ``super().setup``)."""
        self.reference_model = self.frozen_copy(env.model) if self.holds_reference_copy else None

    def teardown(self) -> None:
        """Once after training (also when it stops on an error or Ctrl-C): undo what
        :meth:`setup` attached to the model (RMU's forward hooks) and drop the reference copy."""
        self.reference_model = None

    def reference_logits(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The frozen original model's logits on ``batch`` (no gradient)."""
        with torch_lazy.no_grad():
            return self.reference_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits

    def objective(
        self, ctx: StepContext, forget_loss: torch.Tensor, retain_loss: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``gamma * forget_loss + alpha * retain_loss`` and its parts (OpenUnlearning's GradDiff sum).

        ``gamma``/``alpha`` are ``params.forget_weight``/``params.retain_weight``. A method that
        declares ``needs`` retain and passes no ``retain_loss`` gets OpenUnlearning's default
        retain term, the token-mean NLL of a random retain batch (:meth:`StepContext.retain_nll`);
        a forget-only method gets ``gamma * forget_loss`` alone."""
        if retain_loss is None and "retain" in self.needs:
            retain_loss = ctx.retain_nll()
        parts = {"forget": float(forget_loss.detach())}
        loss = self.params.forget_weight * forget_loss
        if retain_loss is not None:
            parts["retain"] = float(retain_loss.detach())
            loss = loss + self.params.retain_weight * retain_loss
        return loss, parts

    @staticmethod
    def frozen_copy(model: Any) -> Any:
        """A frozen copy of the original model, for methods that need its full next-token
        distribution (or activations) on batches that change every step."""
        return copy.deepcopy(model).eval().requires_grad_(False)

    def after_update(self, parts: dict[str, float], epoch: int) -> None:  # noqa: B027 - optional hook
        """After each optimizer update, with that step's loss parts (PDU's dual ascent)."""

    def state(self) -> dict[str, Any]:
        """Training state of the method itself (plain numbers), saved in checkpoints."""
        return {}

    def restore(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Put back what :meth:`state` returned (resuming from a checkpoint)."""

    @abstractmethod
    def loss(self, ctx: StepContext) -> tuple[torch.Tensor, dict[str, float]]:
        """The step's loss to minimise and its named parts (floats, for logs and reports)."""


REGISTRY: dict[str, type[UnlearningMethod]] = {}
"""Every unlearning method by name, in registration order."""


def register(cls: type[UnlearningMethod]) -> type[UnlearningMethod]:
    """Class decorator adding a method to :data:`REGISTRY` under ``cls.name``."""
    if not cls.name or not cls.label:
        raise TypeError(f"{cls.__name__} needs a name and a label")
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"an unlearning method named {cls.name!r} is already registered ({REGISTRY[cls.name].__name__})")
    unknown = set(cls.needs) - NEEDS
    if unknown:
        raise ValueError(f"{cls.__name__}.needs holds unknown inputs {sorted(unknown)} (allowed: {sorted(NEEDS)})")
    if cls.trains_on not in ("forget", "retain") or (cls.trains_on == "retain" and "retain" not in cls.needs):
        raise ValueError(f"{cls.__name__}.trains_on must be 'forget' or 'retain' (and then it needs 'retain')")
    if not dataclasses.is_dataclass(cls.Params):
        raise TypeError(f"{cls.__name__}.Params must be a dataclass")
    REGISTRY[cls.name] = cls
    return cls


def available_methods() -> list[str]:
    """Names of the registered methods, in registration order."""
    return list(REGISTRY)


def get_method(name: str) -> type[UnlearningMethod]:
    """The registered method class called ``name``; an unknown name is a ConfigError."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown method {name!r} (methods: {', '.join(REGISTRY)})", field="method") from None


class _Labels(Mapping):
    """``name -> label`` of the registered methods, read live from the registry."""

    def __getitem__(self, name: str) -> str:
        return REGISTRY[name].label

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))


METHOD_LABELS: Mapping[str, str] = _Labels()


def method_params_section(methods: Iterable[type[UnlearningMethod]], name: str = "MethodParams") -> type:
    """One dataclass holding every parameter of ``methods``' ``Params``, each once.

    A parameter several methods read (``beta``) must be declared identically by each (the
    shared ``*_option()`` declarations above); its help then says which methods use it.
    This is the run settings' ``method_params`` section: one flag per parameter
    (``--beta``), while each method still receives only its own ``Params``.
    """
    found: dict[str, tuple[Any, dataclasses.Field, list[str]]] = {}
    for method in methods:
        hints = typing.get_type_hints(method.Params)
        for f in dataclasses.fields(method.Params):
            key = f.metadata.get("setting", f.name)
            if key in found:
                _, seen, users = found[key]
                same = seen.default == f.default and {k: v for k, v in seen.metadata.items() if k != "setting"} == {
                    k: v for k, v in f.metadata.items() if k != "setting"
                }
                if not same:
                    raise TypeError(
                        f"{method.__name__}.Params declares {key!r} differently from {', '.join(users)}; "
                        "share one declaration (see methods/base.py)"
                    )
                users.append(method.label)
            else:
                found[key] = (hints[f.name], f, [method.label])
    fields = []
    for key, (annotation, f, users) in found.items():
        metadata = dict(f.metadata)
        metadata.pop("setting", None)
        metadata["help"] = f"{metadata.get('help', '').rstrip()} Used by {', '.join(users)}.".strip()
        fields.append((key, annotation, dataclasses.field(default=f.default, metadata=metadata)))
    section = dataclasses.make_dataclass(name, fields)
    section.__module__ = "reliant.unlearning.config"
    section.__doc__ = "Every registered method's own parameters, each once (a method reads only its own)."
    return section
