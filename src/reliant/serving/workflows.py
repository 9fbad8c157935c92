"""The server process behind ``reliant serve``: ``transformers serve`` on a resolved model.

``transformers serve`` (transformers 5) is an OpenAI-compatible FastAPI server with
``/v1/chat/completions``, ``/v1/completions`` and ``/v1/models``. It is pinned to one model
(``force_model``) and answers only requests that name that model, so the model's folder is
offered to it through a symbolic link named as the user typed the model (``smollm2``), in a
private folder that is the server's working directory: requests then say ``"model":
"smollm2"`` and a spec reads ``openai:smollm2@http://127.0.0.1:8000/v1``.

What it does not do (transformers 5.24): ``logprobs``/``echo`` on ``/v1/completions`` are
ignored and ``max_tokens=0`` is an HTTP 500, so
:meth:`reliant.core.llm.OpenAICompatibleBackend.logprobs` cannot score text on it; ``n > 1``
is ignored (one choice comes back). vLLM, llama.cpp's ``llama-server`` and Ollama are the
production servers for the same spec (see the README).

Nothing heavy is imported here at import time; the model is resolved (and SmolLM2's cached
copy built) when a server starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from reliant.core.errors import UserError
from reliant.serving.config import ServeConfig

__all__ = ["Server", "free_port", "run_serve", "running_server", "server_command", "start_server"]

SERVING_INSTALL = "pip install fastapi uvicorn openai"
_LINK_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port (0 picks a free one)",
                field="port",
            ) from None


def _check_serving_installed() -> None:
    missing = [name for name in ("fastapi", "uvicorn", "openai") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"reliant serve needs {', '.join(missing)} (transformers' server): {SERVING_INSTALL}")


@dataclass
class Server:
    """A running ``transformers serve`` process and how to reach it."""

    process: subprocess.Popen
    name: str
    host: str
    port: int
    workdir: Path
    log_path: Path | None = None
    _log: IO[Any] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:8000/v1``."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/v1"

    @property
    def spec(self) -> str:
        """The backend spec that reaches this server (``openai:<name>@<base_url>``)."""
        return f"openai:{self.name}@{self.base_url}"

    def _log_tail(self, lines: int = 1) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        text = [line.strip() for line in self.log_path.read_text(errors="replace").splitlines() if line.strip()]
        return " / ".join(text[-lines:])

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Poll ``/v1/models`` until the server answers; return the seconds it took.

        Raises:
            UserError: the process exited, or it did not answer within ``timeout`` seconds.
        """
        import httpx  # deliberately lazy: heavy import (start-up time)

        started = time.monotonic()
        while True:
            code = self.process.poll()
            if code is not None:
                tail = self._log_tail()
                raise UserError(f"the model server exited with code {code} before it was ready" + (f": {tail}" if tail else ""))
            try:
                reply = httpx.get(f"{self.base_url}/models", timeout=5.0)
                if reply.status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout:
                self.stop()
                raise UserError(f"the model server did not answer {self.base_url}/models within {timeout:g} s")
            time.sleep(0.5)

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``grace`` seconds) and tidy up."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self.workdir, ignore_errors=True)


def _served_source(model: str) -> tuple[str, str]:
    """``(name requests use, what transformers serve loads)`` for a model name."""
    from reliant.core.models import resolve_model_source  # deliberately lazy: imports torch

    source, local = resolve_model_source(model)
    if not local:  # a Hugging Face id the server downloads itself; requests name it as given
        return model, model
    return model.strip(), source


def server_command(served: str, config: ServeConfig, port: int) -> list[str]:
    """The ``transformers serve`` command line (run in the server's working folder)."""
    command = [
        sys.executable, "-m", "transformers.cli.transformers", "serve", served,
        "--host", config.host, "--port", str(port), "--device", config.device,
        "--log-level", "warning", "--default-seed", str(config.seed),
    ]
    return command


def start_server(config: ServeConfig, *, log: Path | None = None, quiet: bool = False) -> Server:
    """Resolve the model (building SmolLM2's cached copy on first use) and start the server.

    The server's output goes to ``log``, or with ``quiet`` to a log file in its working
    folder (removed by :meth:`Server.stop`), otherwise to this process's stdout/stderr.
    Returns at once; call :meth:`Server.wait_ready`.
    """
    from reliant.core.tiny_lm import cache_root  # deliberately lazy: imports torch

    _check_serving_installed()
    port = config.port or free_port(config.host)
    _check_port(config.host, port)
    name, source = _served_source(config.model)
    root = cache_root() / "serve"
    root.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="server-", dir=root))
    served = source
    if os.path.isdir(source) and set(name) <= _LINK_SAFE and not os.path.isdir(name):
        # The server names the model by the path it was given: a link named as the user
        # typed the model makes requests for "smollm2" match it.
        try:
            (workdir / name).symlink_to(Path(source).resolve(), target_is_directory=True)
            served = name
        except OSError:  # no symlinks here (some Windows set-ups): serve it by its path
            name = served = source
    elif os.path.isdir(source):
        name = served = source
    if log is None and quiet:
        log = workdir / "server.log"
    handle = open(log, "ab") if log is not None else None  # noqa: SIM115 - closed by Server.stop
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        process = subprocess.Popen(
            server_command(served, config, port), cwd=workdir, env=env,
            stdout=handle, stderr=subprocess.STDOUT if handle is not None else None,
        )
    except BaseException:
        if handle is not None:
            handle.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Server(process, name, config.host, port, workdir, log, handle)


@contextlib.contextmanager
def running_server(
    model: str = "smollm2", *, host: str = "127.0.0.1", port: int = 0, device: str = "auto",
    seed: int = 0, timeout: float = 300.0, log: Path | None = None,
) -> Iterator[Server]:
    """A server on ``host`` (a free port by default), ready when the block starts and
    stopped when it ends. Its output goes to ``log`` (default: a file in its working folder,
    whose last line a start-up failure quotes)."""
    config = ServeConfig(model=model, host=host, port=port, device=device, seed=seed)
    server = start_server(config, log=log, quiet=True)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()


def run_serve(config: ServeConfig) -> list[str]:
    """``reliant serve``: start the server, say where it listens, serve until Ctrl-C."""
    from reliant.core.progress import note

    server = start_server(config)
    try:
        note(f"reliant serve: starting transformers serve for '{server.name}' on {server.base_url} ...")
        seconds = server.wait_ready(timeout=600.0)
        note(f"reliant serve: ready after {seconds:.0f} s; use --<role> {server.spec} (Ctrl-C stops it)")
        code = server.process.wait()
    except KeyboardInterrupt:
        server.process.send_signal(signal.SIGINT)
        code = 0
    finally:
        server.stop()
    if code not in (0, -signal.SIGINT, -signal.SIGTERM):
        raise UserError(f"the model server stopped with exit code {code}")
    return [f"server for '{server.name}' on {server.base_url} stopped"]
