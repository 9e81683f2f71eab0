"""The scenario driver: the engine decides, this part applies its decisions.

Every SOAP call passes through one hook, `serve(call, carry_out)`: with no scenario in force
and no `[scenario:NAME]` marker on the call it carries the call out and that is all (one
attribute read). Otherwise, under the backend's lock, the engine sees the call first and may
answer it instead (`answer`, `fault`) or mark its answer to be disturbed on the way back
(`reset`, `empty`, `truncate`, `slow`); a call it left alone is carried out and, when SEQR
answered it with success, shown to the engine again, which counts polls and fires the steps
waiting for it. The hook returns the answer and, at most, the step whose action the caller
acts out.

Customer moves go through the same verbs the control API calls (scan, pay, cancel, fail),
so a scripted customer obeys every rule a clicking one does; a move the invoice's state
forbids is skipped and noted in the invoice's history. Timed steps wait on the deadline
heap, so they follow the emulator clock exactly as the acknowledgment window does. No I/O:
the catalogue is loaded by the app and handed in. Standard library only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from emulator.backend.clocks import Clocks
from emulator.backend.deadlines import Deadlines, Kind
from emulator.backend.store import Store
from emulator.domain import invoice as rules
from emulator.domain.errors import IllegalMove
from emulator.domain.model import CustomerToken, Invoice
from emulator.scenario.engine import POLL, Call, Decision, Engine
from emulator.scenario.model import Action, NotificationPlan, Scenario, Step

T = TypeVar("T")


class CustomerApp(Protocol):
    """The customer's verbs a scenario step drives (the backend's own)."""

    def scan(self, reference: str, tokens: Iterable[CustomerToken] = ()) -> Invoice: ...

    def pay(self, reference: str, *, reserve: bool | None = None) -> Invoice: ...

    def customer_cancel(self, reference: str) -> Invoice: ...

    def fail(self, reference: str) -> Invoice: ...


class ScenarioDriver:
    def __init__(self, engine: Engine, store: Store, deadlines: Deadlines, clocks: Clocks) -> None:
        self.engine = engine
        self.store = store
        self.deadlines = deadlines
        self.clocks = clocks  # a run lives by its terminal's clock
        self.customer: CustomerApp | None = None  # the backend, once it is built

    # --- selection -------------------------------------------------------------------------------

    def configure(self, catalogue: Mapping[str, Scenario], default: Scenario | None) -> None:
        """At start: the catalogue, and the default every reset comes back to."""
        engine = self.engine
        engine.catalogue = dict(catalogue)
        if default is not None:  # a file given at start answers to its name, markers too
            engine.catalogue[default.name] = default
        engine.start_default = default
        engine.use(default)

    def for_issue(self, terminal_id: str, marker: str | None) -> Scenario | None:
        """The scenario that will drive a new invoice of the terminal, if any."""
        if marker is None and not self.engine.active:
            return None
        return self.engine.scenario_for(terminal_id, marker)

    # --- the hook --------------------------------------------------------------------------------

    def serve(
        self, call: Call, carry_out: Callable[[], tuple[int, T]]
    ) -> tuple[T | None, Step | None]:
        """Carry the call out as the scenario says: (answer, step whose action to act out).

        The answer is None when the step answered the call itself (`answer`, `fault`); the
        caller holds the backend's lock whenever a scenario is involved.
        """
        reference = self._reference(call)
        clock = self.clocks.of(call.principal)
        decision = self.engine.intercept(call, reference, clock.elapsed())
        self._perform(reference, decision)
        step = decision.override
        if step is not None and step.do in (Action.ANSWER, Action.FAULT):
            return None, step
        code, answer = carry_out()
        if step is None and code == 0:
            reference = reference or self._reference(call)
            observed = self.engine.observe(call, reference, clock.elapsed())
            self._perform(reference, observed)
        return answer, step

    def begin(self, made: Invoice, scenario: Scenario | None) -> None:
        """A new invoice: it takes over the terminal's pending run; `now` steps fire."""
        if scenario is None:
            return
        now = self.clocks.of(made.terminal_id).elapsed()
        decision = self.engine.issued(made.reference, made.terminal_id, scenario, now)
        self._perform(made.reference, decision)

    def tick(self, found: Invoice) -> None:
        """A timed step's deadline came."""
        now = self.clocks.of(found.terminal_id).elapsed()
        self._perform(found.reference, self.engine.tick(found.reference, now))

    def notification_plan(self, reference: str) -> NotificationPlan | None:
        """The plan armed for the invoice's notification being sent now (used once)."""
        if not self.engine.active:
            return None
        return self.engine.take_plan(reference)

    # --- applying decisions ----------------------------------------------------------------------

    def _reference(self, call: Call) -> str | None:
        """The invoice a call is about, if it is the calling terminal's own."""
        store = self.store
        reference = call.reference
        if not reference and call.ers_reference:
            reference = store.payments.get(call.ers_reference.strip())
        if not reference and call.operation == POLL:
            terminal = store.terminals.get(call.principal or "")
            reference = terminal.open_invoice if terminal and terminal.cash_register else None
        found = store.invoice(reference.strip()) if reference else None
        if found is None or found.terminal_id != call.principal:
            return None
        return found.reference

    def _perform(self, reference: str | None, decision: Decision) -> None:
        if not decision.moves and decision.wake is None:
            return
        found = self.store.invoice(reference) if reference else None
        if found is None:
            return
        for move in decision.moves:
            if move.plan is not None:
                self.engine.arm(found.reference, move.plan)
            if move.step.do is not None:
                self._act(found, move.step, decision.scenario)
        if decision.wake is not None:
            self.deadlines.at(decision.wake, Kind.SCENARIO, found.reference, found.terminal_id)

    def _act(self, found: Invoice, step: Step, scenario: str) -> None:
        customer = self.customer
        assert customer is not None, "the driver acts through the backend's customer verbs"
        reference = found.reference
        action = step.do
        try:
            if action is Action.SCAN:
                customer.scan(reference)
            elif action is Action.PRESENT_TOKEN:
                customer.scan(
                    reference, [CustomerToken(t.id, t.value, t.description) for t in step.tokens]
                )
            elif action is Action.PAY:
                customer.pay(reference)
            elif action is Action.RESERVE:
                rules.check_reservable(found)
                customer.pay(reference, reserve=True)
                if step.timeout is not None:
                    self.deadlines.after(
                        step.timeout, Kind.RESERVATION, reference, found.terminal_id
                    )
            elif action is Action.CANCEL:
                customer.customer_cancel(reference)
            elif action is Action.FAIL:
                customer.fail(reference)
        except IllegalMove as exc:
            event = f"scenario {scenario}: step {step.number} ({step.describe()}) skipped: {exc}"
            rules.note(found, self.clocks.of(found.terminal_id).now(), event)
            self.store.changed(found)
