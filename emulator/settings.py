"""Every knob of the emulator and its default, in one frozen object.

Precedence is command-line flag, then environment variable (`SEQR_EMULATOR_*`), then the
configuration file (`--config FILE`, TOML), then the default written here. Nothing else in the
package reads the environment or that file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

SOAP_PATHS = (
    "/extclientproxy/service/v2",
    "/extclientproxy/service",
    "/soap/merchant/cashregister-2",
)


@dataclass(frozen=True, slots=True)
class ResellerAccount:
    id: str
    user_id: str
    password: str


@dataclass(frozen=True, slots=True)
class TerminalAccount:
    id: str
    password: str
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
            raw = env.get(f"SEQR_EMULATOR_{f.name.upper()}")
            if raw is None or f.name in _STRUCTURED:
                continue
            values[f.name] = _coerce(f.type, raw)
        resellers = env.get("SEQR_EMULATOR_RESELLERS")
        if resellers is not None:
            values["resellers"] = parse_resellers(resellers)
        return replace(base, **values) if base is not None else cls(**values)


_STRUCTURED = ("terminals", "resellers", "soap_paths", "services")
_SERVICE_KEYS = {
    "id": "id",
    "orderUrl": "order_url",
    "successUrl": "success_url",
    "failureUrl": "failure_url",
    "cancelUrl": "cancel_url",
}


class ConfigError(ValueError):
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
    kinds = {f.name: str(f.type) for f in fields(Settings) if f.name not in _STRUCTURED}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "services":
            values["services"] = _services(where, value)
        elif key in kinds:
            values[key] = _typed(where, key, kinds[key], value)
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


def _typed(where: str, key: str, kind: str, value: Any) -> Any:
    if "bool" in kind:
        ok = isinstance(value, bool)
    elif "float" in kind:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif "int" in kind:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{where}: {key} has the wrong type ({type(value).__name__})")
    return float(value) if "float" in kind else value


def parse_resellers(text: str) -> tuple[ResellerAccount, ...]:
    """`id[/userId]:password`, comma-separated; userId defaults to 9900, as SEQR issued it."""
    accounts = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        principal, sep, password = item.partition(":")
        reseller, _, user = principal.partition("/")
        if not sep or not reseller.strip():
            raise ValueError(f"reseller account {item!r} is not id[/userId]:password")
        accounts.append(ResellerAccount(reseller.strip(), user.strip() or "9900", password))
    return tuple(accounts)


def _coerce(kind: Any, raw: str) -> Any:
    text = str(kind)
    if "bool" in text:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if "int" in text and "float" not in text:
        return int(raw)
    if "float" in text:
        return float(raw)
    return raw
