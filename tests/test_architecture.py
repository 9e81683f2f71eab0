"""The dependency arrows point inward: the domain core imports the standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import emulator

PACKAGE = Path(emulator.__file__).parent
CORE = ["domain", "backend", "scenario", "clock.py", "settings.py", "journal.py"]


def _core_modules() -> list[Path]:
    found: list[Path] = []
    for entry in CORE:
        path = PACKAGE / entry
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_core_imports_only_stdlib_and_core(path):
    allowed_own = (
        "emulator.domain",
        "emulator.clock",
        "emulator.settings",
        "emulator.backend",
        "emulator.scenario",
        "emulator.journal",
    )
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "emulator":
            assert name.startswith(allowed_own), f"{path.name} imports adapter {name}"
        else:
            assert top in sys.stdlib_module_names or top == "__future__", (
                f"{path.name} imports {name}"
            )


def test_every_module_says_what_it_owns():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.relative_to(PACKAGE)} has no module docstring"
