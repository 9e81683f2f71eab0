"""`seqr-emulator serve` as a merchant starts it: one ready line, a clean stop on signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from emulator.cli import main
from emulator.settings import Settings, SettingsError, load_config, parse_setting
from tests.wire import envelope, post, send_invoice_xml

READY = re.compile(r"^listening on (http://127\.0\.0\.1:(\d+))$")


@contextmanager
def serving(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`seqr-emulator serve --port 0 ARGS`, its URL read from the ready line; killed at exit."""
    with subprocess.Popen(
        [sys.executable, "-m", "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            line = proc.stdout.readline().strip()
            match = READY.match(line)
            assert match, f"unexpected first line {line!r}"
            yield proc, match.group(1)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=5)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_announces_its_port_and_stops_on_signal(sig):
    with serving() as (proc, url):
        with urllib.request.urlopen(url + "/_emulator/health", timeout=5) as resp:
            assert resp.status == 200
        proc.send_signal(sig)
        assert proc.wait(timeout=5) == 0
        assert "Traceback" not in proc.stderr.read()


def _references(seed: str) -> list[str]:
    with serving("--seed", seed) as (_, url):
        soap = url + "/extclientproxy/service/v2"
        return [
            post(soap, envelope(send_invoice_xml())).field("invoiceReference") for _ in range(3)
        ]


def test_seed_makes_references_reproducible_run_to_run():
    first, second = _references("42"), _references("42")
    assert first == second and len(set(first)) == 3
    assert _references("43") != first


def test_wsdl_command_writes_the_published_documents(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-m", "emulator", "wsdl", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["ERSWSExternalClientService.wsdl", "service.wsdl"]
    assert str(tmp_path) in out.stdout


def test_port_in_use_is_a_clear_error():
    with serving() as (_, url):
        port = url.rsplit(":", 1)[1]
        busy = subprocess.run(
            [sys.executable, "-m", "emulator", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert busy.returncode == 1 and "cannot serve" in busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1, busy.stderr
        assert "Traceback" not in busy.stderr


# --- a value the emulator cannot use: one line naming it, status 2 ----------------------------


def _refused(*args: str, env: dict[str, str] | None = None) -> str:
    """`seqr-emulator serve ARGS` that must stop before serving; its one line of stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "emulator", "serve", *args],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 2, done
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    return done.stderr.strip()


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["--port", "99999"], {}, "seqr-emulator: --port must be 0..65535 (got 99999)"),
        (
            ["--clock-start", "yesterday"],
            {},
            "seqr-emulator: --clock-start is not an ISO 8601 instant: 'yesterday'",
        ),
        (
            [],
            {"SEQR_EMULATOR_PORT": "abc"},
            "seqr-emulator: SEQR_EMULATOR_PORT is not an integer: 'abc'",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_it(args, env, line):
    assert _refused(*args, env=env) == line


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--port", "-1"], "--port must be 0..65535 (got -1)"),
        (["--port", "http"], "--port is not an integer: 'http'"),
        (["--seed", "x"], "--seed is not an integer: 'x'"),
        (["--ack-window", "-1"], "--ack-window must be 0..315360000 seconds (got -1)"),
        (["--ack-window", "nan"], "--ack-window must be 0..315360000 seconds (got nan)"),
        (["--ack-window", "1e12"], "--ack-window must be 0..315360000 seconds (got 1000000000000)"),
        (["--clock-scale", "0"], "--clock-scale must be from 0.000001 to 1000000 (got 0)"),
        (["--clock-scale", "inf"], "--clock-scale must be from 0.000001 to 1000000 (got inf)"),
        (["--max-body-bytes", "0"], "--max-body-bytes must be a positive number of bytes (got 0)"),
        (["--session-lifetime", "-5"], "--session-lifetime must be 0..315360000 seconds (got -5)"),
        (
            ["--clock-start", "9999-12-31T23:00:00Z"],
            "--clock-start is out of range: '9999-12-31T23:00:00Z' (years 0001 to 9989)",
        ),
    ],
)
def test_every_numeric_flag_is_range_checked(args, line, capsys):
    assert main(["serve", *args]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"seqr-emulator: {line}\n")


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("SEQR_EMULATOR_ACK_WINDOW", "abc", "SEQR_EMULATOR_ACK_WINDOW is not a number: 'abc'"),
        ("SEQR_EMULATOR_SEED", "x", "SEQR_EMULATOR_SEED is not an integer: 'x'"),
        ("SEQR_EMULATOR_PORT", "70000", "SEQR_EMULATOR_PORT must be 0..65535 (got 70000)"),
        (
            "SEQR_EMULATOR_FREEZE_CLOCK",
            "maybe",
            "SEQR_EMULATOR_FREEZE_CLOCK is not a boolean (true or false): 'maybe'",
        ),
        (
            "SEQR_EMULATOR_NOTIFICATION_TIMEOUT",
            "0",
            "SEQR_EMULATOR_NOTIFICATION_TIMEOUT must be more than 0 and at most 86400 seconds"
            " (got 0)",
        ),
        (
            "SEQR_EMULATOR_REPORT_DELAY",
            "-1",
            "SEQR_EMULATOR_REPORT_DELAY must be 0..315360000 seconds (got -1)",
        ),
        (
            "SEQR_EMULATOR_RESELLERS",
            "nobody",
            "SEQR_EMULATOR_RESELLERS: reseller account 'nobody' is not id[/userId]:password",
        ),
    ],
)
def test_a_bad_environment_variable_is_one_line_naming_it(
    variable, value, line, monkeypatch, capsys
):
    monkeypatch.setenv(variable, value)
    assert main(["serve"]) == 2
    assert capsys.readouterr().err == f"seqr-emulator: {line}\n"


def test_a_bad_value_in_the_config_file_names_the_file_and_the_key(tmp_path: Path, capsys):
    config = tmp_path / "emulator.toml"
    config.write_text("clock_scale = -2.0\n")
    assert main(["serve", "--config", str(config)]) == 2
    assert (
        capsys.readouterr().err
        == f"seqr-emulator: {config}: clock_scale must be from 0.000001 to 1000000 (got -2)\n"
    )


def test_settings_made_in_code_are_checked_too():
    with pytest.raises(SettingsError, match=r"^port must be 0\.\.65535 \(got 99999\)$"):
        Settings(port=99999)
    with pytest.raises(SettingsError, match=r"^clock_start is not an ISO 8601 instant: 'soon'$"):
        Settings(clock_start="soon")


def test_good_values_from_every_source_are_read(tmp_path: Path):
    config = tmp_path / "emulator.toml"
    config.write_text("clock_start = 2026-01-01T08:00:00Z\nack_window = 5\n")
    base = load_config(config)
    assert base.clock_start == "2026-01-01T08:00:00+00:00" and base.ack_window == 5.0
    env = {"SEQR_EMULATOR_FREEZE_CLOCK": "yes", "SEQR_EMULATOR_CLOCK_SCALE": " 2.5 "}
    read = Settings.from_env(env, base=base)
    assert read.freeze_clock is True and read.clock_scale == 2.5 and read.ack_window == 5.0
    assert parse_setting("port", "0", "--port") == 0
