"""Serving a model over an OpenAI-compatible HTTP API on this machine (``reliant serve``).

A thin wrapper around an existing server, ``transformers serve``: the model name
(``smollm2``, ``tiny``, a Hugging Face id or a local folder) is resolved to its local folder
(built and cached on first use), and the server is started on it under that name, so any
``--<role> openai:<name>@http://127.0.0.1:<port>/v1`` spec reaches it. Import from
:mod:`reliant.serving.api`. Inside: ``config`` (the command's options), ``workflows`` (the
server process: command line, start, readiness wait, stop) and ``cli`` (``reliant serve``).
"""
