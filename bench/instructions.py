"""Instructions per SOAP call, counted by callgrind: the figure an optimization is judged by
on a machine too busy for wall-clock time to mean anything.

    python bench/instructions.py send          # callgrind, 0 and 2,000 calls: instructions a call
    python bench/instructions.py fresh --calls 500
    python bench/instructions.py send --run 100   # the loop alone, no valgrind (for a profiler)
    python bench/instructions.py poll --journal 0   # the journal off (--journal 10: full)
    python bench/instructions.py send --part read   # one part of the call alone (PARTS)

The emulator is built as `seqr-emulator serve --ack-window 0` builds it (`create_app`, its
listeners and the heap freezer subscribed), and `SoapEndpoint.handle` is called in a loop
with the bench's own request bodies (bench/run.py). The process is run twice under
`valgrind --tool=callgrind` with PYTHONHASHSEED=0, once making no call and once making
`--calls`; every request body is built in both, so the difference over the calls is what the
calls cost: parse, backend, answer and journal, not the HTTP stack (the ceiling's part).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

KINDS = ("poll", "fresh", "paid", "send", "send-big", "refund", "pay")
# Parts of a call, each counted alone on the kind's request: lxml's parse as the endpoint
# makes it (`SoapEndpoint._tree`, its tree freed), the whole of `_parse` (the parse, finding
# the payload, `Codec.read`), `Codec.read` on a parsed payload, a bare walk reading every
# element's tag and text (lxml's share of the read), the request's dicts to the domain's
# invoice, and the backend's verb (sendInvoice only).
PARTS = ("tree", "parse", "read", "walk", "invoice", "verb")
BIG = 100_000  # invoices stored before `send-big`


def loop(
    kind: str, calls: int, prepared: int, journal: int | None = None, part: str | None = None
) -> None:
    """Build the emulator and `prepared` request bodies, then make `calls` of them; with
    `journal` the journal's size (0: off; a size below the warm-up's 50 calls: full, so every
    call counted also drops the oldest entry, as in a long run)."""
    import run  # bench/run.py: the request bodies the benchmark sends

    from emulator.app import BACKEND, SOAP, create_app
    from emulator.settings import Settings

    settings = Settings(ack_window=0)
    if journal is not None:
        settings = dataclasses.replace(settings, journal_size=journal)
    app = create_app(settings, freeze_heap=True)
    endpoint, backend = app[SOAP], app[BACKEND]
    handle = endpoint.handle
    issued = run.field(handle(run.send_invoice()).body, "invoiceReference")
    bodies: list[bytes]
    if kind == "poll":
        bodies = [run.payment_status(issued)] * prepared
    elif kind == "fresh":
        template = run.payment_status(issued, client_id=run.VARY)
        bodies = [template.replace(run.VARY.encode(), b"%d" % i) for i in range(prepared)]
    elif kind == "paid":
        backend.pay(issued)
        bodies = [run.payment_status(issued)] * prepared
    elif kind in ("send", "send-big"):
        if kind == "send-big":
            for _ in range(BIG):
                handle(run.send_invoice())
        bodies = [run.send_invoice()] * prepared
    elif kind == "refund":
        big = run.field(handle(run.send_invoice("1000000000.00")).body, "invoiceReference")
        backend.pay(big)
        ers = run.field(handle(run.payment_status(big)).body, "ersReference")
        bodies = [run.refund(ers)] * prepared
    elif kind == "pay":  # the control API's verb, for comparison: no SOAP at all
        sent = [handle(run.send_invoice()).body for _ in range(prepared)]
        refs = [run.field(body, "invoiceReference") for body in sent]
        for ref in refs[:calls]:
            backend.pay(ref)
        return
    else:
        raise SystemExit(f"unknown kind {kind!r}")
    for body in bodies[:50]:  # warm: writers generated, memo filled, caches primed
        handle(body)
    if part is not None:
        call = _part(part, endpoint, backend, bodies[0])
        for _ in range(50 + calls):
            call()
        return
    for body in bodies[50 : 50 + calls]:
        reply = handle(body)
        assert reply.status == 200, reply.body[:300]


def _part(part: str, endpoint: Any, backend: Any, body: bytes) -> Callable[[], object]:
    """The function that does `part` (PARTS) of a call with `body` once."""

    from emulator.soap import mapping, transport

    payload = transport._payload(endpoint._tree(body))
    operation = transport._OPERATIONS[payload.tag]
    _, _, request = endpoint._parse(body)
    creds = mapping.credentials(request)
    if part == "tree":
        return lambda: endpoint._tree(body)
    if part == "parse":
        return lambda: endpoint._parse(body)
    if part == "read":
        return lambda: endpoint.codec.read(payload, operation.request, False, operation.keeps)
    if part == "walk":
        return lambda: [(e.tag, e.text) for e in payload.iter()]
    invoice = request.get("invoice")
    if part == "invoice" and invoice is not None:
        return lambda: mapping.invoice_in(invoice)
    if part == "verb" and payload.tag.endswith("}sendInvoice"):
        data = mapping.invoice_in(invoice)
        return lambda: backend.send_invoice(creds, data, default_ack=None, marker=None)
    raise SystemExit(f"no part {part!r} of this kind of call")


def collected(
    kind: str, calls: int, prepared: int, journal: int | None, part: str | None = None
) -> int:
    """Instructions callgrind counted in a whole process making `calls` calls."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "callgrind.out")
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                kind,
                "--run",
                str(calls),
                "--prepared",
                str(prepared),
                *([] if journal is None else ["--journal", str(journal)]),
                *([] if part is None else ["--part", part]),
            ],
            env=dict(os.environ, PYTHONHASHSEED="0"),
            capture_output=True,
            text=True,
        )
        found = re.search(r"Collected : (\d+)", proc.stderr)
        assert proc.returncode == 0 and found, proc.stderr[-2000:]
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--run", type=int, help="make this many calls, without valgrind")
    parser.add_argument("--prepared", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--journal", type=int, help="the journal's size (0: off)")
    parser.add_argument("--part", choices=PARTS, help="count one part of the call alone")
    args = parser.parse_args()
    if args.run is not None:
        loop(args.kind, args.run, args.prepared or args.run + 50, args.journal, args.part)
        return
    prepared = args.calls + 50
    none = collected(args.kind, 0, prepared, args.journal, args.part)
    some = collected(args.kind, args.calls, prepared, args.journal, args.part)
    what = args.kind if args.part is None else f"{args.kind}, {args.part}"
    print(f"{what}: {(some - none) / args.calls / 1000:.1f}k instructions a call")


if __name__ == "__main__":
    main()
