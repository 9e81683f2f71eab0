"""Scenario files with mistakes are refused at load: one line naming the file, the step, the why.

Unknown keys are errors, never ignored, in files, in inline scenarios given to the control
API, and at `seqr-emulator serve --scenario FILE`, which then exits with status 2.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from emulator.scenario import ScenarioError, UnknownScenario, load_catalogue, load_file, resolve
from emulator.scenario.loader import default_directory, from_mapping
from emulator.scenario.model import Action, Trigger
from tests.shop import Control

GOOD_STEP = '[[steps]]\nwhen = "now"\ndo = "pay"\n'

FAULTY = [
    # (file content, step named in the message or None, words the reason must contain)
    ('description = "x"\nsteps = []\ncolour = "red"\n', None, "unknown key 'colour'"),
    ("steps = []\n", None, "description is required"),
    ('description = "x"\nseed = "7"\n', None, "seed must be a whole number"),
    ('description = "x"\n[[steps]]\ndo = "pay"\n', 1, "when is required"),
    (f'description = "x"\n{GOOD_STEP}[[steps]]\nwhen = "now"\ndoo = "pay"\n', 2, "'doo'"),
    ('description = "x"\n[[steps]]\nwhen = "soon"\n', 1, "unknown when 'soon'"),
    ('description = "x"\n[[steps]]\nwhen = "polls"\ndo = "pay"\n', 1, "needs polls"),
    ('description = "x"\n[[steps]]\nwhen = "now"\npolls = 2\n', 1, "polls only goes with"),
    ('description = "x"\n[[steps]]\nwhen = "polls"\npolls = 0\n', 1, "at least 1"),
    ('description = "x"\n[[steps]]\nwhen = "polls"\npolls = true\n', 1, "whole number"),
    ('description = "x"\n[[steps]]\nwhen = "after"\nseconds = -1\n', 1, "seconds must be"),
    ('description = "x"\n[[steps]]\nwhen = "operation"\noperation = "pay"\n', 1, "operation 'pay'"),
    ('description = "x"\n[[steps]]\nwhen = "now"\ndo = "dance"\n', 1, "unknown do 'dance'"),
    ('description = "x"\n[[steps]]\nwhen = "now"\ndo = "fault"\n', 1, 'needs when = "operation"'),
    (
        'description = "x"\n[[steps]]\nwhen = "operation"\noperation = "cancelInvoice"\n'
        'do = "answer"\n',
        1,
        "needs result_code",
    ),
    (
        'description = "x"\n[[steps]]\nwhen = "operation"\noperation = "cancelInvoice"\n'
        'do = "answer"\nresult_code = 1000\n',
        1,
        "between 1 and 999",
    ),
    ('description = "x"\n[[steps]]\nwhen = "now"\ndo = "pay"\ntimes = 2\n', 1, "times only"),
    ('description = "x"\n[[steps]]\nwhen = "now"\ndo = "pay"\nresult_code = 90\n', 1, "answer"),
    (
        'description = "x"\n[[steps]]\nwhen = "operation"\noperation = "getPaymentStatus"\n'
        'do = "reset"\nnotification = "drop"\n',
        1,
        "causes no notification",
    ),
    ('description = "x"\n[[steps]]\nwhen = "now"\nnotification = "duplicate"\n', 1, "copies"),
    (
        'description = "x"\n[[steps]]\nwhen = "now"\nnotification = "duplicate"\ncopies = 1\n',
        1,
        "at least 2",
    ),
    ('description = "x"\n[[steps]]\nwhen = "now"\nnotification = "lost"\n', 1, "'lost'"),
    ('description = "x"\n[[steps]]\nwhen = "now"\nprobability = 1.5\n', 1, "probability"),
    ('description = "x"\n[[steps]]\nwhen = "now"\ndo = "present-token"\n', 1, "needs tokens"),
    (
        'description = "x"\n[[steps]]\nwhen = "now"\ndo = "present-token"\n'
        'tokens = [{ id = "X_CARD", number = "4711" }]\n',
        1,
        "unknown key 'number' in token 1",
    ),
    ('description = "x"\n[[steps]]\nwhen = "now"\ndo = "scan"\nfault_code = "soap"\n', 1, "fault"),
]


@pytest.mark.parametrize(("content", "step", "reason"), FAULTY)
def test_a_faulty_file_is_refused_in_one_line_naming_file_and_step(tmp_path, content, step, reason):
    path = tmp_path / "broken.toml"
    path.write_text(content)
    with pytest.raises(ScenarioError) as raised:
        load_file(path)
    message = str(raised.value)
    assert "\n" not in message
    where = f"{path}: step {step}: " if step else f"{path}: "
    assert message.startswith(where), message
    assert reason in message, message
    assert raised.value.step == step


def test_toml_syntax_errors_name_the_file_and_the_line(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('description = "x"\n[[steps]\nwhen = "now"\n')
    with pytest.raises(ScenarioError) as raised:
        load_file(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: not TOML") and "line 2" in message
    assert "\n" not in message


def test_a_good_file_becomes_typed_steps(tmp_path):
    path = tmp_path / "refund-twice.toml"
    path.write_text(
        'description = """Pays, then\n   refunds fail."""\nseed = 3\n'
        f"{GOOD_STEP}"
        '[[steps]]\nwhen = "operation"\noperation = "refundPayment"\ndo = "answer"\n'
        "result_code = 97\ntimes = 2\nprobability = 0.5\n"
    )
    loaded = load_file(path)
    assert (loaded.name, loaded.description, loaded.seed) == (
        "refund-twice",
        "Pays, then refunds fail.",
        3,
    )
    first, second = loaded.steps
    assert (first.number, first.when, first.do) == (1, Trigger.NOW, Action.PAY)
    assert (second.number, second.operation, second.result_code) == (2, "refundPayment", 97)
    assert (second.times, second.probability) == (2, 0.5)


def test_inline_scenarios_are_held_to_the_same_rules():
    with pytest.raises(ScenarioError) as raised:
        from_mapping(
            {"description": "x", "steps": [{"when": "now", "pay": True}]}, "inline", "inline"
        )
    assert str(raised.value) == "inline: step 1: unknown key 'pay'"
    with pytest.raises(ScenarioError, match="must be a table"):
        from_mapping(["not", "a", "table"], "inline", "inline")


def test_the_shipped_catalogue_loads_and_every_entry_says_what_it_is_for():
    catalogue = load_catalogue()
    required = {
        "pay", "cancel", "fail", "drop-notification", "pay-after-polls", "slow-payer",
        "delay-notification", "duplicate-notification", "late-notification",
        "merchant-endpoint-error", "reservation-commit", "reservation-timeout",
        "loyalty-acknowledge", "unacknowledged-reversal", "refund-rejected", "system-error",
        "service-unavailable", "soap-fault", "connection-reset", "slow-response",
    }  # fmt: skip
    assert required <= set(catalogue)
    assert all(len(s.description) > 20 for s in catalogue.values())
    assert default_directory().name == "scenarios"


def test_one_faulty_file_refuses_the_catalogue_and_names_itself(tmp_path):
    (tmp_path / "good.toml").write_text(f'description = "fine"\n{GOOD_STEP}')
    (tmp_path / "bad.toml").write_text('description = "x"\n[[steps]]\nwhen = "never"\n')
    with pytest.raises(ScenarioError, match=r"bad\.toml: step 1: unknown when 'never'"):
        load_catalogue(tmp_path)
    with pytest.raises(ScenarioError, match="no such folder"):
        load_catalogue(tmp_path / "missing")


def test_resolve_reads_a_path_or_looks_a_name_up(tmp_path):
    catalogue = load_catalogue()
    assert resolve("pay", catalogue) is catalogue["pay"]
    path = tmp_path / "mine.toml"
    path.write_text(f'description = "mine"\n{GOOD_STEP}')
    assert resolve(str(path), catalogue).name == "mine"
    with pytest.raises(UnknownScenario, match="no scenario named 'pya'"):
        resolve("pya", catalogue)


# --- where people meet the errors: serve, the scenarios listing, the control API ----------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "emulator", *args], capture_output=True, text=True, timeout=30
    )


def test_serve_with_a_faulty_scenario_file_exits_2_with_one_line(tmp_path):
    path = tmp_path / "oops.toml"
    path.write_text('description = "x"\n[[steps]]\nwhen = "now"\ndo = "pay"\nretries = 3\n')
    done = _cli("serve", "--port", "0", "--scenario", str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"seqr-emulator: {path}: step 1: unknown key 'retries'\n"


def test_serve_with_an_unknown_name_or_a_faulty_catalogue_exits_2(tmp_path):
    unknown = _cli("serve", "--port", "0", "--scenario", "pya")
    assert unknown.returncode == 2 and "no scenario named 'pya'" in unknown.stderr
    (tmp_path / "x.toml").write_text("steps = []\n")
    listing = _cli("scenarios", "--scenario-dir", str(tmp_path))
    assert listing.returncode == 2
    assert (
        listing.stderr.strip()
        == f"seqr-emulator: {tmp_path / 'x.toml'}: description is required (a non-empty string)"
    )


def test_the_control_api_refuses_a_faulty_inline_scenario_with_400(emulator):
    control = Control(emulator.url)
    bad = {"description": "x", "steps": [{"when": "now", "do": "pay", "notifcation": "drop"}]}
    status, body = control.request("PUT", "/terminals/t-1/scenario", {"inline": bad})
    assert (status, body) == (400, {"error": "inline: step 1: unknown key 'notifcation'"})
    status, body = control.request("PUT", "/scenario", {"name": "pya"})
    assert status == 404 and "no scenario named 'pya'" in body["error"]
    status, body = control.request("PUT", "/scenario", {"name": "pay", "inline": bad})
    assert status == 400
    assert control.ok("GET", "/terminals/t-1/scenario")["scenario"] is None
