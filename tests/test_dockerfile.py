"""The Dockerfile says what the emulator accepts and what .ci/run proves.

No Docker daemon runs here, so the image is never built. Instead its instructions are read:
its CMD and HEALTHCHECK are parsed by the emulator's own command line (a renamed flag fails
this test), the CMD's settings are those the README promises (every address, the token from
the environment, no open control API unasked), the two commands are run together against
this checkout, the files its install needs are the ones it copies, and its install command
is the one .ci/run carries out in a virtual environment of its own, next to the CMD and the
HEALTHCHECK, word for word.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from emulator import cli, guard, remote
from emulator.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "image-token-0123456789"
BOUND = 30.0


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, its arguments) in order: comments dropped, continued lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def only(keyword: str) -> str:
    [arguments] = [rest for key, rest in instructions() if key == keyword]
    return arguments


def exec_form(arguments: str) -> list[str]:
    """A CMD in exec form (a JSON array, no shell between Docker and the emulator)."""
    words = json.loads(arguments)
    assert isinstance(words, list) and all(isinstance(w, str) for w in words), arguments
    return words


def command() -> list[str]:
    return exec_form(only("CMD"))


def healthcheck() -> list[str]:
    options, _, rest = only("HEALTHCHECK").partition("CMD ")
    assert all(o.startswith("--") for o in options.split()), options
    return exec_form(rest)


def install() -> list[str]:
    """The RUN that installs the emulator, as words."""
    [words] = [shlex.split(rest) for key, rest in instructions() if key == "RUN" and "pip" in rest]
    return words


def serve_settings(words: list[str], environ: dict[str, str]) -> Settings:
    """What `seqr-emulator <words>` would serve, read by the emulator's own parser."""
    args = cli._parser().parse_args(words[1:])
    assert args.command == "serve"
    old = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(environ)
        return cli.settings_from(args)
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_the_commands_are_the_installed_script():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command()[0] in scripts and healthcheck()[0] in scripts
    assert not [key for key, _ in instructions() if key == "ENTRYPOINT"]  # CMD says it all


def test_the_cmd_is_accepted_by_the_emulators_parser_and_closed_by_the_token():
    words = command()
    settings = serve_settings(words, {"SEQR_EMULATOR_CONTROL_TOKEN": TOKEN})
    assert settings.host == "0.0.0.0" and settings.control_token == TOKEN
    assert guard.exposure(settings) is None  # closed: the token is asked for
    with pytest.raises(SettingsError, match="--control-token"):
        guard.exposure(serve_settings(words, {}))  # no token, no open control: no start
    opened = serve_settings(words, {"SEQR_EMULATOR_OPEN_CONTROL": "true"})
    assert "answer anyone" in (guard.exposure(opened) or "")


def test_the_exposed_port_is_the_one_served_and_asked():
    [port] = only("EXPOSE").split()
    settings = serve_settings(command(), {"SEQR_EMULATOR_CONTROL_TOKEN": TOKEN})
    assert settings.port == int(port) == Settings().port
    assert f"http://127.0.0.1:{port}" == remote.DEFAULT_URL  # where wait-ready asks


def test_the_healthcheck_is_accepted_by_the_emulators_parser():
    args = cli._parser().parse_args(healthcheck()[1:])
    assert args.command == "wait-ready" and args.url is None and 0 < args.timeout < 5


def test_the_install_copies_what_it_needs():
    """`pip install .` reads pyproject.toml, its readme, the package and the data files."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied: set[str] = set()
    for key, rest in instructions():
        if key == "COPY":
            copied.update(part.rstrip("/") for part in rest.split()[:-1])
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed.update(project["tool"]["setuptools"]["packages"]["find"]["include"][0].split("*")[:1])
    for sources in project["tool"]["setuptools"]["data-files"].values():
        needed.update(source.split("/")[0] for source in sources)
    assert needed <= copied, needed - copied
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert "*" in ignore and copied <= kept, copied - kept  # the context holds what is copied
    assert install()[:2] == ["pip", "install"] and install()[-1] == "."


def ci_lines() -> list[list[str]]:
    """.ci/run's lines as words; a line that is no whole command by itself is left out."""
    lines = []
    for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        try:
            lines.append(shlex.split(line, comments=True))
        except ValueError:  # a line that goes on in the next one
            continue
    return lines


def contains(line: list[str], words: list[str]) -> bool:
    return any(line[i : i + len(words)] == words for i in range(len(line) - len(words) + 1))


def test_ci_carries_out_the_same_install_cmd_and_healthcheck():
    lines = ci_lines()
    pip, *arguments = install()
    assert any(line and line[0].endswith("/" + pip) and line[1:] == arguments for line in lines), (
        f"no `<venv>/{pip} {' '.join(arguments)}` in .ci/run"
    )
    assert any(contains(line, command()) for line in lines), command()
    assert any(contains(line, healthcheck()) for line in lines), healthcheck()
    assert ["step", "the Dockerfile's commands", "image"] in lines


def test_the_cmd_serves_and_the_healthcheck_says_so(tmp_path):
    """The two commands together, on a free port (the image leaves it at 8090): the CMD's
    emulator answers the HEALTHCHECK, and a control call with the token."""
    environ = {
        **os.environ,
        "SEQR_EMULATOR_CONTROL_TOKEN": TOKEN,
        "SEQR_EMULATOR_PORT": "0",
        "PYTHONPATH": str(ROOT),
    }
    module = [sys.executable, "-m", "emulator"]
    proc = subprocess.Popen(
        [*module, *command()[1:]],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://0.0.0.0:"), line
        environ["SEQR_EMULATOR_URL"] = "http://127.0.0.1:" + line.rsplit(":", 1)[1].strip()
        checked = subprocess.run(
            [*module, *healthcheck()[1:]], env=environ, capture_output=True, timeout=BOUND
        )
        assert checked.returncode == 0, checked.stderr
        listed = subprocess.run(
            [*module, "invoices"], env=environ, capture_output=True, timeout=BOUND
        )
        assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
        environ.pop("SEQR_EMULATOR_CONTROL_TOKEN")
        refused = subprocess.run(
            [*module, "invoices"], env=environ, capture_output=True, timeout=BOUND
        )
        assert refused.returncode == 1 and b"401" in refused.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=BOUND)


def test_the_readmes_docker_run_gives_what_the_image_asks():
    """The README's `docker run` publishes the exposed port and gives the token by the
    variable `serve` reads, with a value the token's rule accepts."""
    from tests.test_readme import blocks

    [shell] = blocks("### In a container", "sh")
    [run] = [shlex.split(line) for line in shell.splitlines() if line.startswith("docker run")]
    [port] = only("EXPOSE").split()
    assert f"127.0.0.1:{port}:{port}" in run
    given = run[run.index("-e") + 1]
    name, _, value = given.partition("=")
    assert name == "SEQR_EMULATOR_CONTROL_TOKEN" and value == "$(openssl rand -hex 16)"
    Settings(control_token="0123456789abcdef" * 2)  # what `openssl rand -hex 16` prints: 32
