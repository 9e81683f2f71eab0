"""The backend: one emulator's state and its verbs, with no I/O and no adapter in sight.

`SeqrBackend` (facade.py) is the one entry point; the modules beside it are its named parts
(principals, ledger, periods, services, deadlines, scenarios, outbox, store) and the lasting
state (tracking, lasting, restart, records, dump). Adapters import `SeqrBackend`, `Event`,
`Listener` and `CustomerApp` from here, never the parts; the wiring takes the state file and
its documents (`StateFile`, `dump`) from here too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from emulator.backend.facade import SeqrBackend
from emulator.backend.outbox import Event, Listener
from emulator.backend.principals import RESELLERUSER, TERMINALID
from emulator.backend.scenarios import CustomerApp
from emulator.backend.store import StateError, Store

if TYPE_CHECKING:
    from emulator.backend import dump
    from emulator.backend.lasting import StateFile

__all__ = [
    "RESELLERUSER",
    "TERMINALID",
    "CustomerApp",
    "Event",
    "Listener",
    "SeqrBackend",
    "StateError",
    "StateFile",
    "Store",
    "dump",
]

# The lasting state (SQLite, its records, the JSON documents) is imported when first named:
# an emulator in memory has no use for it: 17.8M instructions of a served start to `listening`,
# 1,535M against 1,517M (callgrind).
_LATER = {"StateFile": "emulator.backend.lasting"}


def __getattr__(name: str) -> Any:
    if name == "dump":
        return importlib.import_module("emulator.backend.dump")
    where = _LATER.get(name)
    if where is None:
        raise AttributeError(f"module 'emulator.backend' has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)
