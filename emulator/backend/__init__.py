"""SeqrBackend: the one holder of an emulator's state, and its verbs.

One method per SOAP operation and per action of the emulated customer. Methods are
synchronous, do no I/O and hold `self.lock` while they read and change state, so two
concurrent payments or refunds are serialised and the rules in `domain.invoice` hold.

Timed rules (the acknowledgment window, reservation timeouts) are deadlines on a heap: due
ones are applied before every verb and by the app's sweeper, so the outcome depends on the
emulator clock, never on when a background task happened to run.

Listeners (`subscribe`) hear about every change after it is made; the notifier and the
dashboard are listeners. They must not block: the SOAP answer never waits for them.
"""

from __future__ import annotations

from emulator.backend.core import RESELLERUSER, TERMINALID, Event, Listener
from emulator.backend.customer import CustomerVerbs
from emulator.backend.payments import PaymentVerbs
from emulator.backend.scenarios import ScenarioVerbs
from emulator.backend.services import ServiceVerbs
from emulator.backend.terminals import TerminalVerbs


class SeqrBackend(PaymentVerbs, CustomerVerbs, ServiceVerbs, TerminalVerbs, ScenarioVerbs):
    """One emulator's state and every verb on it; see the modules of this package by topic."""


__all__ = ["RESELLERUSER", "TERMINALID", "Event", "Listener", "SeqrBackend"]
