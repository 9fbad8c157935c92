"""Serving a model over an OpenAI-compatible HTTP API: the names Python users import.

Examples:
    >>> from reliant.serving.api import running_server          # doctest: +SKIP
    >>> from reliant.core.llm import make_backend                # doctest: +SKIP
    >>> with running_server("smollm2") as server:                # doctest: +SKIP
    ...     llm = make_backend(server.spec)                      # openai:smollm2@http://127.0.0.1:PORT/v1
    ...     llm.chat([[{"role": "user", "content": "What is the capital of France?"}]])
"""

from __future__ import annotations

from reliant.serving.config import ServeConfig
from reliant.serving.workflows import Server, free_port, run_serve, running_server, server_command, start_server

__all__ = [
    "ServeConfig",
    "Server",
    "free_port",
    "run_serve",
    "running_server",
    "server_command",
    "start_server",
]
