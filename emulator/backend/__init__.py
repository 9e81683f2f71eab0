"""The backend: one emulator's state and its verbs, with no I/O and no adapter in sight.

`SeqrBackend` (facade.py) is the one entry point; the modules beside it are its named parts
(principals, ledger, periods, services, deadlines, scenarios, outbox, store) and the lasting
state (tracking, lasting, restart, records, dump). Adapters import `SeqrBackend`, `Event`,
`Listener` and `CustomerApp` from here, never the parts; the wiring takes the state file and
its documents (`StateFile`, `dump`) from here too.
"""

from __future__ import annotations

from emulator.backend import dump
from emulator.backend.facade import SeqrBackend
from emulator.backend.lasting import StateError, StateFile
from emulator.backend.outbox import Event, Listener
from emulator.backend.principals import RESELLERUSER, TERMINALID
from emulator.backend.scenarios import CustomerApp
from emulator.backend.store import Store

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
