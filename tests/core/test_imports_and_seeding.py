"""The shared services stay cheap to import and free of import cycles, and seeding keeps runs
deterministic without the cost of ``torch.use_deterministic_algorithms``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
# The modules this test guards: the root CLI, the demo, discovery and every shared service.
GUARDED = ("reliant.cli", "reliant.demo", "reliant.capabilities", "reliant.core")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every reliant module ``path`` imports, at the top or inside a function."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("reliant")}


def test_no_import_cycles_among_the_shared_modules():
    modules = {_module_name(p): p for p in (SRC / "reliant").rglob("*.py")}
    guarded = {m for m in modules if m.startswith(GUARDED)}
    graph = {m: {i for i in _imports(modules[m], m) if i in guarded and i != m} for m in guarded}
    # A package's __init__ re-exporting its own submodules is not a cycle of concepts.
    graph = {m: {i for i in deps if not (i.startswith(m + ".") or m.startswith(i + "."))} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_set_seed_enables_deterministic_kernels_without_importing_inductor():
    code = (
        "import sys, torch\n"
        "from reliant.core.seeding import set_seed\n"
        "set_seed(3)\n"
        "a = torch.rand(3)\n"
        "set_seed(3)\n"
        "assert torch.equal(a, torch.rand(3))\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert torch.is_deterministic_algorithms_warn_only_enabled()\n"
        "print('inductor' if 'torch._inductor' in sys.modules else 'light')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "light"


def test_plotting_draws_headless_png():
    from reliant.core.plotting import PALETTE, figure_png, new_figure

    fig, ax = new_figure(3, 2)
    ax.plot([0, 1], [1, 0], color=PALETTE[0])
    png = figure_png(fig)
    assert png.startswith(b"\x89PNG")


def test_models_re_exports_the_qa_token_format():
    from reliant.core import models, prompts

    for name in ("IGNORE_INDEX", "build_qa_batch", "encode_prompt_answer", "join_prompt_answer", "pad_encoded"):
        assert getattr(models, name) is getattr(prompts, name)
    from reliant.core import progress

    assert models.quiet_transformers is progress.quiet_transformers
