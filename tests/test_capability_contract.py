"""The contract every capability keeps (docs/architecture.md, "Rules that keep it this shape").

* A capability imports another one only through its ``api.py``: no module under
  ``src/reliant/<A>/`` imports ``reliant.<B>.<anything but api>``. Imports are read with
  ``ast`` (function-level and relative imports included), so nothing is executed.
* ``core/`` is shared by everyone and imports no capability.
* Every name in ``reliant.<capability>.api.__all__`` resolves, and the list has no repeats.
* A capability with a ``cli.py`` exposes ``register(app)``; a ``demo_stage`` takes ``(run, seed)``.

Parametrised over the capability table, so a new capability is covered the day it lands.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "reliant"


def _capabilities() -> tuple[str, ...]:
    """The capability names from the capability table (``reliant.capabilities``, or
    ``reliant.cli`` before it moved), else every package folder that has an ``api.py``."""
    for module in ("reliant.capabilities", "reliant.cli"):
        try:
            names = tuple(importlib.import_module(module).CAPABILITIES)
        except (ImportError, AttributeError):
            continue
        return names
    return tuple(sorted(p.parent.name for p in PACKAGE.glob("*/api.py")))


ALL = _capabilities()
LANDED = tuple(name for name in ALL if (PACKAGE / name / "__init__.py").is_file())
WITH_API = tuple(name for name in LANDED if (PACKAGE / name / "api.py").is_file())
WITH_CLI = tuple(name for name in LANDED if (PACKAGE / name / "cli.py").is_file())


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module_name: str | None = None) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import in the file; ``from X import y`` also
    yields ``X.y`` (``y`` may be a submodule). Relative imports are made absolute against
    the file's module name (``module_name`` overrides it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (module_name or _module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names if alias.name != "*")
    return found


def _violations(importer: str, found: list[tuple[int, str]]) -> list[str]:
    """Imports of another capability's modules other than its ``api``."""
    bad = []
    for line, module in found:
        parts = module.split(".")
        if len(parts) < 2 or parts[0] != "reliant" or parts[1] not in ALL or parts[1] == importer:
            continue
        if parts[2:] and parts[2] == "api":
            continue
        if len(parts) == 2:
            continue  # "from reliant import robustness" / the package itself: its api is checked via the X.y entry
        bad.append(f"line {line}: {module}")
    return bad


@pytest.mark.parametrize("capability", LANDED)
def test_imports_other_capabilities_only_through_api(capability):
    problems = []
    for path in sorted((PACKAGE / capability).rglob("*.py")):
        for problem in _violations(capability, _imports(path)):
            problems.append(f"{path.relative_to(PACKAGE.parent)}: {problem}")
    assert not problems, "import another capability only through its api.py:\n" + "\n".join(problems)


def test_core_imports_no_capability():
    problems = []
    for path in sorted((PACKAGE / "core").rglob("*.py")):
        for line, module in _imports(path):
            parts = module.split(".")
            if len(parts) >= 2 and parts[0] == "reliant" and parts[1] in ALL:
                problems.append(f"{path.relative_to(PACKAGE.parent)}: line {line}: {module}")
    assert not problems, "core/ is shared by every capability and must not import one:\n" + "\n".join(problems)


def test_the_import_checker_sees_violations(tmp_path):
    assert _violations("collaboration", [(1, "reliant.robustness.inputs"), (2, "reliant.robustness.api"),
                                         (3, "reliant.robustness.api.DROPS"), (4, "reliant.core.data"),
                                         (5, "reliant.collaboration.votes")]) == ["line 1: reliant.robustness.inputs"]
    sample = tmp_path / "mod.py"
    sample.write_text("def f():\n    from ..robustness import drops\n    from . import votes\n")
    found = _imports(sample, module_name="reliant.collaboration.mod")
    assert _violations("collaboration", found) == ["line 2: reliant.robustness.drops"]
    assert (3, "reliant.collaboration.votes") in found


@pytest.mark.parametrize("capability", WITH_API)
def test_api_all_names_resolve(capability):
    api = importlib.import_module(f"reliant.{capability}.api")
    names = getattr(api, "__all__", None)
    assert names is not None, f"reliant.{capability}.api has no __all__"
    assert len(names) == len(set(names)), f"repeated names in reliant.{capability}.api.__all__"
    missing = [name for name in names if not hasattr(api, name)]
    assert not missing, f"reliant.{capability}.api.__all__ names what it does not define: {missing}"


@pytest.mark.parametrize("capability", WITH_API)
def test_demo_stage_takes_run_and_seed(capability):
    api = importlib.import_module(f"reliant.{capability}.api")
    stage = getattr(api, "demo_stage", None)
    if stage is None:
        pytest.skip(f"{capability} has no demo stage")
    assert list(inspect.signature(stage).parameters)[:2] == ["run", "seed"]


@pytest.mark.parametrize("capability", WITH_CLI)
def test_cli_has_register(capability):
    cli = importlib.import_module(f"reliant.{capability}.cli")
    assert callable(getattr(cli, "register", None)), f"reliant.{capability}.cli has no register(app)"
