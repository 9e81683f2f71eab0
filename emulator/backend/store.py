"""All of an emulator's mutable records, and the one seam every write goes through.

The parts of the backend read records from here and write them back through the methods
below, each named for what it writes; the domain rules change an invoice in place and the
part that applied them says so with `changed()`. Transaction periods and external services
are written through the methods of `periods` (a `reports.Ledger`) and `services` (a
`services.Registry`), which a lasting store replaces with kinds that tell it of each call
(`backend.tracking`). SEQR ids need no write of their own: `seqr_ids` is an index of the
terminals' `seqr_id` fields, and a terminal whose field changed is put again.

Nothing else holds state that outlives a call: the scenario engine's runs, the deadline heap
and the indexes (payments, SEQR ids) are derived, and rebuilt at reset and at load.

`Store` keeps everything in dictionaries. A store that lasts across restarts is a subclass
that also writes each record it is told about; `flush()` is called once at the end of every
backend verb, under the backend's lock and before the verb's answer leaves, so a write that
was answered is a write that was made. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from emulator.backend.restart import Due, pending
from emulator.clock import IdFactory
from emulator.domain import reports
from emulator.domain import services as ext
from emulator.domain.model import Amount, Invoice, InvoiceData, InvoiceRow, Reseller, Terminal
from emulator.scenario.model import Scenario


class StateError(Exception):
    """A state file the emulator cannot use; the message names it and says why. Here, not
    with the file's store (`lasting`), so that naming it imports no SQLite."""


SHARED_LIMIT = 4096
"""Distinct amounts, and distinct rows, `Shared` keeps at most before it starts afresh."""


class Shared:
    """One object for equal amounts and equal invoice rows, across the stored invoices.

    A CI fleet sends the same few rows and totals again and again, and a one-row invoice's
    row total is its total. Equal is what the merchant sent, as sent: a table is looked up by
    value and what it finds is taken only when its decimals are the very objects sent (the
    SOAP codec reads an equal text once into one object), so `2.0` never becomes `2`. Amounts
    are frozen; a row is never changed in place (updateInvoice replaces the whole of `data`),
    so sharing one is unseen. Bounded: past `SHARED_LIMIT` entries a table starts afresh, and
    what it shared stays shared.

    Worth: 903 bytes a stored invoice against 1,117 (`bench/run.py`'s measurement, 100,000
    invoices; tracemalloc: 664 bytes of objects against 864, two amounts and a row fewer),
    for 4k instructions of a sendInvoice, which the plain defaults of `Invoice` and the
    leaner `add_invoice` pay back: 451.4k against 451.0k (`bench/instructions.py send`).
    """

    __slots__ = ("_amounts", "_rows")

    def __init__(self) -> None:
        self._amounts: dict[tuple[Decimal, str], Amount] = {}
        self._rows: dict[tuple[object, ...], InvoiceRow] = {}

    def amount(self, amount: Amount) -> Amount:
        amounts = self._amounts
        value = amount.value
        key = (value, amount.currency)
        found = amounts.get(key)
        if found is None:
            if len(amounts) >= SHARED_LIMIT:
                amounts.clear()
            amounts[key] = amount
        elif found.value is value:
            return found
        return amount

    def data(self, data: InvoiceData) -> None:
        """The invoice's amounts and rows made the ones already kept where equal. Written
        out for a row with a total and no other amount: this runs in every sendInvoice."""
        amount = self.amount
        total = data.total
        if total is not None:
            data.total = amount(total)
        rows = data.rows
        if not rows:
            return
        kept = self._rows
        for i, row in enumerate(rows):
            total = row.total
            if total is None or row.discount is not None or row.unit_price is not None:
                self._amounts_of(row)
                continue
            total = row.total = amount(total)
            quantity, tax_rate = row.quantity, row.tax_rate
            key = (
                row.description,
                row.ean,
                row.sku,
                row.unit,
                quantity,
                tax_rate,
                total.value,
                total.currency,
            )
            same = kept.get(key)
            if same is None:
                if len(kept) >= SHARED_LIMIT:
                    kept.clear()
                kept[key] = row
            elif same.total is total and same.quantity is quantity and same.tax_rate is tax_rate:
                rows[i] = same

    def _amounts_of(self, row: InvoiceRow) -> None:
        """A row with a discount or a unit price: its amounts shared, the row its own."""
        amount = self.amount
        if row.discount is not None:
            row.discount = amount(row.discount)
        if row.total is not None:
            row.total = amount(row.total)
        if row.unit_price is not None:
            row.unit_price = amount(row.unit_price)


class Store:
    """Invoices, the payment index, principals, SEQR ids, transaction periods and services."""

    def __init__(self) -> None:
        self.invoices: dict[str, Invoice] = {}
        self.by_terminal: dict[str, list[str]] = {}  # terminal -> its invoices, oldest first
        # payment, refund and receipt ersReference -> the invoiceReference it belongs to
        self.payments: dict[str, str] = {}
        self.terminals: dict[str, Terminal] = {}
        self.removed_terminals: set[str] = set()
        self.resellers: dict[tuple[str, str], Reseller] = {}
        self.seqr_ids: dict[str, str] = {}  # seqrId -> terminalId (the static QR stickers)
        self.periods = reports.Ledger()  # transaction periods per shop and per terminal
        self.services = ext.Registry()  # external services and their customer sessions
        # terminalId -> the scenario chosen for it (PUT /_emulator/terminals/{id}/scenario)
        self.terminal_scenarios: dict[str, Scenario] = {}
        # terminals imported without their password: the first call's password becomes theirs
        self.unclaimed: set[str] = set()
        self.shared = Shared()  # the amounts and rows of the invoices, one for equal ones

    # --- invoices and payments -------------------------------------------------------------

    def invoice(self, reference: str) -> Invoice | None:
        return self.invoices.get(reference)

    def add_invoice(self, invoice: Invoice) -> None:
        reference = invoice.reference
        self.invoices[reference] = invoice
        mine = self.by_terminal.get(invoice.terminal_id)
        if mine is None:
            self.by_terminal[invoice.terminal_id] = [reference]
        else:
            mine.append(reference)
        # as `changed()`, without the call, and no empty list made for `setdefault`: an
        # Invoice made and stored 11.75k instructions against 12.2k (callgrind)
        invoice.changes += 1

    def unindex_payment(self, ers_reference: str) -> None:
        """A payment's or a refund's ersReference no longer names an invoice."""
        self.payments.pop(ers_reference, None)

    def drop_invoices_of(self, terminal_id: str) -> list[str]:
        """Forget the terminal's invoices and their payments; the references forgotten."""
        gone = self.by_terminal.pop(terminal_id, [])
        for reference in gone:
            invoice = self.invoices.pop(reference, None)
            if invoice is None:
                continue
            if invoice.payment is not None:
                self.unindex_payment(invoice.payment.ers_reference)
            for refund in invoice.refunds:
                self.unindex_payment(refund.ers_reference)
        terminal = self.terminals.get(terminal_id)
        if terminal is not None and terminal.open_invoice in gone:
            terminal.open_invoice = None
            self.put_terminal(terminal)
        return gone

    def invoices_of(self, terminal_id: str) -> list[Invoice]:
        """The terminal's invoices, oldest first."""
        found = self.invoices
        return [found[r] for r in self.by_terminal.get(terminal_id, ()) if r in found]

    def changed(self, invoice: Invoice) -> None:
        """A rule changed the invoice in place (status, payment, refunds, receipts, history):
        views made of it before are stale (`Invoice.changes`)."""
        invoice.changes += 1

    def index_payment(self, ers_reference: str, invoice: Invoice) -> None:
        """A payment or refund of the invoice: refundPayment and receipts find it by this."""
        self.payments[ers_reference] = invoice.reference

    def invoice_of_payment(self, ers_reference: str) -> Invoice | None:
        return self.invoices.get(self.payments.get(ers_reference, ""))

    def all_invoices(self) -> list[Invoice]:
        """Oldest first."""
        return list(self.invoices.values())

    def invoice_count(self) -> int:
        return len(self.invoices)

    # --- principals --------------------------------------------------------------------------

    def put_terminal(self, terminal: Terminal) -> None:
        """A new terminal, or one whose fields (open invoice, SEQR id, ...) changed."""
        self.terminals[terminal.id] = terminal

    def remove_terminal(self, terminal: Terminal) -> None:
        """Gone for good: its id answers 29 from now on, even where terminals self-register."""
        self.terminals.pop(terminal.id, None)
        self.removed_terminals.add(terminal.id)

    def claim_password(self, terminal: Terminal, password: str) -> None:
        """The terminal's password is `password` from now on: the configured one, or for an
        unclaimed terminal (imported without its password) the one it first called with."""
        self.unclaimed.discard(terminal.id)
        terminal.password = password
        self.put_terminal(terminal)

    def put_reseller(self, reseller: Reseller) -> None:
        self.resellers[(reseller.id, reseller.user_id)] = reseller

    def put_resellers(self, resellers: Iterable[Reseller]) -> None:
        for reseller in resellers:
            self.put_reseller(reseller)

    # --- scenarios ----------------------------------------------------------------------------

    def put_terminal_scenario(self, terminal_id: str, scenario: Scenario | None) -> None:
        """The scenario chosen for a terminal's invoices from now on; None removes it."""
        if scenario is None:
            self.terminal_scenarios.pop(terminal_id, None)
        else:
            self.terminal_scenarios[terminal_id] = scenario

    # --- what the backend derives at start -------------------------------------------------------

    def keep_ids(self, ids: IdFactory) -> None:
        """The identifier factory of the backend; a lasting store restores and keeps its
        position, so references never repeat across a restart."""

    def pending_deadlines(self) -> list[Due]:
        """The timed rules the stored invoices still wait for (empty for a new store)."""
        return [due for invoice in self.invoices.values() if (due := pending(invoice))]

    # --- the end of a verb ----------------------------------------------------------------------

    def flush(self) -> None:
        """Every write of the verb now ending is made; called under the backend's lock."""

    def close(self) -> None:
        """The emulator stops: a lasting store closes its file."""
