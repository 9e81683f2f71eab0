"""Every knob of the emulator and its default, in one frozen object.

Precedence is command-line flag, then environment variable (`SEQR_EMULATOR_*`), then the
configuration file (`--config FILE`, TOML), then the default written here. Nothing else in the
package reads the environment or that file.

Every value is checked where it enters: a bad one is a `SettingsError` whose one-line message
names where it came from (the flag, the variable, or the file and its key), and a `Settings`
made in code is checked the same way, naming the field.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from emulator.domain.services import PAGES
from emulator.scenario.model import LONGEST

SOAP_PATHS = (
    "/extclientproxy/service/v2",
    "/extclientproxy/service",
    "/soap/merchant/cashregister-2",
)


@dataclass(frozen=True, slots=True)
class ResellerAccount:
    id: str
    user_id: str
    password: str = field(repr=False)  # a settings object shown in a traceback shows none


@dataclass(frozen=True, slots=True)
class TerminalAccount:
    id: str
    password: str = field(repr=False)
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """An external service as configured: its id and the merchant's four pages."""

    id: str
    order_url: str
    success_url: str
    failure_url: str
    cancel_url: str


PUBLIC_TEST_TERMINAL = TerminalAccount("public_test_shop_terminal", "12345678", "Public test shop")
PUBLIC_TEST_RESELLER = ResellerAccount("public_test_shop", "9900", "1234")


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8090
    seed: int | None = None
    # Seconds a PAID payment may stay unacknowledged before SEQR reverses it; 0 disables.
    ack_window: float = 20.0
    # Off: an unknown TERMINALID is registered on first use with the password it sent.
    strict_terminals: bool = False
    max_body_bytes: int = 1024 * 1024
    notification_timeout: float = 5.0
    # The notificationUrl is called when an invoice becomes PAID, and also when the customer
    # confirms a reservation (RESERVED), as SEQR's unattended-payment flow did; the FAQ's
    # "only once PAID" is this switch turned off.
    notify_on_reserved: bool = True
    notification_journal_size: int = 1000  # attempts kept for /_emulator/notifications
    # Entries the request journal keeps (every SOAP call and notification attempt, for
    # /_emulator/journal), the oldest dropped first and counted; 0 turns it off.
    journal_size: int = 10_000
    soap_paths: tuple[str, ...] = SOAP_PATHS
    # SEQR's cashregister-2 path behaved as if acknowledgment were required when an invoice
    # named no acknowledgmentMode (the app then waits for updateInvoice). Off by default so
    # that samples run unchanged; `--cashregister-requires-ack` rehearses that trap.
    cashregister_path: str = "/soap/merchant/cashregister-2"
    cashregister_requires_ack: bool = False
    clock_scale: float = 1.0
    clock_start: str | None = None  # ISO 8601; with `freeze_clock`, time stands still there
    freeze_clock: bool = False
    # Emulator seconds after markTransactionPeriod during which executeReport answers
    # 2 REPORT_NOT_READY, to rehearse a till's retry loop; 0: reports are ready at once.
    report_delay: float = 0.0
    terminals: tuple[TerminalAccount, ...] = field(default=(PUBLIC_TEST_TERMINAL,))
    # SEQR_EMULATOR_RESELLERS="shop/9900:password,other:secret" replaces them (userId 9900).
    resellers: tuple[ResellerAccount, ...] = field(default=(PUBLIC_TEST_RESELLER,))
    # Emulator seconds an External Service session token answers getClientSessionInfo;
    # later it is 60 AUTHORIZATION_EXPIRED. 0: tokens never expire.
    session_lifetime: float = 600.0
    services: tuple[ServiceAccount, ...] = ()  # defined at start and after every reset
    # The scenario in force for every terminal without its own: a catalogue name or a TOML
    # file (`--scenario`). None: the emulated customer does nothing until told.
    scenario: str | None = None
    scenario_dir: str | None = None  # the catalogue folder; None: the shipped `scenarios/`
    # Off on an emulator many CI jobs share: POST /_emulator/reset then answers 403, and each
    # job resets only its own terminal.
    global_reset: bool = True
    # A SQLite file that keeps the state across restarts (`--state`); None: memory only.
    state: str | None = None
    # Notification attempts in flight at once, overall and per receiver (scheme, host, port);
    # an attempt beyond them waits for a free one, inside its own notification_timeout.
    notification_connections: int = 1024
    notification_per_receiver: int = 8
    # How long a client may take (`emulator/guard.py`), and how many may be connected at once;
    # at the limit a new connection closes the longest-open idle one.
    header_timeout: float = 10.0  # seconds from a request head's first byte to its end
    body_timeout: float = 30.0  # seconds from the end of a request head to the end of its body
    idle_timeout: float = 60.0  # seconds a connection may wait for its next request
    max_connections: int = 1024
    # Who may drive the emulator (`emulator/guard.py`). When set, the control API and the
    # dashboard answer only requests that carry this token; a `host` that is not a loopback
    # address needs one, or `open_control` to serve them to anyone who reaches it.
    control_token: str | None = field(default=None, repr=False)
    open_control: bool = False
    # Host names besides localhost, IP addresses and `host` that requests may name in their
    # Host header (comma-separated; `*` any): any other gets 421, so that a page whose own
    # name was rebound to this address (DNS rebinding) reads nothing.
    allowed_hosts: str | None = None

    def __post_init__(self) -> None:
        for name, check in _CHECKS.items():
            _check(name, getattr(self, name), name, check)

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given fields replaced; `None` values are ignored."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(
        cls, environ: dict[str, str] | None = None, base: Settings | None = None
    ) -> Settings:
        """`base` (e.g. a configuration file's settings) with the environment's overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            variable = f"SEQR_EMULATOR_{f.name.upper()}"
            raw = env.get(variable)
            if raw is None or f.name in _STRUCTURED:
                continue
            values[f.name] = parse_setting(f.name, raw, variable)
        return replace(base, **values) if base is not None else cls(**values)


@dataclass(frozen=True, slots=True)
class Option:
    """One setting as a person gives it: the flag `--field-name`, the variable
    `SEQR_EMULATOR_FIELD_NAME` and the configuration key `field_name`, in that precedence."""

    field: str
    help: str
    metavar: str | None = None  # None: a switch (`--name` / `--no-name`)

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")

    @property
    def variable(self) -> str:
        return "SEQR_EMULATOR_" + self.field.upper()


OPTIONS: tuple[Option, ...] = (
    Option("host", "address to bind (default 127.0.0.1)", "ADDRESS"),
    Option("port", "port to bind; 0 picks a free one (default 8090)", "PORT"),
    Option("seed", "make references reproducible run to run", "N"),
    Option(
        "ack_window",
        "reverse a PAID payment not acknowledged within this time; 0 disables (default 20)",
        "SECONDS",
    ),
    Option("strict_terminals", "refuse unknown terminal ids (29) instead of registering them"),
    Option(
        "cashregister_requires_ack",
        "on the cash-register path, an invoice without acknowledgmentMode waits for "
        "updateInvoice, as SEQR's till endpoint did",
    ),
    Option("cashregister_path", "the path that rule applies to", "PATH"),
    Option("max_body_bytes", "larger SOAP bodies get 413 (default 1048576)", "N"),
    Option(
        "notification_timeout",
        "seconds before a notification attempt is recorded as failed (default 5)",
        "SECONDS",
    ),
    Option(
        "notify_on_reserved",
        "also notify when a reservation is made (on by default; the FAQ's 'only PAID' is off)",
    ),
    Option("notification_journal_size", "notification attempts kept (default 1000)", "N"),
    Option(
        "journal_size",
        "SOAP calls and notification attempts the journal keeps; 0 turns it off (default 10000)",
        "N",
    ),
    Option("clock_scale", "emulator seconds per real second (default 1)", "X"),
    Option("clock_start", "ISO 8601 instant the emulator clock starts at (default now)", "ISO"),
    Option("freeze_clock", "time stands still, moved only by POST /_emulator/clock/advance"),
    Option(
        "report_delay",
        "seconds after markTransactionPeriod during which executeReport answers 2 (default 0)",
        "SECONDS",
    ),
    Option(
        "resellers",
        "reseller accounts, id[/userId]:password,... (default public_test_shop/9900:1234)",
        "ACCOUNTS",
    ),
    Option(
        "terminals",
        "terminals known from the start, id:password[:name],... (default the public test shop's)",
        "ACCOUNTS",
    ),
    Option(
        "session_lifetime",
        "External Service tokens expire (60) after this; 0 never (default 600)",
        "SECONDS",
    ),
    Option(
        "scenario",
        "what the emulated customer and SEQR do for every terminal without a scenario of its "
        "own: a catalogue name (seqr-emulator scenarios) or a TOML file",
        "NAME|FILE",
    ),
    Option("scenario_dir", "the scenario catalogue (default: the shipped one)", "DIR"),
    Option(
        "notification_connections",
        "notification attempts in flight at once, overall (default 1024)",
        "N",
    ),
    Option(
        "notification_per_receiver",
        "notification attempts in flight at once to one receiver, host:port (default 8)",
        "N",
    ),
    Option(
        "state",
        "keep invoices, terminals and the rest in this SQLite file across restarts "
        "(default: memory only)",
        "FILE",
    ),
    Option(
        "global_reset",
        "POST /_emulator/reset forgets everything (on by default); off on an emulator shared "
        "by parallel jobs, which reset their own terminals",
    ),
    Option(
        "header_timeout", "seconds a client may take to send a request head (default 10)", "SECONDS"
    ),
    Option(
        "body_timeout", "seconds a client may take to send a request body (default 30)", "SECONDS"
    ),
    Option(
        "idle_timeout", "seconds a connection may wait for its next request (default 60)", "SECONDS"
    ),
    Option("max_connections", "connections open at once (default 1024)", "N"),
    Option(
        "control_token",
        "the control API and the dashboard answer only requests carrying this token "
        "(Authorization: Bearer TOKEN, X-Seqr-Emulator-Token, or the dashboard's /?token=)",
        "TOKEN",
    ),
    Option(
        "open_control",
        "serve the control API without a token on a --host that is not loopback (a warning)",
    ),
    Option(
        "allowed_hosts",
        "host names requests may be addressed to besides localhost, IP addresses and "
        "--host (comma-separated; * any)",
        "NAMES",
    ),
)
"""Every setting a person can give; the README's Options table lists exactly these."""

_STRUCTURED = ("soap_paths", "services")
# The longest duration any setting accepts: ten years of emulator time, in seconds.
MAX_SECONDS = LONGEST
MAX_NOTIFICATION_TIMEOUT = 24 * 3600.0
MAX_IO_SECONDS = 24 * 3600.0  # the longest a client may be given to send a request
CLOCK_SCALE_RANGE = (1e-6, 1e6)
CLOCK_LAST_YEAR = 9989  # a clock started later could not run MAX_SECONDS inside datetime's range


class SettingsError(ValueError):
    """A setting the emulator cannot use; the message names its source and what is wrong."""


def _shown(value: Any) -> str:
    """A number as a person wrote it: 20 rather than 20.0, nan and inf as such."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return repr(value)


def _between(low: float, high: float, unit: str = "") -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if low <= value <= high:  # False for NaN
            return None
        return f"must be {_shown(low)}..{_shown(high)}{unit} (got {_shown(value)})"

    return check


def _timeout(value: Any) -> str | None:
    if 0 < value <= MAX_NOTIFICATION_TIMEOUT:
        return None
    limit = _shown(MAX_NOTIFICATION_TIMEOUT)
    return f"must be more than 0 and at most {limit} seconds (got {_shown(value)})"


def _scale(value: Any) -> str | None:
    low, high = CLOCK_SCALE_RANGE
    if low <= value <= high:
        return None
    return f"must be from 0.000001 to {_shown(high)} (got {_shown(value)})"


def _bytes(value: Any) -> str | None:
    return None if value > 0 else f"must be a positive number of bytes (got {_shown(value)})"


def _token(value: Any) -> str | None:
    """A token travels in a header: 16 to 256 printable ASCII characters, no space. The message
    never shows it."""
    if not isinstance(value, str) or not 16 <= len(value) <= 256:
        return "must be 16 to 256 characters long"
    if not all("!" <= c <= "~" for c in value):
        return "must be printable ASCII characters, without spaces"
    return None


def _names(value: Any) -> str | None:
    for name in (part.strip() for part in str(value).split(",")):
        if name and (len(name) > 253 or not all(c.isalnum() or c in "-._*:[]" for c in name)):
            return f"is not a list of host names: {name!r}"
    return None


def _clock_start(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return f"is not an ISO 8601 instant: {value!r}"
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return f"is not an ISO 8601 instant: {value!r}"
    try:  # a value without an offset is local time, as the clock reads it
        year = instant.astimezone(UTC).year
    except (OverflowError, OSError, ValueError):
        year = 0
    if not 1 <= year <= CLOCK_LAST_YEAR:
        return f"is out of range: {value!r} (years 0001 to {CLOCK_LAST_YEAR})"
    return None


def _state_file(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        return f"must name a file (got {value!r})"
    path = Path(value)
    if path.is_dir():
        return f"must name a file, not a folder: {value!r}"
    if not path.absolute().parent.is_dir():
        return f"names a file in a folder that does not exist: {value!r}"
    return None


# What each checked field accepts; the message follows the source's name.
_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "port": _between(0, 65535),
    "ack_window": _between(0, MAX_SECONDS, " seconds"),
    "max_body_bytes": _bytes,
    "notification_timeout": _timeout,
    "notification_journal_size": _between(0, 1_000_000),
    "journal_size": _between(0, 1_000_000),
    "clock_scale": _scale,
    "clock_start": _clock_start,
    "report_delay": _between(0, MAX_SECONDS, " seconds"),
    "session_lifetime": _between(0, MAX_SECONDS, " seconds"),
    "state": _state_file,
    "notification_connections": _between(1, 100_000),
    "notification_per_receiver": _between(1, 100_000),
    "header_timeout": _between(0.001, MAX_IO_SECONDS, " seconds"),
    "body_timeout": _between(0.001, MAX_IO_SECONDS, " seconds"),
    "idle_timeout": _between(0.001, MAX_IO_SECONDS, " seconds"),
    "max_connections": _between(1, 1_000_000),
    "control_token": _token,
    "allowed_hosts": _names,
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


# How each field's text is read and what its value must be: `int`, `float`, `bool` or `str`
# (the structured fields, never read from text, count as `str`).
_KINDS = {"bool": "bool", "int": "int", "int | None": "int", "float": "float"}
_KIND = {f.name: _KINDS.get(str(f.type), "str") for f in fields(Settings)}


def _check(name: str, value: Any, source: str, check: Callable[[Any], str | None]) -> None:
    kind = _KIND[name]
    if kind in ("int", "float") and value is not None:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or (kind == "int" and not isinstance(value, int)):
            noun = "an integer" if kind == "int" else "a number"
            raise SettingsError(f"{source} is not {noun}: {value!r}")
    problem = None if value is None else check(value)
    if problem:
        raise SettingsError(f"{source} {problem}")


def parse_setting(name: str, raw: str, source: str) -> Any:
    """The value of field `name` written as text (a flag, an environment variable), checked;
    `source` names where it came from in the message of a `SettingsError`."""
    kind = _KIND[name]
    text = raw.strip()
    value: Any = raw
    accounts = _ACCOUNTS.get(name)
    if accounts is not None:
        try:
            return accounts(raw)
        except ValueError as exc:
            raise SettingsError(f"{source}: {exc}") from None
    if kind == "bool":
        if text.lower() not in (*_TRUE, *_FALSE):
            raise SettingsError(f"{source} is not a boolean (true or false): {raw!r}")
        value = text.lower() in _TRUE
    elif kind == "int":
        try:
            value = int(text)
        except ValueError:
            raise SettingsError(f"{source} is not an integer: {raw!r}") from None
    elif kind == "float":
        try:
            value = float(text)
        except ValueError:
            raise SettingsError(f"{source} is not a number: {raw!r}") from None
    check = _CHECKS.get(name)
    if check is not None:
        _check(name, value, source, check)
    return value


_SERVICE_KEYS = {"id": "id", **PAGES}


class ConfigError(SettingsError):
    """A configuration file the emulator cannot use; the message names the file and the key."""


def load_config(path: Path | str, base: Settings | None = None) -> Settings:
    """Settings from a TOML file: top-level keys are Settings fields, `[[services]]` tables
    define external services (`id`, `orderUrl`, `successUrl`, `failureUrl`, `cancelUrl`)."""
    where = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not TOML: {exc}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "services":
            values["services"] = _services(where, value)
        elif key in _ACCOUNTS:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {key} has the wrong type ({type(value).__name__})")
            values[key] = parse_setting(key, value, f"{where}: {key}")
        elif key in _KIND and key not in _STRUCTURED:
            values[key] = _typed(where, key, value)
        else:
            raise ConfigError(f"{where}: unknown key {key!r}")
    return replace(base or Settings(), **values)


def _services(where: str, value: Any) -> tuple[ServiceAccount, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{where}: services must be [[services]] tables")
    made = []
    for i, table in enumerate(value):
        for key in table:
            if key not in _SERVICE_KEYS:
                raise ConfigError(f"{where}: unknown key {key!r} in services[{i}]")
        for key in _SERVICE_KEYS:
            if not isinstance(table.get(key), str):
                raise ConfigError(f"{where}: services[{i}] needs {key} (a string)")
        made.append(ServiceAccount(**{_SERVICE_KEYS[k]: v for k, v in table.items()}))
    return tuple(made)


def _typed(where: str, key: str, value: Any) -> Any:
    kind = _KIND[key]
    if key == "clock_start" and isinstance(value, datetime):
        value = value.isoformat()  # a TOML date-time, written without quotes
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where}: {key} has the wrong type ({type(value).__name__})")
    value = float(value) if kind == "float" else value
    check = _CHECKS.get(key)
    if check is not None:
        try:
            _check(key, value, f"{where}: {key}", check)
        except SettingsError as exc:
            raise ConfigError(str(exc)) from None
    return value


def parse_terminals(text: str) -> tuple[TerminalAccount, ...]:
    """`id:password[:name]`, comma-separated: terminals that exist from the start."""
    accounts = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        terminal, sep, rest = item.partition(":")
        password, _, name = rest.partition(":")
        if not sep or not terminal.strip() or not password:
            shown = terminal.strip() or "(no id)"  # the password is never echoed
            raise ValueError(f"terminal account {shown!r} is not id:password[:name]")
        accounts.append(TerminalAccount(terminal.strip(), password, name.strip() or None))
    return tuple(accounts)


def parse_resellers(text: str) -> tuple[ResellerAccount, ...]:
    """`id[/userId]:password`, comma-separated; userId defaults to 9900, as SEQR issued it."""
    accounts = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        principal, sep, password = item.partition(":")
        reseller, _, user = principal.partition("/")
        if not sep or not reseller.strip():
            shown = principal.strip() or "(no id)"  # the password is never echoed
            raise ValueError(f"reseller account {shown!r} is not id[/userId]:password")
        accounts.append(ResellerAccount(reseller.strip(), user.strip() or "9900", password))
    return tuple(accounts)


_ACCOUNTS: dict[str, Callable[[str], Any]] = {
    "resellers": parse_resellers,
    "terminals": parse_terminals,
}
"""Settings written as `id:password,...` text wherever they are given."""
