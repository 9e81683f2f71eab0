"""SOAP 1.1 over bytes: envelope in, envelope out. No HTTP framework is imported here.

Requests are parsed by namespace, never by prefix, and dispatched on the first Body child
whatever the SOAPAction says. Anything that is not a SEQR request we can read (not XML, not
SOAP 1.1, a DTD, an unknown operation, a value of the wrong type) gets a CXF-style SOAP Fault
and HTTP 500; business outcomes are normal answers with a result code and HTTP 200.

Every call is described once (`mapping.describe_call`) and handed to the backend's one
scenario hook with a function that carries it out. The hook answers with the envelope, or
with the scenario step that answers instead (a chosen resultCode, a SOAP Fault) or disturbs
the answer on its way back (`Disturbance`: reset, empty, truncate, slow), which the HTTP
layer acts out. With no scenario in force the hook only carries the call out.

Every call, read or not, ends as one entry of the backend's journal (`Journal.call`): what it
was, what it was answered, the step that answered or disturbed it, the time it took, and the
bytes both ways (which the journal shows with every password hidden). A poll that repeats
hands the journal the bytes its reading was kept under, so its entries share one copy.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from time import perf_counter
from typing import Any, NamedTuple

from lxml import etree

from emulator.backend import SeqrBackend
from emulator.domain.errors import SeqrError
from emulator.domain.model import Invoice
from emulator.journal import BODY_LIMIT, Journal, RepeatFacts, repeat_facts
from emulator.scenario.engine import Call
from emulator.scenario.model import Action, ScenarioError, Step
from emulator.soap import codec
from emulator.soap.mapping import (
    CallInfo,
    Creds,
    answered_by_scenario,
    credentials,
    describe_call,
    failure,
    handle,
    payment_status_out,
    polled,
)
from emulator.soap.shapes import NAMESPACE  # not `types`: that is spyne, not needed to serve

log = logging.getLogger(__name__)

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPE = "text/xml;charset=UTF-8"
_ENVELOPE = f"{{{SOAP11_ENV}}}Envelope"
_BODY = f"{{{SOAP11_ENV}}}Body"
_OPERATIONS = {f"{{{NAMESPACE}}}{name}": op for name, op in codec.OPERATIONS.items()}
_MEMOIZED = frozenset({"getPaymentStatus"})  # see SoapEndpoint._read
MEMO_SIZE = 2048  # polls remembered: one per invoice a merchant fleet has open at once
MEMO_LONGEST = 4096  # bytes; a larger body is read every time
WEBSHOP = CallInfo()  # a call on a path with no rule of its own
_make = tuple.__new__


def _parser() -> etree.XMLParser:
    # No entity expansion, no DTD loading, no network: XML entity tricks go nowhere.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


@dataclass(frozen=True, slots=True)
class Disturbance:
    """A scenario's misbehaviour on the way back, for the HTTP layer to act out: the
    connection `reset` or closed `empty`, the XML cut (`truncate`), or the answer sent
    `seconds` of emulator time late (`slow`)."""

    kind: str
    seconds: float = 0.0


class SoapReply(NamedTuple):
    """A named tuple, one made per call: a frozen dataclass costs more to make (its
    __init__ sets each field through object.__setattr__)."""

    status: int
    body: bytes
    operation: str | None = None
    disturbance: Disturbance | None = None


Reading = tuple[str, codec.Operation, dict[str, Any], Call, bytes, Creds]
"""What a request says: its operation's name and shape, its payload, the call it is, the
bytes the journal keeps of it (at most BODY_LIMIT), and its credentials."""
Answer = tuple[bytes, dict[str, Any]]  # the envelope, and the result it was written from


class SoapFault(Exception):
    """A request the emulator cannot read; `operation` and `terminal` are what it learned of
    it before it stopped, for the journal."""

    def __init__(
        self, code: str, message: str, operation: str | None = None, terminal: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.operation = operation
        self.terminal = terminal


def fault_body(code: str, message: str) -> bytes:
    text = codec.escape(message)
    return (
        f'<soap:Envelope xmlns:soap="{SOAP11_ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{code}</faultcode><faultstring>{text}</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


class SoapEndpoint:
    """The merchant port: turns request bytes into answer bytes against one backend."""

    def __init__(self, backend: SeqrBackend) -> None:
        self.backend = backend
        self._parser = _parser()
        self.codec = codec.Codec()  # its shared values and writers: this endpoint's alone
        # OrderedDict: dropping the oldest entry of a plain dict that churns scans the
        # deleted slots at its front (3.5 us an insert, measured, against 0.7 us)
        self._polls: OrderedDict[bytes, Reading] = OrderedDict()
        self._seen_once: OrderedDict[bytes, bool] = OrderedDict()
        # invoiceReference -> (the invoice, its `changes`, its till's name, the poll's answer)
        self._answers: OrderedDict[str, tuple[Invoice, int, str | None, Answer]] = OrderedDict()
        # a kept poll's bytes -> (its reading, its answer, its path, their journal facts)
        self._repeats: OrderedDict[bytes, tuple[Reading, Answer, str, RepeatFacts]] = OrderedDict()
        journal = backend.requests
        self._journal = journal if journal.enabled else None  # off: not even a look per call
        self._elapsed = backend.clock.elapsed
        # a terminal with a clock of its own journals its calls at its own time
        self._lead = backend.clocks.own
        self._own_clocks = backend.clocks.own_clocks

    def handle(self, body: bytes, info: CallInfo = WEBSHOP) -> SoapReply:
        journal = self._journal
        at = started = 0.0
        if journal is not None:
            at = self._elapsed()
            started = perf_counter()
        read: Reading | None = None
        answer: Answer | None = None
        step: Step | None = None
        fault: SoapFault | None = None
        try:
            read = self._read(body)
            name = read[0]
            answer, step = self.backend.serve_call(read[3], self._carry_out, read, info)
            if step is None:
                assert answer is not None
                # made by tuple.__new__, not SoapReply's Python-level __new__. Worth
                # (callgrind, per call, with outbox's Event made so): sendInvoice 422.5k
                # against 419.2k
                reply = _make(SoapReply, (200, answer[0], name, None))
            else:
                done = None if answer is None else answer[0]
                reply = _scripted(self.codec, name, read[1], done, step)
        except SoapFault as exc:
            fault = exc
            reply = SoapReply(500, fault_body(exc.code, exc.message))
        except ScenarioError as exc:  # e.g. a marker naming no scenario: the test must know
            fault = SoapFault("Client", str(exc))
            reply = SoapReply(500, fault_body(fault.code, fault.message))
        except Exception:  # the server keeps serving whatever a request does
            log.exception("unexpected error while serving a SOAP request")
            fault = SoapFault("Server", "Internal error in the emulator")
            reply = SoapReply(500, fault_body(fault.code, fault.message))
        if journal is None:
            return reply
        # What the journal costs (callgrind, instructions per call, a full journal on and
        # off): a repeating poll 31.5k against 24.0k (the entry of a repeat; 34.4k with a
        # whole entry each time), a sendInvoice 449k against 437k.
        try:
            if step is None and answer is not None and read is not None:  # most calls
                call = read[3]
                terminal = call.principal
                own = self._own_clocks  # empty unless a terminal moved its own time
                if own and terminal and terminal in own:
                    at += own[terminal].own
                if read[0] == "getPaymentStatus":
                    kept = self._repeats.get(body)
                    if (
                        kept is not None
                        and kept[0] is read
                        and kept[1] is answer
                        and kept[2] == info.path
                    ):
                        journal.repeat(at, (perf_counter() - started) * 1000, kept[3])
                        return reply
                out, result = answer
                invoice, ers = call.reference, call.ers_reference
                if read[0] == "sendInvoice":
                    invoice = result.get("invoiceReference")  # none when refused
                elif invoice is None and ers:
                    invoice = self.backend.invoice_of_payment(ers)
                size = len(out)
                facts = (
                    at,
                    info.path,
                    read[0],
                    terminal,
                    invoice,
                    ers,
                    result["resultCode"],
                    None,
                    None,
                    200,
                    None,
                    (perf_counter() - started) * 1000,
                    read[4],
                    len(body),
                    out if size <= BODY_LIMIT else out[:BODY_LIMIT],
                    size,
                )
                journal.call(facts)
                if read[0] == "getPaymentStatus" and self._polls.get(body) is read:
                    # a kept poll: its next repeat shares these facts (`Journal.repeat`)
                    _bounded_put(
                        self._repeats, body, (read, answer, info.path, repeat_facts(facts))
                    )
            else:
                self._note(journal, at, started, info, body, reply, read, answer, step, fault)
        except Exception:  # the journal never costs a merchant its answer
            log.exception("could not journal a SOAP call")
        return reply

    def refused(self, status: int, reason: str, answer: bytes, info: CallInfo, size: int) -> None:
        """A request the HTTP layer refused before its body was read (413): journaled too,
        with `size` its declared length (-1 when it declared none)."""
        journal = self._journal
        if journal is not None:
            facts = (self._elapsed(), info.path, None, None, None, None, None, None, reason)
            journal.call((*facts, status, None, 0.0, b"", size, answer, len(answer)))

    def _note(
        self,
        journal: Journal,
        at: float,
        started: float,
        info: CallInfo,
        body: bytes,
        reply: SoapReply,
        read: Reading | None,
        answer: Answer | None,
        step: Step | None,
        fault: SoapFault | None,
    ) -> None:
        """The entry of a call a scenario step answered or disturbed, or that failed: one
        tuple, in `journal.CallFacts` order (`handle` writes the common case itself)."""
        took = (perf_counter() - started) * 1000
        code = fault_code = fault_string = ers = None
        name: str | None
        if read is not None:
            name, _, _, call, shown, _ = read
            terminal, invoice, ers = call.principal, call.reference, call.ers_reference
        else:
            name = terminal = invoice = None
            if fault is not None:
                name, terminal = fault.operation, fault.terminal
            shown = _kept(body)
        if answer is not None:
            result = answer[1]
            code = result["resultCode"]
            if name == "sendInvoice":
                invoice = result.get("invoiceReference") or invoice
        if step is not None:
            if step.do is Action.ANSWER:
                code = step.result_code or 0
            elif step.do is Action.FAULT:
                fault_code, fault_string = f"soap:{step.fault_code}", step.fault_string
        if fault is not None:
            fault_code, fault_string = f"soap:{fault.code}", fault.message
        if invoice is None and ers:
            invoice = self.backend.invoice_of_payment(ers)
        out = reply.body
        size = len(out)
        journal.call(
            (
                at + self._lead(terminal) if terminal else at,
                info.path,
                name,
                terminal,
                invoice,
                ers,
                code,
                fault_code,
                fault_string,
                reply.status,
                step,
                took,
                shown,
                len(body),
                out if size <= BODY_LIMIT else out[:BODY_LIMIT],
                size,
            )
        )

    def forget(self) -> None:
        """A backend reset hook: the remembered polls name invoices the reset forgot, and
        kept they would pin, scattered through the heap, memory the reset gives back
        (`heap.OldObjects.release`): 2,048 readings were 3.7 MB in a soak."""
        self._polls.clear()
        self._repeats.clear()
        self._seen_once.clear()
        self._answers.clear()
        self.codec.forget_values()

    def _carry_out(self, read: Reading, info: CallInfo) -> tuple[int, Answer]:
        """The call carried out, for the scenario hook. A method handed its arguments, not a
        closure made per call: the closure made every local of `handle` it read a cell.
        Worth (callgrind, instructions per call): sendInvoice 430.7k against 428.4k, a
        repeating poll 31.7k against 28.9k."""
        name, operation, request, call, _, creds = read
        if name == "getPaymentStatus":
            return self._status(operation, request, creds)
        result = handle(self.backend, request, info, call, creds)
        return result["resultCode"], (self.codec.envelope(operation, result), result)

    def _status(
        self, operation: codec.Operation, request: dict[str, Any], creds: Creds
    ) -> tuple[int, Answer]:
        """getPaymentStatus; its answer is kept per invoice while the invoice stands.

        Merchants poll an open invoice about once a second until it changes, and the answer
        is the same bytes every time until it does. The answer is made of the invoice and
        its till's name alone, so the last one made of each invoice is kept (first in, first
        out, MEMO_SIZE of them) with the invoice's `changes`, which the store counts up on
        every change: a poll whose invoice, count and name are those of the kept answer
        gets it again instead of a new one. The poll itself still runs in full (the
        password, the deadlines, a PAID invoice's acknowledgment), and so does the journal.
        Worth (callgrind, instructions per call with it and without): a repeating poll
        35.2k against 62.8k, a PAID poll with its receipt 35.3k against 195.9k, a poll of
        new bytes each time 191.8k against 219.6k; the count costs sendInvoice nothing seen
        (486.9k against 484.8k).
        """
        try:
            found, till = polled(self.backend, request, creds)
        except SeqrError as error:
            result = failure(error, operation.name)
            return result["resultCode"], (self.codec.envelope(operation, result), result)
        changes = found.changes  # read first: a change while the answer is made makes it stale
        kept = self._answers.get(found.reference)
        if kept is not None and kept[0] is found and kept[1] == changes and kept[2] == till:
            return 0, kept[3]
        result = payment_status_out(found, till)
        answer = (self.codec.envelope(operation, result), result)
        _bounded_put(self._answers, found.reference, (found, changes, till, answer))
        return 0, answer

    def _read(self, body: bytes) -> Reading:
        """The operation and its payload; a poll that repeats is not parsed again.

        Merchants poll getPaymentStatus about once a second per open invoice, and each poll
        of an invoice is the same bytes as the last. Reading is a pure function of the bytes
        and handlers never change a request, so the reading of a poll seen twice is kept in
        a small table (first in, first out) and reused: the poll then costs a hash of its
        body instead of a parse. A poll seen once is only noted, by its bytes: keeping the
        reading of every poll would churn long-lived objects through the garbage collector
        for polls that never repeat (measured: 7% of their throughput). Only polls are kept:
        every other operation changes state, and its bodies differ from call to call. The
        reading holds the bytes the journal keeps, so the entries of a repeating poll share
        the memo's copy.
        Worth (callgrind, instructions per call with the memo and without): a repeating
        poll 64k against 198k, a PAID poll with its receipt 198k against 331k; the
        bookkeeping costs a never-repeating poll 205k against 200k.
        """
        found = self._polls.get(body)
        if found is not None:
            return found
        name, operation, request = self._parse(body)
        # The credentials are read with the request, and kept with it by the memo; they and
        # the reply are named tuples. Worth (callgrind, instructions per call, against frozen
        # dataclasses made per call): a repeating poll 62.8k against 77.5k, a poll of new
        # bytes 219.6k against 229.0k, sendInvoice 484.8k against 497.0k.
        creds = credentials(request)
        read = (name, operation, request, describe_call(name, request, creds), _kept(body), creds)
        if name in _MEMOIZED and len(body) <= MEMO_LONGEST:
            seen = self._seen_once
            if seen.pop(body, False):
                _bounded_put(self._polls, body, read)
            else:
                _bounded_put(seen, body, True)
        return read

    def _tree(self, body: bytes) -> etree._Element:
        """The document, parsed through the parser's feed interface: libxml2's push parser
        reads the bytes where they lie, where `fromstring` first sets up an input buffer.
        Both accept the same documents and build the same trees, but the push parser words
        some refusals vaguer ("no element found" for an undefined entity), so a refused
        document is parsed again by `fromstring` for its message; a failed feed leaves the
        parser reset (tests/test_bad_input.py holds both to `fromstring` on mutated requests).
        Worth (bench/instructions.py, per call): sendInvoice 425.0k -> 411.3k, a poll of
        new bytes 185.0k -> 173.8k, refundPayment 300.7k -> 288.5k.
        The parser is this endpoint's, used only by the event loop's thread, between two
        statements that do not yield: no other document can be fed into it meanwhile.
        """
        parser = self._parser
        try:
            parser.feed(body)
            return parser.close()
        except etree.XMLSyntaxError:
            return etree.fromstring(body, parser)  # raises again, in fromstring's words
        except BaseException:
            self._parser = _parser()  # whatever broke off the feed, the next starts clean
            raise

    def _parse(self, body: bytes) -> tuple[str, codec.Operation, dict[str, Any]]:
        if not body or body.isspace():
            raise SoapFault("Client", "Empty request body")
        try:
            root = self._tree(body)
        except etree.XMLSyntaxError as exc:
            raise SoapFault("Client", f"Error reading XMLStreamReader: {exc.msg}") from None
        # lxml-stubs 0.5 leave DocInfo.doctype out; lxml has had it since 2.0
        if root.getroottree().docinfo.doctype:  # type: ignore[attr-defined]
            raise SoapFault("Client", "DTDs are not allowed in SOAP messages")
        if root.tag != _ENVELOPE:
            if root.tag == f"{{{SOAP12_ENV}}}Envelope":
                raise SoapFault("VersionMismatch", "SOAP 1.2 is not supported; use SOAP 1.1")
            raise SoapFault("Client", f"Not a SOAP 1.1 envelope: {root.tag}")
        payload = _payload(root)
        operation = _OPERATIONS.get(payload.tag)
        if operation is None:
            raise SoapFault(
                "Client",
                f"Unexpected wrapper element {payload.tag} found. Expected a SEQR operation.",
            )
        try:
            # No ":nil" in the bytes (an xsi:nil is always prefixed), no xsi:nil to look for;
            # a NUL byte: UTF-16 or UTF-32. By `find`: `in` on bytes first tries its operand
            # as an int and clears the TypeError. Worth (bench/instructions.py, per call): a
            # sendInvoice 410.1k -> 408.0k, a poll of new bytes 168.8k -> 166.1k, a refund
            # 284.5k -> 282.8k.
            nil = body.find(b":nil") >= 0 or body.find(b"\x00") >= 0
            request = self.codec.read(payload, operation.request, nil, operation.keeps)
        except codec.CodecError as exc:
            exc.path.append(operation.name)  # sendInvoice/invoice/totalAmount/value: ...
            message = f"Unmarshalling Error: {exc}"
            raise SoapFault("Client", message, operation.name, _principal(payload)) from None
        return operation.name, operation, request


def _scripted(
    writer: codec.Codec, name: str, operation: codec.Operation, answer: bytes | None, step: Step
) -> SoapReply:
    """The reply a scenario step chose: its own answer, a Fault, or a disturbed answer."""
    action = step.do
    if action is Action.ANSWER:
        chosen = answered_by_scenario(name, step.result_code or 0)
        return SoapReply(200, writer.envelope(operation, chosen), name)
    if action is Action.FAULT:
        return SoapReply(500, fault_body(step.fault_code, step.fault_string), name)
    assert answer is not None and action is not None, "a disturbed call was carried out"
    seconds = step.duration if action is Action.SLOW else 0.0
    return SoapReply(200, answer, name, Disturbance(action.value, seconds))


def _bounded_put(table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    """Insert, first dropping the oldest entry when the table holds MEMO_SIZE already."""
    if len(table) >= MEMO_SIZE:
        table.popitem(last=False)
    table[key] = value


def _principal(payload: etree._Element) -> str | None:
    """The context's principal id, read from the tree: for the journal's entry of a request
    whose payload could not be read (children by local name, in any namespace)."""
    found: etree._Element | None = payload
    for name in ("context", "initiatorPrincipalId", "id"):
        parent, found = found, None
        for child in parent if parent is not None else ():
            tag = child.tag
            if isinstance(tag, str) and tag.rpartition("}")[2] == name:
                found = child
                break
    text = None if found is None else found.text
    return text.strip() if text else None


def _kept(body: bytes) -> bytes:
    """What the journal keeps of a request: the bytes themselves, their first BODY_LIMIT."""
    return body if len(body) <= BODY_LIMIT else body[:BODY_LIMIT]


def _payload(root: etree._Element) -> etree._Element:
    """The first element in the Body (a loop over the children: `find` is ElementPath)."""
    for part in root:
        if part.tag == _BODY:
            for child in part:
                if child.tag.__class__ is str:
                    return child
            raise SoapFault("Client", "Empty SOAP Body")
    raise SoapFault("Client", "No SOAP Body in the envelope")
