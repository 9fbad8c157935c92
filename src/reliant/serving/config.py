"""Options of ``reliant serve``, declared once (imports nothing heavy: ``--help`` stays fast)."""

from __future__ import annotations

from dataclasses import dataclass

from reliant.core.config import option, seed_option


@dataclass
class ServeConfig:
    """Serve a model over an OpenAI-compatible HTTP API (transformers serve) until Ctrl-C; writes no run folder."""

    model: str = option(
        "smollm2",
        "Model to serve: smollm2 (the packaged SmolLM2-135M-Instruct), tiny, tiny:<name>, a Hugging Face "
        "id or a local folder. Requests name it as given (openai:smollm2@http://HOST:PORT/v1).",
    )
    host: str = option("127.0.0.1", "Address to listen on; 127.0.0.1 serves this machine only.")
    port: int = option(8000, "Port to listen on; 0 picks a free one.", min=0, max=65535)
    device: str = option("auto", "Device the server runs the model on: auto, cpu, cuda, cuda:N or mps.")
    seed: int = seed_option()
