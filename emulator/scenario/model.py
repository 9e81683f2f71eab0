"""Scenarios as data: a description and ordered steps, each saying when and what.

Triggers, actions and notification plans are closed sets (enums). A `Step` made by the loader
is always coherent: which keys go with which trigger and action is checked there, so the
engine never meets a step it cannot carry out. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LONGEST = 10 * 365 * 24 * 3600
"""Seconds: the longest duration a step or a setting takes (ten years of emulator time)."""

MARKER_PREFIX = "[scenario:"
"""Opens the per-invoice marker `[scenario:NAME]` in an invoice's title or clientInvoiceId."""

DEFAULT_FAULT_STRING = "Fault occurred while processing."
"""What Apache CXF wrote in a soap:Server fault when the service threw."""

OPERATIONS = frozenset(
    {
        "sendInvoice",
        "updateInvoice",
        "getPaymentStatus",
        "cancelInvoice",
        "commitReservation",
        "submitPaymentReceipt",
        "refundPayment",
        "registerTerminal",
        "unregisterTerminal",
        "assignSeqrId",
        "markTransactionPeriod",
        "executeReport",
        "getClientSessionInfo",
        "benchmarkingNop",
        "requestTopup",
        "requestTransfer",
        "requestPurchase",
        "requestPrincipalInformation",
        "changePrincipalPassword",
        "confirmCustomerRegistration",
    }
)
"""Every operation of the merchant port a step may wait for."""

INVOICE_OPERATIONS = frozenset(
    {
        "updateInvoice",
        "getPaymentStatus",
        "cancelInvoice",
        "commitReservation",
        "submitPaymentReceipt",
        "refundPayment",
    }
)
"""Operations about one existing invoice: they follow that invoice's scenario, if any."""


class ScenarioError(ValueError):
    """A scenario that cannot be used; `str()` is one line naming the file, the step, the reason."""

    def __init__(self, source: str, reason: str, step: int | None = None) -> None:
        self.source = source
        self.step = step
        self.reason = " ".join(reason.split())
        where = source if step is None else f"{source}: step {step}"
        super().__init__(f"{where}: {self.reason}")


class UnknownScenario(ScenarioError):
    """A name (in a marker, a control call or `--scenario`) that is not in the catalogue."""

    def __init__(self, name: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(f"[scenario:{name}]", f"no scenario named {name!r} (known: {listed})")
        self.name = name


class Trigger(StrEnum):
    """When a step fires, counted from the moment it is reached (the previous step fired)."""

    NOW = "now"  # at once; a customer action waits for the invoice to be issued
    POLLS = "polls"  # once `polls` getPaymentStatus calls have been answered
    AFTER = "after"  # `seconds` later on the emulator clock
    OPERATION = "operation"  # when the merchant calls `operation`


class Action(StrEnum):
    """What a step does: the customer acts, or SEQR's answer to the triggering call misbehaves."""

    # The customer, in the SEQR app.
    SCAN = "scan"
    PRESENT_TOKEN = "present-token"  # scan presenting loyalty `tokens`
    PAY = "pay"
    RESERVE = "reserve"
    CANCEL = "cancel"
    FAIL = "fail"
    # SEQR answers the triggering call without carrying it out.
    ANSWER = "answer"  # a normal answer with `result_code`
    FAULT = "fault"  # a SOAP Fault, HTTP 500
    # SEQR carries the call out; only its answer is disturbed on the way back.
    RESET = "reset"  # the connection is reset (RST), no answer
    EMPTY = "empty"  # the connection is closed without an answer
    TRUNCATE = "truncate"  # the answer's XML is cut in half
    SLOW = "slow"  # the call is carried out and answered after `duration` seconds

    @property
    def by_customer(self) -> bool:
        return self in _CUSTOMER

    @property
    def on_call(self) -> bool:
        """True for actions that change how the triggering operation is answered."""
        return not self.by_customer


_CUSTOMER = frozenset(
    {Action.SCAN, Action.PRESENT_TOKEN, Action.PAY, Action.RESERVE, Action.CANCEL, Action.FAIL}
)


class Delivery(StrEnum):
    """What happens to the next notification of the invoice (protocol §7.1 POST)."""

    DELIVER = "deliver"
    DROP = "drop"  # never sent
    DELAY = "delay"  # sent `delay` seconds later (emulator clock)
    DUPLICATE = "duplicate"  # sent `copies` times
    LATE = "late"  # sent once the acknowledgment window has closed, after the reversal it caused


@dataclass(frozen=True, slots=True)
class Token:
    """A loyalty token the customer presents: `id` is its type, `value` e.g. the card number."""

    id: str
    value: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationPlan:
    """How the next notification of an invoice is carried out: the one vocabulary of plans,
    read from scenario files and carried out by the notifier. `delay` is emulator seconds
    (for `delay`); `copies` how many are sent (for `duplicate`)."""

    delivery: Delivery = Delivery.DELIVER
    delay: float = 0.0
    copies: int = 1

    def __post_init__(self) -> None:
        if not self.delay >= 0:  # also refuses NaN
            raise ValueError("a notification delay cannot be negative")
        if self.copies < 1:
            raise ValueError("a notification is sent at least once")


DELIVER = NotificationPlan()
"""The plan of a notification no scenario step planned: sent once, now."""


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a scenario; fields not used by its trigger and action keep their defaults."""

    number: int  # 1-based, as error messages and views name it
    when: Trigger
    polls: int = 0
    seconds: float = 0.0
    operation: str | None = None
    do: Action | None = None
    tokens: tuple[Token, ...] = ()
    timeout: float | None = None  # reserve: the reservation lapses unless committed in time
    result_code: int | None = None
    fault_code: str = "Server"
    fault_string: str = DEFAULT_FAULT_STRING
    duration: float = 0.0  # slow
    times: int = 1  # calls an on-call action applies to before the scenario moves on
    probability: float = 1.0
    notification: NotificationPlan | None = None

    def describe(self) -> str:
        """A short human line, for views and logs."""
        if self.when is Trigger.POLLS:
            when = f"after {self.polls} poll(s)"
        elif self.when is Trigger.AFTER:
            when = f"after {self.seconds:g} s"
        elif self.when is Trigger.OPERATION:
            when = f"on {self.operation}"
        else:
            when = "now"
        what = [self.do.value] if self.do else []
        if self.notification is not None:
            what.append(f"notification {self.notification.delivery.value}")
        return f"{when}: {', '.join(what) or 'wait'}"


@dataclass(frozen=True, slots=True, eq=False)
class Scenario:
    """A named, ordered script. Compared by identity: runs in progress key on the object."""

    name: str
    description: str
    steps: tuple[Step, ...]
    seed: int | None = None
    source: str = "inline"  # the file it came from
