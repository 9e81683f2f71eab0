"""Every setting is a flag, an environment variable and a configuration key, in that order,
and the README's Options table lists exactly these."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from emulator import cli
from emulator.settings import OPTIONS, Option, ResellerAccount, TerminalAccount

README = Path(__file__).resolve().parents[1] / "README.md"

# Three different good values per setting: (in the config file, in the environment, as a flag),
# each as text; the config file gets it as TOML.
VALUES: dict[str, tuple[str, str, str]] = {
    "host": ('"127.0.0.2"', "127.0.0.3", "127.0.0.4"),
    "port": ("8091", "8092", "8093"),
    "seed": ("1", "2", "3"),
    "ack_window": ("1", "2.5", "3"),
    "max_body_bytes": ("1000", "2000", "3000"),
    "notification_timeout": ("1", "2", "3"),
    "notification_journal_size": ("10", "20", "30"),
    "journal_size": ("40", "50", "60"),
    "clock_scale": ("2", "3", "4"),
    "clock_start": ('"2026-01-01T00:00:00+00:00"', "2026-02-01T00:00:00+00:00", "2026-03-01"),
    "report_delay": ("1", "2", "3"),
    "session_lifetime": ("1", "2", "3"),
    "cashregister_path": ('"/a"', "/b", "/c"),
    "scenario": ('"pay"', "fail", "cancel"),
    "scenario_dir": ('"one"', "two", "three"),
    "resellers": ('"a/1:pw-a"', "b/2:pw-b", "c:pw-c"),
    "terminals": ('"t1:pass-1"', "t2:pass-2:Two", "t3:pass-3"),
    "state": ('"one.db"', "two.db", "three.db"),
    "notification_connections": ("10", "20", "30"),
    "notification_per_receiver": ("1", "2", "3"),
    "header_timeout": ("1", "2", "3"),
    "body_timeout": ("1", "2", "3"),
    "idle_timeout": ("1", "2", "3"),
    "max_connections": ("10", "20", "30"),
    "control_token": ('"token-in-the-file-1"', "token-in-the-env-22", "token-as-a-flag-333"),
    "allowed_hosts": ('"emulator"', "emulator.test,shop.test", "*"),
}
SWITCHES = [o for o in OPTIONS if o.metavar is None]
VALUED = [o for o in OPTIONS if o.metavar is not None]


def _read(tmp_path: Path, option: Option, config: str | None, env: str | None, flag: list[str]):
    args = ["serve", *flag]
    if config is not None:
        path = tmp_path / "settings.toml"
        path.write_text(f"{option.field} = {config}\n")
        args += ["--config", str(path)]
    environ = {} if env is None else {option.variable: env}
    with pytest.MonkeyPatch.context() as patch:
        for name in [o.variable for o in OPTIONS]:
            patch.delenv(name, raising=False)
        for name, value in environ.items():
            patch.setenv(name, value)
        return getattr(cli.settings_from(cli._parser().parse_args(args)), option.field)


def _expected(field: str, text: str) -> Any:
    text = text.strip('"')  # a TOML string as written in the file
    if field == "resellers":
        rid, _, password = text.partition(":")
        rid, _, user = rid.partition("/")
        return (ResellerAccount(rid, user or "9900", password),)
    if field == "terminals":
        tid, _, rest = text.partition(":")
        password, _, name = rest.partition(":")
        return (TerminalAccount(tid, password, name or None),)
    strings = ("host", "clock_start", "cashregister_path", "scenario", "scenario_dir", "state")
    if field in (*strings, "control_token", "allowed_hosts"):
        return text
    return float(text) if "." in text or field in _FLOATS else int(text)


_FLOATS = {
    "ack_window",
    "notification_timeout",
    "clock_scale",
    "report_delay",
    "session_lifetime",
    "header_timeout",
    "body_timeout",
    "idle_timeout",
}


def test_every_setting_has_three_good_values_here():
    assert set(VALUES) == {o.field for o in VALUED}


@pytest.mark.parametrize("option", VALUED, ids=lambda o: o.field)
def test_a_flag_beats_the_environment_which_beats_the_config_file(tmp_path, option):
    in_file, in_env, as_flag = VALUES[option.field]
    flag = [option.flag, as_flag]
    assert _read(tmp_path, option, in_file, in_env, flag) == _expected(option.field, as_flag)
    assert _read(tmp_path, option, in_file, in_env, []) == _expected(option.field, in_env)
    assert _read(tmp_path, option, in_file, None, []) == _expected(option.field, in_file)


@pytest.mark.parametrize("option", SWITCHES, ids=lambda o: o.field)
def test_a_switch_is_a_flag_a_variable_and_a_key(tmp_path, option):
    assert _read(tmp_path, option, "true", "false", [option.flag]) is True
    no = "--no-" + option.flag[2:]
    assert _read(tmp_path, option, "false", "true", [no]) is False
    assert _read(tmp_path, option, "false", "true", []) is True
    assert _read(tmp_path, option, "true", None, []) is True


def test_the_readme_lists_every_setting_with_its_three_names():
    rows = re.findall(
        r"^\| `(--[a-z-]+)[^`]*` \| `([A-Z_]+)` \| `([a-z_]+)` \|", README.read_text(), re.M
    )
    listed = {(flag, variable, key) for flag, variable, key in rows}
    assert listed == {(o.flag, o.variable, o.field) for o in OPTIONS}


def test_an_account_that_cannot_be_read_never_shows_its_password(tmp_path, capsys):
    assert cli.main(["serve", "--terminals", ":s3cr3t"]) == 2
    err = capsys.readouterr().err
    assert "--terminals" in err and "s3cr3t" not in err
