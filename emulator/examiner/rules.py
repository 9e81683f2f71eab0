"""The conformance rules: what SEQR's documentation asks of a merchant's calls over time.

Each rule has a stable id (reports and baselines key on it), a severity and the document and
section it comes from, so a merchant told "you broke it" can read why. The severities:

- `error`: SEQR would have lost or refused money over it (a reversed payment, a refund
  answered 98, a receipt for a payment that does not exist);
- `warning`: the documentation asks otherwise, and integrations that did it this way hit
  trouble (an app stuck "waiting for amount", a shop that cannot tell its orders apart);
- `info`: what the certification meeting looks for, harmless in a test suite.

The pytest plugin's `--seqr-conformance` fails a test on errors and warnings, never on info.
The catalogue is data; the checks are in `monitor.py`. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a rule is written: the SEQR document, its section, and the protocol sheet's."""

    document: str
    section: str
    sheet: str  # the section(s) of the project's protocol sheet that restate it

    def __str__(self) -> str:
        return f"{self.document}, {self.section} (protocol sheet {self.sheet})"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity
    title: str
    source: Source
    at_close: bool = False  # judged only when the run is over (nothing can still come)


API = "SEQR API reference"
MANUAL = "Cash Register Developer's Manual 2.4.2.1"
WEBSHOP = "SEQR webshop guide"
CERT = "SEQR certification process (webshop and point of sale)"

RULES: tuple[Rule, ...] = (
    Rule(
        "request-timeout-zero",
        Severity.ERROR,
        "clientRequestTimeout is 0",
        Source(API, "clientContext: clientRequestTimeout, always 0", "§3.1, §15"),
    ),
    Rule(
        "client-identified",
        Severity.INFO,
        "clientId and clientReference name the company and the system",
        Source(CERT, "Prerequisites", "§15"),
    ),
    Rule(
        "ack-mode-set",
        Severity.WARNING,
        "sendInvoice sets acknowledgmentMode",
        Source("SEQR FAQ", "app waiting for amount: acknowledgmentMode missing", "§3.1, §12 #14"),
    ),
    Rule(
        "notification-url-present",
        Severity.WARNING,
        "a webshop's sendInvoice carries a notificationUrl",
        Source(WEBSHOP, "notificationUrl: the server-to-server call on payment", "§7.1"),
    ),
    Rule(
        "notification-url-per-order",
        Severity.WARNING,
        "each invoice's notificationUrl names its own order",
        Source(WEBSHOP, "map the notification to the customer session by the URL", "§7.1"),
    ),
    Rule(
        "poll-after-notification",
        Severity.ERROR,
        "getPaymentStatus promptly after a notification",
        Source(WEBSHOP, "on the notification, call getPaymentStatus immediately", "§7.1, §5.5"),
    ),
    Rule(
        "poll-rate",
        Severity.WARNING,
        "getPaymentStatus at about once a second, not in a busy loop",
        Source(MANUAL, "§4.6 getPaymentStatus: poll once per second", "§2.3.3"),
    ),
    Rule(
        "poll-stops-at-final",
        Severity.WARNING,
        "polling stops once the invoice is PAID, CANCELED or FAILED",
        Source(MANUAL, "§4.6 poll while ISSUED; PAID, CANCELED, FAILED are final", "§5.1, §11"),
    ),
    Rule(
        "receipt-after-paid",
        Severity.ERROR,
        "submitPaymentReceipt only for a payment seen PAID, or a refund made",
        Source(API, "submitPaymentReceipt: ersReference of the payment or refund", "§2.3.6, §5.4"),
    ),
    Rule(
        "refund-by-payment-reference",
        Severity.ERROR,
        "refundPayment names the payment's ersReference",
        Source(API, "refundPayment: ersReference of the original payment", "§2.3.7, §5.6"),
    ),
    Rule(
        "refund-within-paid",
        Severity.ERROR,
        "refunds of a payment never add up to more than was paid",
        Source(API, "refundPayment: result 98, sum of refunds above the original", "§5.6"),
    ),
    Rule(
        "cancel-before-paid",
        Severity.WARNING,
        "cancelInvoice only on an invoice not seen PAID (refund a paid one)",
        Source(
            "SEQR point-of-sale guide", "cancelInvoice before the payment is committed", "§2.3.4"
        ),
    ),
    Rule(
        "commit-reserved-only",
        Severity.WARNING,
        "commitReservation only on an invoice seen RESERVED",
        Source(MANUAL, "§5.8 commitReservation; 96 INVOICE_STATE_NOT_RESERVED", "§2.3.5"),
    ),
    Rule(
        "mark-period-at-close",
        Severity.WARNING,
        "markTransactionPeriod when the shop or till closes",
        Source("SEQR reporting guide", "markTransactionPeriod at shift close", "§9, §15"),
        at_close=True,
    ),
)

BY_ID = {rule.id: rule for rule in RULES}
FAILING = frozenset({Severity.ERROR, Severity.WARNING})  # what --seqr-conformance fails on

PROMPT_SECONDS = 5.0
"""How soon after a delivered notification getPaymentStatus must come. SEQR says
"immediately" and reverses the payment after about 20 s (§5.5); 5 s leaves a slow handler
room and still catches one that waits for the next poll of a once-a-minute job."""

BURST = 10
"""Polls of one invoice within one emulator second that make a busy loop. SEQR asks for one
a second; a burst of 10 is no client's idea of that, while a test on a frozen clock, whose
polls all land on one instant, rarely makes more than a few."""

GRACE_AFTER_FINAL = 1
"""Polls allowed once an answer showed a final state: the in-app guide's done page reads the
outcome once more after the notification handler did (§7.2)."""
