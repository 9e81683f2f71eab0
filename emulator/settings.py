"""Every knob of the emulator and its default, in one frozen object.

Precedence is command-line flag, then environment variable (`SEQR_EMULATOR_*`), then the
default written here. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

SOAP_PATHS = ("/extclientproxy/service/v2", "/extclientproxy/service", "/soap/merchant/cashregister-2")


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
    soap_paths: tuple[str, ...] = SOAP_PATHS
    # SEQR's cashregister-2 path behaved as if acknowledgment were required when an invoice
    # named no acknowledgmentMode (the app then waits for updateInvoice). Off by default so
    # that samples run unchanged; `--cashregister-requires-ack` rehearses that trap.
    cashregister_path: str = "/soap/merchant/cashregister-2"
    cashregister_requires_ack: bool = False
    clock_scale: float = 1.0
    clock_start: str | None = None  # ISO 8601; with `freeze_clock`, time stands still there
    freeze_clock: bool = False
    terminals: tuple[TerminalAccount, ...] = field(default=(PUBLIC_TEST_TERMINAL,))
    resellers: tuple[ResellerAccount, ...] = field(default=(PUBLIC_TEST_RESELLER,))

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given fields replaced; `None` values are ignored."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"SEQR_EMULATOR_{f.name.upper()}")
            if raw is None or f.name in ("terminals", "resellers", "soap_paths"):
                continue
            values[f.name] = _coerce(f.type, raw)
        return cls(**values)


def _coerce(kind: Any, raw: str) -> Any:
    text = str(kind)
    if "bool" in text:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if "int" in text and "float" not in text:
        return int(raw)
    if "float" in text:
        return float(raw)
    return raw
