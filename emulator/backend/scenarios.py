"""Scenarios in the backend: the engine decides, these methods apply the decisions.

Customer moves go through the same verbs the control API calls (scan, pay, cancel, fail), so
a scripted customer obeys every rule a clicking one does; a move the invoice's state forbids
is skipped and noted in the invoice's history. Timed steps wait on the deadline heap, so they
follow the emulator clock (scale, advance) exactly as the acknowledgment window does.

The SOAP layer calls `scenario_intercept` before carrying a call out and `scenario_observe`
after a successful answer; the notifier takes the plan armed for an invoice with
`notification_plan`. No I/O here: the catalogue is loaded by the app and handed in.
"""

from __future__ import annotations

from collections.abc import Mapping

from emulator.backend.core import Core
from emulator.domain.errors import IllegalMove
from emulator.domain.model import CustomerToken, HistoryEntry, Invoice, InvoiceData, Terminal
from emulator.scenario.engine import Call, Decision, find_marker
from emulator.scenario.model import Action, NotificationPlan, Scenario, Step

SCENARIO_DEADLINE = "scenario"


class ScenarioVerbs(Core):
    """Selection (the control API's twins), the SOAP hooks, and applying decisions."""

    # --- selection -------------------------------------------------------------------------------

    def configure_scenarios(
        self, catalogue: Mapping[str, Scenario], default: Scenario | None = None
    ) -> None:
        """At start: the catalogue, and the default every reset comes back to."""
        with self.lock:
            engine = self.scenarios
            engine.catalogue = dict(catalogue)
            if default is not None:  # a file given at start answers to its name, markers too
                engine.catalogue[default.name] = default
            engine.start_default = default
            engine.use(default)

    def list_scenarios(self) -> list[Scenario]:
        with self.lock:
            return sorted(self.scenarios.catalogue.values(), key=lambda s: s.name)

    def scenario_named(self, name: str) -> Scenario:
        """A catalogue entry; `UnknownScenario` names the ones there are."""
        with self.lock:
            return self.scenarios.named(name)

    def set_scenario(self, scenario: Scenario | None) -> None:
        """The default for every terminal without one of its own; None: the customer waits."""
        with self.lock:
            self.scenarios.use(scenario)

    def default_scenario(self) -> Scenario | None:
        with self.lock:
            return self.scenarios.default

    def set_terminal_scenario(self, terminal_id: str, scenario: Scenario | None) -> None:
        """For invoices this terminal issues from now on; the terminal need not exist yet."""
        with self.lock:
            self.scenarios.use(scenario, terminal_id)

    def terminal_scenario(self, terminal_id: str) -> Scenario | None:
        with self.lock:
            return self.scenarios.by_terminal.get(terminal_id)

    def terminal_scenarios(self) -> dict[str, Scenario]:
        with self.lock:
            return dict(self.scenarios.by_terminal)

    def scenario_progress(self, reference: str) -> dict[str, object] | None:
        with self.lock:
            return self.scenarios.progress(reference)

    # --- hooks -----------------------------------------------------------------------------------

    def scenario_intercept(self, call: Call) -> Step | None:
        """Before a SOAP call: apply what fires now; the step returned changes the answer."""
        with self.lock:
            self.run_due()
            reference = self._scenario_reference(call)
            decision = self.scenarios.intercept(call, reference, self.clock.elapsed())
            self._perform(reference, decision)
            return decision.override

    def scenario_observe(self, call: Call) -> None:
        """After SEQR answered a SOAP call with success (and the answer is written)."""
        with self.lock:
            reference = self._scenario_reference(call)
            self._perform(reference, self.scenarios.observe(call, reference, self.clock.elapsed()))

    def notification_plan(self, reference: str) -> NotificationPlan | None:
        """The plan armed for the invoice's notification being sent now (used once)."""
        with self.lock:
            return self.scenarios.take_plan(reference)

    # --- applying decisions ----------------------------------------------------------------------

    def _scenario_for_issue(self, terminal: Terminal, data: InvoiceData) -> Scenario | None:
        marker = find_marker(data.title, data.client_invoice_id)
        if marker is None and not self.scenarios.active:
            return None
        return self.scenarios.scenario_for(terminal.id, marker)

    def _begin_scenario(self, made: Invoice, scenario: Scenario | None) -> None:
        if scenario is None:
            return
        with self.lock:
            now = self.clock.elapsed()
            decision = self.scenarios.issued(made.reference, made.terminal_id, scenario, now)
            self._perform(made.reference, decision)

    def _scenario_tick(self, found: Invoice) -> None:
        decision = self.scenarios.tick(found.reference, self.clock.elapsed())
        self._perform(found.reference, decision)

    def _scenario_reference(self, call: Call) -> str | None:
        """The invoice a call is about, if it is the calling terminal's own."""
        reference = call.reference
        if not reference and call.ers_reference:
            reference = self.payments.get(call.ers_reference.strip())
        if not reference and call.operation == "getPaymentStatus":
            terminal = self.terminals.get(call.principal or "")
            reference = terminal.open_invoice if terminal and terminal.cash_register else None
        found = self.invoices.get(reference.strip()) if reference else None
        if found is None or found.terminal_id != call.principal:
            return None
        return found.reference

    def _perform(self, reference: str | None, decision: Decision) -> None:
        if not decision.moves and decision.wake is None:
            return
        found = self.invoices.get(reference) if reference else None
        if found is None:
            return
        for move in decision.moves:
            if move.plan is not None:
                self.scenarios.arm(found.reference, move.plan)
            if move.step.do is not None:
                self._act(found, move.step, decision.scenario)
        if decision.wake is not None:
            self._schedule_at(decision.wake, SCENARIO_DEADLINE, found.reference)

    def _act(self, found: Invoice, step: Step, scenario: str) -> None:
        reference = found.reference
        action = step.do
        try:
            if action is Action.SCAN:
                self.scan(reference)
            elif action is Action.PRESENT_TOKEN:
                tokens = [CustomerToken(t.id, t.value, t.description) for t in step.tokens]
                self.scan(reference, tokens)
            elif action is Action.PAY:
                self.pay(reference)
            elif action is Action.RESERVE:
                if not found.data.effective_payment_mode.reserves:
                    raise IllegalMove("its paymentMode is IMMEDIATE_DEBIT: nothing to reserve")
                self.pay(reference, reserve=True)
                if step.timeout is not None:
                    self._schedule(step.timeout, "reservation", reference)
            elif action is Action.CANCEL:
                self.customer_cancel(reference)
            elif action is Action.FAIL:
                self.fail(reference)
        except IllegalMove as exc:
            event = f"scenario {scenario}: step {step.number} ({step.describe()}) skipped: {exc}"
            entry = HistoryEntry(self.clock.now(), event, found.status, found.version)
            found.history.append(entry)
