"""RMU, Representation Misdirection for Unlearning (Li et al., 2024, "The WMDP Benchmark:
Measuring and Reducing Malicious Use with Unlearning", Sec. 5; OpenUnlearning
``src/trainer/unlearn/rmu.py``, ``configs/trainer/RMU.yaml``).

At one decoder layer, the hidden states of forget answer tokens are pushed towards a fixed
random direction ``c * u`` (``u`` uniform in [0, 1)^d, normalised; ``c`` the steering
coefficient) and those of retain answer tokens are held at the frozen original model's:

``L = gamma * MSE(h_theta(forget), c u) + alpha * MSE(h_theta(retain), h_orig(retain))``

with :func:`reliant.unlearning.losses.rmu_activation_loss`. Published defaults
(OpenUnlearning's YAML, for 32-layer 7-8B models): layer 7, steering coefficient 2,
gamma = alpha = 1, every parameter trainable. A model with at most 7 decoder layers uses its
middle layer instead (``rmu_layer`` beyond the depth cannot be honoured; the step parts
record the layer used).
"""

from __future__ import annotations

from dataclasses import dataclass

from reliant.unlearning.methods.base import (
    ForgetRetainWeights,
    SetupEnv,
    StepContext,
    UnlearningMethod,
    losses,
    own_option,
    register,
    torch_lazy,
)


@dataclass
class RMUParams(ForgetRetainWeights):
    layer: int = own_option("rmu_layer", 7, "Decoder layer RMU steers (OpenUnlearning: 7; a shallower model uses "
                            "its middle layer).", min=0)
    steering: float = own_option("rmu_steering", 2.0, "RMU's steering coefficient c (OpenUnlearning RMU.yaml: 2).", gt=0)


def decoder_layers(model):
    """The model's list of decoder blocks: the longest ``ModuleList`` in it (Llama's
    ``model.layers``, GPT-2's ``transformer.h``; found the same way through LoRA wrappers)."""
    import torch

    lists = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
    if not lists:
        raise ValueError("RMU needs a model with a list of decoder layers")
    return max(lists, key=len)


class _Capture:
    """Forward hook keeping a module's output hidden states."""

    def __init__(self, module) -> None:
        self.output = None
        self.handle = module.register_forward_hook(self)

    def __call__(self, module, inputs, output) -> None:
        self.output = output[0] if isinstance(output, tuple) else output


@register
class RMU(UnlearningMethod):
    name = "rmu"
    label = "RMU"
    needs = frozenset({"retain", "reference"})
    summary = "steers one layer's forget activations to a random direction, keeps retain activations"
    Params = RMUParams
    holds_reference_copy = True  # the original model's activations on fresh retain batches
    uses_every_parameter = False  # layers above the steered one get no gradient from the forget term

    def setup(self, env: SetupEnv) -> None:
        super().setup(env)
        layers = decoder_layers(env.model)
        self.layer_used = self.params.layer if self.params.layer < len(layers) else len(layers) // 2
        self.policy_capture = _Capture(layers[self.layer_used])
        self.reference_capture = _Capture(decoder_layers(self.reference_model)[self.layer_used])
        hidden = self._hidden_size(env)
        generator = torch_lazy.Generator().manual_seed(env.seed)
        direction = torch_lazy.rand(1, 1, hidden, generator=generator)
        self.control = direction / direction.norm() * self.params.steering

    def teardown(self) -> None:
        # The hooks would otherwise stay on the user's model after training.
        for capture in (getattr(self, "policy_capture", None), getattr(self, "reference_capture", None)):
            if capture is not None:
                capture.handle.remove()
                capture.output = None
        super().teardown()

    def _hidden_size(self, env: SetupEnv) -> int:
        config = getattr(env.model, "config", None)
        size = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None)
        if not size:
            raise ValueError("RMU needs the model's hidden size (config.hidden_size)")
        return int(size)

    def loss(self, ctx: StepContext):
        _, forget = ctx.forget_logits()
        forget_acts = self.policy_capture.output
        control = self.control.to(device=forget_acts.device, dtype=forget_acts.dtype)
        forget_loss = losses.rmu_activation_loss(forget_acts, control, forget["labels"] != -100)
        retain = ctx.batch(ctx.retain_pairs())
        ctx.logits(retain)
        retain_acts = self.policy_capture.output
        self.reference_logits(retain)  # fills reference_capture
        retain_loss = losses.rmu_activation_loss(retain_acts, self.reference_capture.output, retain["labels"] != -100)
        loss, parts = self.objective(ctx, forget_loss, retain_loss)
        parts["layer"] = float(self.layer_used)
        return loss, parts
