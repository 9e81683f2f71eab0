"""The scenario engine: given the scenario in force and an event, decide what happens next.

Pure and synchronous, standard library only: it never touches an invoice. It answers the
backend (which holds the lock and applies every decision with its own verbs) with a
`Decision`: customer moves to make in order, a notification plan to arm before each, an
answer to put in place of the triggering call, and when to wake it up again.

Selection, strongest first: a `[scenario:NAME]` marker in the invoice's title or
clientInvoiceId, the terminal's scenario, the default. The scenario in force when an invoice
is issued drives that invoice to its end. Steps on sendInvoice (or on an operation with no
invoice) apply to the attempts that lead to the next invoice of that terminal, held as a
pending run that the invoice takes over once it is issued.

A run is small: the step reached, what has been counted since (polls, times applied), when it
was reached on the emulator clock and its own random stream, seeded from (seed, scenario,
terminal, run number) so parallel terminals never disturb each other's draws. Finished runs
are forgotten; a notification plan armed by a step waits beside them until it is used.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from emulator.scenario.model import (
    INVOICE_OPERATIONS,
    MARKER_PREFIX,
    NotificationPlan,
    Scenario,
    Step,
    Trigger,
    UnknownScenario,
)

POLL = "getPaymentStatus"
ISSUE = "sendInvoice"
_MARKER = re.compile(re.escape(MARKER_PREFIX) + r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\]", re.I)


def find_marker(*texts: str | None) -> str | None:
    """The NAME of the first `[scenario:NAME]` in the given texts (title, clientInvoiceId)."""
    for text in texts:
        if text and "[" in text:
            found = _MARKER.search(text)
            if found is not None:
                return found.group(1)
    return None


class Call(NamedTuple):
    """A merchant's call as the engine sees it; `principal` is the context's principal id.

    A named tuple: one is made for every SOAP call that is parsed, and a frozen dataclass
    costs three times as much to make (its __init__ sets each field through
    object.__setattr__)."""

    operation: str
    principal: str | None = None
    reference: str | None = None
    ers_reference: str | None = None
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class Move:
    """One fired step for the backend to apply: arm `plan` first, then make the customer act."""

    step: Step
    plan: NotificationPlan | None


@dataclass(frozen=True, slots=True)
class Decision:
    moves: tuple[Move, ...] = ()
    override: Step | None = None  # its `do` replaces or disturbs the answer to the call
    wake: float | None = None  # emulator-clock mark at which to `tick` this invoice again
    scenario: str = ""  # the name of the scenario that decided


NOTHING = Decision()


@dataclass(slots=True)
class Run:
    scenario: Scenario
    rng: random.Random
    reference: str | None = None
    index: int = 0
    reached: float = 0.0
    polls: int = 0
    applied: int = 0

    @property
    def finished(self) -> bool:
        return self.index >= len(self.scenario.steps)

    @property
    def step(self) -> Step | None:
        steps = self.scenario.steps
        return steps[self.index] if self.index < len(steps) else None


class Engine:
    """Which scenario is in force where, and the progress of every scripted invoice."""

    def __init__(
        self,
        catalogue: Mapping[str, Scenario] | None = None,
        default: Scenario | None = None,
        seed: int | None = None,
    ) -> None:
        self.catalogue: dict[str, Scenario] = dict(catalogue or {})
        self.start_default = default
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Forget runs and control-API selections; the start default comes back."""
        self.default = self.start_default
        self.by_terminal: dict[str, Scenario] = {}
        self.runs: dict[str, Run] = {}
        self.pending: dict[tuple[str, Scenario], Run] = {}
        self.plans: dict[str, NotificationPlan] = {}  # invoice -> plan for its next notification
        self._started: dict[tuple[str, str], int] = {}
        self._refresh()

    def _refresh(self) -> None:
        # Read on every SOAP call: a plain attribute, so the unscripted path costs one load.
        self.active = bool(
            self.default or self.by_terminal or self.runs or self.pending or self.plans
        )

    # --- selection -----------------------------------------------------------------------------

    def use(self, scenario: Scenario | None, terminal: str | None = None) -> None:
        """The default (no terminal), or one terminal's scenario; None clears it."""
        if terminal is None:
            self.default = scenario
        elif scenario is None:
            self.by_terminal.pop(terminal, None)
        else:
            self.by_terminal[terminal] = scenario
        self._refresh()

    def forget_terminal(self, terminal: str, references: list[str]) -> None:
        """A terminal's reset: its selection, its runs and plans, and its run numbering (so
        its seeded draws start over); no other terminal's."""
        self.by_terminal.pop(terminal, None)
        for reference in references:
            self.runs.pop(reference, None)
            self.plans.pop(reference, None)
        for pending in [k for k in self.pending if k[0] == terminal]:
            del self.pending[pending]
        for started in [k for k in self._started if k[0] == terminal]:
            del self._started[started]
        self._refresh()

    def named(self, name: str) -> Scenario:
        found = self.catalogue.get(name)
        if found is None:
            raise UnknownScenario(name, list(self.catalogue))
        return found

    def scenario_for(self, principal: str | None, marker: str | None = None) -> Scenario | None:
        if marker is not None:
            return self.named(marker)
        if principal is not None and self.by_terminal:
            found = self.by_terminal.get(principal)
            if found is not None:
                return found
        return self.default

    # --- events --------------------------------------------------------------------------------

    def issued(self, reference: str, principal: str, scenario: Scenario, now: float) -> Decision:
        """The invoice exists: it takes over its pending run (or starts one); `now` steps fire."""
        run = self.pending.pop((principal, scenario), None) or self._new_run(scenario, principal)
        run.reference = reference
        run.reached = now
        self.runs[reference] = run
        self.active = True
        decision = self._drive(run, now, ISSUE, replacing=False)
        self._settle(run)
        return decision

    def intercept(self, call: Call, reference: str | None, now: float) -> Decision:
        """Before the call is carried out: a step on it may answer instead, or disturb it."""
        run = self._run_for(call, reference, now, create=True)
        if run is None:
            return NOTHING
        decision = self._drive(run, now, call.operation, replacing=True)
        self._settle(run)
        return decision

    def observe(self, call: Call, reference: str | None, now: float) -> Decision:
        """After SEQR answered the call with success: polls are counted, waiting steps fire."""
        if call.operation == ISSUE:
            return NOTHING  # `issued` has seen it
        run = self._run_for(call, reference, now, create=False)
        if run is None:
            return NOTHING
        if call.operation == POLL:
            run.polls += 1
        decision = self._drive(run, now, call.operation, replacing=False)
        self._settle(run)
        return decision

    def tick(self, reference: str, now: float) -> Decision:
        """The emulator clock reached a mark this invoice asked to be woken at."""
        run = self.runs.get(reference)
        if run is None:
            return NOTHING
        decision = self._drive(run, now, None, replacing=False)
        self._settle(run)
        return decision

    # --- notifications -------------------------------------------------------------------------

    def arm(self, reference: str, plan: NotificationPlan) -> None:
        """Apply `plan` to the invoice's next notification (a later arm replaces it)."""
        self.plans[reference] = plan
        self.active = True

    def take_plan(self, reference: str) -> NotificationPlan | None:
        """The plan for the invoice's notification being sent now; it applies once."""
        plan = self.plans.pop(reference, None)
        if plan is not None and not self.plans and not self.runs:
            self._refresh()
        return plan

    def scenario_of(self, reference: str) -> str | None:
        """The name of the scenario an invoice runs, if any; `progress` without building it."""
        run = self.runs.get(reference)
        return None if run is None else run.scenario.name

    def progress(self, reference: str) -> dict[str, object] | None:
        run = self.runs.get(reference)
        if run is None:
            return None
        step = run.step
        return {
            "name": run.scenario.name,
            "step": None if step is None else step.number,
            "steps": len(run.scenario.steps),
            "waiting": None if step is None else step.describe(),
        }

    # --- the state machine ---------------------------------------------------------------------

    def _run_for(self, call: Call, reference: str | None, now: float, create: bool) -> Run | None:
        if reference is not None:
            return self.runs.get(reference)
        if call.operation in INVOICE_OPERATIONS:
            return None  # an unknown invoice, or one issued before any scenario: left alone
        scenario = self.scenario_for(call.principal, call.marker)
        if scenario is None:
            return None
        key = (call.principal or "", scenario)
        run = self.pending.get(key)
        if run is None and create:
            run = self.pending[key] = self._new_run(scenario, call.principal or "")
            run.reached = now
            self.active = True
        return run

    def _new_run(self, scenario: Scenario, principal: str) -> Run:
        counter = (principal, scenario.name)
        number = self._started.get(counter, 0)
        self._started[counter] = number + 1
        seed = scenario.seed if scenario.seed is not None else self.seed
        if seed is None:
            return Run(scenario, random.Random())
        return Run(scenario, random.Random(f"{seed}/{scenario.name}/{principal}/{number}"))

    def _drive(self, run: Run, now: float, operation: str | None, *, replacing: bool) -> Decision:
        moves: list[Move] = []
        override: Step | None = None
        used = operation is None  # a call fires at most one step waiting for a call
        while (step := run.step) is not None:
            if not self._fires(run, step, now, operation, replacing, used):
                break
            if step.probability < 1.0 and run.rng.random() >= step.probability:
                if step.when in (Trigger.NOW, Trigger.AFTER):
                    self._next(run, now, step)  # a timed chance missed is a step skipped
                    continue
                break  # the call goes through untouched; the step waits for the next one
            if step.do is not None and step.do.on_call:
                override, used = step, True
                run.applied += 1
                if run.applied < step.times:
                    break
                self._next(run, now, step)
                continue
            if step.when in (Trigger.POLLS, Trigger.OPERATION):
                used = True
            moves.append(Move(step, step.notification))
            self._next(run, now, step)
        step = run.step
        wake = None
        if step is not None and step.when is Trigger.AFTER and run.reference is not None:
            wake = run.reached + step.seconds
        if not moves and override is None and wake is None:
            return NOTHING
        return Decision(tuple(moves), override, wake, run.scenario.name)

    @staticmethod
    def _fires(
        run: Run, step: Step, now: float, operation: str | None, replacing: bool, used: bool
    ) -> bool:
        customer = step.do is not None and step.do.by_customer
        if (customer or step.notification is not None) and run.reference is None:
            return False  # the customer, and a notification, need an invoice
        if step.when is Trigger.NOW:
            return True
        if step.when is Trigger.AFTER:
            return run.reference is not None and now >= run.reached + step.seconds
        if used or operation is None:
            return False
        if step.when is Trigger.POLLS:
            return not replacing and operation == POLL and run.polls >= step.polls
        on_call = step.do is not None and step.do.on_call
        return operation == step.operation and on_call == replacing

    @staticmethod
    def _next(run: Run, now: float, fired: Step) -> None:
        # A timed step counts the next one from its own mark, so one big clock advance plays
        # `after 10` then `after 10` exactly as twenty seconds of waiting would.
        timed = fired.when is Trigger.AFTER and run.reference is not None
        run.reached = run.reached + fired.seconds if timed else now
        run.index += 1
        run.polls = 0
        run.applied = 0

    def _settle(self, run: Run) -> None:
        if not run.finished or run.reference is None:
            return
        self.runs.pop(run.reference, None)
        if not self.runs and not self.pending:
            self._refresh()
