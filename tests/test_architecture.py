"""The dependency arrows point inward, checked by rule on every module's imports.

- The core (the domain, the scenario engine, the backend, the clock, the settings, the
  journal) imports the standard library and other core modules only.
- The adapters do not reach into each other: the SOAP adapter imports none of the web
  adapters, the web adapters and their helpers import nothing of the SOAP adapter, and the
  web adapters import each other only where `ALLOWED` says so.
- Only the wiring (app, server, cli, the package itself) may import the wiring.

The rules are by package and module name, so a module added to a core package (the backend
is being split) is held to them without changes here. `wrong_way_imports` checks one
module's source text, so the tests below can plant an import and see it reported.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import emulator

PACKAGE = Path(emulator.__file__).parent
ROOT = PACKAGE.parent

CORE = (
    "emulator.domain",
    "emulator.scenario",
    "emulator.backend",
    "emulator.clock",
    "emulator.settings",
    "emulator.journal",
    "emulator.verification",
)
SOAP = "emulator.soap"
WEB = (
    "emulator.control",
    "emulator.app_api",
    "emulator.journal_api",
    "emulator.verification_api",
    "emulator.dashboard",
    "emulator.notifier",
)
# what the web adapters show (JSON views, QR images) and who may ask (the guard)
HELPERS = ("emulator.views", "emulator.qr", "emulator.guard")
WIRING = (
    "emulator.app",
    "emulator.server",
    "emulator.cli",
    "emulator.certify_cli",
    "emulator.pytest_plugin",
    "emulator.__main__",
    "emulator",
)

# Web adapters that may import another one, by design:
ALLOWED = {
    # the dashboard serves its page and events under the control API's PREFIX
    ("emulator.dashboard", "emulator.control"),
    # the app's API shares the control API's JSON request and route helpers
    ("emulator.app_api", "emulator.control"),
    # so do the journal's routes
    ("emulator.journal_api", "emulator.control"),
    # and the journal's verification
    ("emulator.verification_api", "emulator.control"),
}

# Imports that break a rule in the tree today, until their owner removes them. Not an
# allowance: the test of such a module still fails on any other breach, and fails once the
# listed import is gone, so that the entry is deleted.
KNOWN: dict[str, set[str]] = {}


@dataclass(frozen=True)
class Breach:
    path: str
    line: int
    target: str  # the module imported (or `module.name` for `from module import name`)
    layer: str  # the layer the target belongs to, as `_layer` names it
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.target}: {self.rule}"


def _within(name: str, prefixes: str | tuple[str, ...]) -> str | None:
    """The prefix (a package or module) that `name` is or lies in, if any."""
    for prefix in (prefixes,) if isinstance(prefixes, str) else prefixes:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def _module_name(path: str) -> str:
    """`emulator/soap/codec.py` -> `emulator.soap.codec`; a package's `__init__` -> the package."""
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(name: str) -> str:
    """core, soap, web, helper, wiring, other (a module no rule names), or outside."""
    for layer, prefixes in (
        ("core", CORE),
        ("soap", SOAP),
        ("web", WEB),
        ("helper", HELPERS),
        ("wiring", WIRING[:-1]),
    ):
        if _within(name, prefixes):
            return layer
    if not _within(name, "emulator"):
        return "outside"
    # `emulator.heap` is a module of the package; `emulator.Settings` a name its __init__,
    # which wires everything, exports.
    child = name.split(".")[1] if "." in name else ""
    is_module = child and ((PACKAGE / f"{child}.py").is_file() or (PACKAGE / child).is_dir())
    return "other" if is_module else "wiring"


def _imports(path: str, source: str) -> list[tuple[int, str]]:
    """(line, imported name) for every import anywhere in the module, relative ones resolved."""
    package = _module_name(path)
    if not path.endswith("/__init__.py"):
        package = package.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            found.extend(
                (node.lineno, base if alias.name == "*" else f"{base}.{alias.name}")
                for alias in node.names
            )
    return found


def wrong_way_imports(path: str, source: str) -> list[Breach]:
    """The imports of the module at `path` (relative to the project) that break a rule."""
    importer = _module_name(path)
    layer = _layer(importer)
    found: list[Breach] = []
    for line, target in _imports(path, source):
        top = target.split(".")[0]
        kind = _layer(target)
        rule = None
        if layer == "core":
            if kind == "outside" and top not in sys.stdlib_module_names and top != "__future__":
                rule = "the core imports the standard library only"
            elif kind not in ("core", "outside"):
                rule = f"the core imports no {kind} module"
        elif kind == "wiring" and layer != "wiring":
            rule = "only the wiring imports the wiring"
        elif layer == "soap" and kind == "web":
            rule = "the SOAP adapter imports no web adapter"
        elif layer in ("web", "helper") and kind == "soap":
            rule = "the web adapters and their helpers import nothing of the SOAP adapter"
        elif layer == "helper" and kind == "web":
            rule = "the web adapters' helpers import no web adapter"
        elif layer == "web" and kind == "web":
            own, other = _within(importer, WEB), _within(target, WEB)
            if own != other and (own, other) not in ALLOWED:
                rule = "a web adapter imports another only where ALLOWED says so"
        if rule is not None:
            found.append(Breach(path, line, target, kind, rule))
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", _modules(), ids=_relative)
def test_imports_point_the_right_way(path: Path) -> None:
    name = _relative(path)
    breaches = wrong_way_imports(name, path.read_text())
    known = KNOWN.get(name, set())
    unexpected = [b for b in breaches if not _within(b.target, tuple(known))]
    assert not unexpected, "\n".join(map(str, unexpected))
    still = {k for k in known if any(_within(b.target, k) for b in breaches)}
    assert still == known, f"{name} no longer imports {known - still}: delete it from KNOWN"
    if still:
        pytest.xfail("known wrong-way import: " + "; ".join(map(str, breaches)))


def test_known_breaches_name_modules_of_the_tree() -> None:
    assert {p for p in KNOWN if not (ROOT / p).is_file()} == set()


def test_a_core_module_importing_an_adapter_or_a_library_is_caught() -> None:
    source = "from emulator.soap import codec\nimport aiohttp\n"
    found = wrong_way_imports("emulator/domain/x.py", source)
    assert [(b.line, b.target) for b in found] == [(1, "emulator.soap.codec"), (2, "aiohttp")]
    assert found[0].rule == "the core imports no soap module"
    assert found[1].rule == "the core imports the standard library only"


def test_the_soap_adapter_importing_a_web_adapter_is_caught() -> None:
    [found] = wrong_way_imports("emulator/soap/y.py", "from emulator.control import PREFIX\n")
    assert (found.target, found.rule) == (
        "emulator.control.PREFIX",
        "the SOAP adapter imports no web adapter",
    )


@pytest.mark.parametrize(
    ("path", "source", "target"),
    [
        # a new backend module, a relative import, an import inside a function
        ("emulator/backend/refunds.py", "from ..soap import mapping\n", "emulator.soap.mapping"),
        ("emulator/backend/__init__.py", "from .. import notifier\n", "emulator.notifier"),
        ("emulator/scenario/z.py", "def f():\n    import lxml.etree\n", "lxml.etree"),
        ("emulator/clock.py", "from emulator import Settings\n", "emulator.Settings"),
        ("emulator/journal.py", "import yarl\n", "yarl"),
        ("emulator/settings.py", "from emulator.views import attempt\n", "emulator.views.attempt"),
        ("emulator/domain/y.py", "import emulator.soap.codec as c\n", "emulator.soap.codec"),
        (
            "emulator/soap/codec.py",
            "from emulator.app import FAULT_HEADER\n",
            "emulator.app.FAULT_HEADER",
        ),
        ("emulator/soap/x.py", "from emulator import notifier\n", "emulator.notifier"),
        (
            "emulator/views.py",
            "from emulator.soap.types import NAMESPACE\n",
            "emulator.soap.types.NAMESPACE",
        ),
        ("emulator/qr.py", "from emulator.soap import wsdl\n", "emulator.soap.wsdl"),
        (
            "emulator/control.py",
            "from emulator.dashboard import EventHub\n",
            "emulator.dashboard.EventHub",
        ),
        (
            "emulator/notifier.py",
            "from emulator.control import PREFIX\n",
            "emulator.control.PREFIX",
        ),
        ("emulator/views.py", "from emulator.control import PREFIX\n", "emulator.control.PREFIX"),
        (
            "emulator/dashboard.py",
            "from emulator.server import EmulatorServer\n",
            "emulator.server.EmulatorServer",
        ),
        ("emulator/heap.py", "from emulator.cli import main\n", "emulator.cli.main"),
    ],
)
def test_other_wrong_way_imports_are_caught(path: str, source: str, target: str) -> None:
    assert [b.target for b in wrong_way_imports(path, source)] == [target]


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("emulator/domain/x.py", "from __future__ import annotations\nimport json, re\n"),
        ("emulator/backend/x.py", "from . import core\nfrom emulator.domain import model\n"),
        ("emulator/backend/x.py", "from ..scenario.engine import Engine\n"),
        ("emulator/notifier.py", "import aiohttp\nfrom emulator.backend import Event\n"),
        ("emulator/dashboard.py", "from emulator.control import PREFIX\n"),
        ("emulator/app_api.py", "from emulator.control import read_json\n"),
        ("emulator/control.py", "from emulator import qr\nfrom emulator.views import attempt\n"),
        ("emulator/soap/transport.py", "from emulator.soap import codec\nfrom lxml import etree\n"),
        ("emulator/soap/mapping.py", "from emulator.backend import SeqrBackend\n"),
        ("emulator/app.py", "from emulator.soap import wsdl\nfrom emulator import control\n"),
        ("emulator/server.py", "from emulator.control import BACKEND\n"),
    ],
)
def test_imports_the_rules_allow_are_not_reported(path: str, source: str) -> None:
    assert wrong_way_imports(path, source) == []


def test_every_module_says_what_it_owns():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.relative_to(PACKAGE)} has no module docstring"
