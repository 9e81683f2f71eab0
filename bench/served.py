"""Instructions per request of a served process, its HTTP stack included, counted by callgrind.

    python bench/served.py            # every row, a table of instructions and ratios
    python bench/served.py --requests 1000

On a machine whose speed moves by half within a minute (the ceiling's probes in one run of
`bench/run.py` went from 7,121 to 17,389 requests/s), a goal of 10% cannot be read from
requests per second. A server answering one connection at a time on one core does, per
request, the instructions it does: so each server (`seqr-emulator serve`, or the bare
aiohttp app of `bench/ceiling.py`) is started under `valgrind --tool=callgrind`, warmed, its
counters zeroed (`callgrind_control -z`), sent `--requests` requests, 16 at a time on 16
connections as wrk keeps them in `bench/run.py`, and dumped (`callgrind_control -d`). The
client is another process, so what is counted is the server's work alone: reading the
request, the emulator, writing the answer. A ratio of two such counts is what the same two
servers' throughputs would be on a machine that stood still, but for memory stalls, which
callgrind does not count.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402  (bench/run.py: the request bodies and the emulator's command)

Bodies = Callable[[int], bytes]
CONNECTIONS = 16  # as bench/run.py drives wrk


@dataclass
class Served:
    port: int
    pid: int
    out: Path

    def count(self, path: str, bodies: Bodies, requests: int, warm: int) -> float:
        """Instructions per request, over `requests` after `warm`, kept CONNECTIONS in flight:
        as under wrk, the server finds several requests ready at each turn of its loop."""
        sockets = [socket.create_connection(("127.0.0.1", self.port)) for _ in range(CONNECTIONS)]
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        head += "Content-Type: text/xml; charset=utf-8\r\nContent-Length: "
        made = 0

        def burst(upto: int) -> None:
            nonlocal made
            while made < upto:
                batch = sockets[: upto - made]
                for sock in batch:
                    body = bodies(made)
                    made += 1
                    sock.sendall(f"{head}{len(body)}\r\n\r\n".encode() + body)
                for sock in batch:
                    _answer(sock)

        burst(warm)
        subprocess.run(["callgrind_control", "-z", str(self.pid)], check=True, capture_output=True)
        burst(warm + requests)
        before = set(self.out.parent.glob(self.out.name + "*"))
        subprocess.run(["callgrind_control", "-d", str(self.pid)], check=True, capture_output=True)
        for sock in sockets:
            sock.close()
        (dump,) = set(self.out.parent.glob(self.out.name + "*")) - before
        text = dump.read_text()
        found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        assert found, text[:500]
        return int(found.group(1)) / requests


def _answer(sock: socket.socket) -> bytes:
    """One HTTP answer off `sock`, which must be a 200 with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        rest += chunk
    assert len(rest) == length, "an answer ran into the next"
    return rest


@contextmanager
def served(*args: str) -> Iterator[Served]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "callgrind.out")
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            match = run.READY.search(proc.stdout.readline())
            assert match, "server did not announce itself"
            port = int(match.group(1).rsplit(":", 1)[1].split("/")[0])
            yield Served(port, proc.pid, out)
        finally:
            proc.terminate()
            proc.wait(60)
            if proc.stdout:
                proc.stdout.close()


def emulator_rows(server: Served, requests: int, warm: int) -> dict[str, float]:
    """The rows of `bench/run.py` that one emulator can give, by the same request bodies."""
    url = f"http://127.0.0.1:{server.port}"
    soap = url + run.SOAP_PATH
    issued = run.field(run.http("POST", soap, run.send_invoice()), "invoiceReference")
    paid = run.field(run.http("POST", soap, run.send_invoice("1000000000.00")), "invoiceReference")
    run.http("POST", f"{url}/_emulator/invoices/{paid}/pay")
    ers = run.field(run.http("POST", soap, run.payment_status(paid)), "ersReference")
    fresh = run.payment_status(issued, client_id=run.VARY)

    def same(body: bytes) -> Bodies:
        return lambda i: body

    rows: dict[str, Bodies] = {
        "getPaymentStatus (ISSUED)": same(run.payment_status(issued)),
        "getPaymentStatus (ISSUED), every poll new bytes": (
            lambda i: fresh.replace(run.VARY.encode(), b"%d" % i)
        ),
        "getPaymentStatus (PAID, receipt)": same(run.payment_status(paid)),
        "sendInvoice": same(run.send_invoice()),
        "refundPayment": same(run.refund(ers)),
    }
    path = run.SOAP_PATH
    return {name: server.count(path, bodies, requests, warm) for name, bodies in rows.items()}


@dataclass
class Counted:
    """Instructions per request: the ceiling's, and each row's with the journal on and off."""

    requests: int
    ceiling: float
    on: dict[str, float]
    off: dict[str, float]

    @property
    def how(self) -> str:
        """How these were counted, for the lines that quote them."""
        return f"callgrind, {self.requests} requests, {CONNECTIONS} in flight"

    def ratio(self, row: str) -> float:
        """The row's share of the ceiling, journal on: its throughput ratio on a machine
        that stood still."""
        return self.ceiling / self.on[row]

    def journal(self, row: str) -> float:
        """The journal's cost as a throughput ratio: on / off (its instructions off / on)."""
        return self.off[row] / self.on[row]


def measure(requests: int = 320, warm: int = 64) -> Counted:
    with served(str(HERE / "ceiling.py")) as bare:
        ceiling = bare.count(run.SOAP_PATH, lambda i: run.payment_status("1"), requests, warm)
    # a full journal, so that every request also drops the oldest entry, as in a long run
    with served(*run.EMULATOR, "--journal-size", "100") as on:
        rows = emulator_rows(on, requests, warm)
    with served(*run.EMULATOR, "--journal-size", "0") as off:
        unjournaled = emulator_rows(off, requests, warm)
    return Counted(requests, ceiling, rows, unjournaled)


def table(counted: Counted) -> list[str]:
    lines = [
        "| row | instructions, journal on | of the ceiling | journal off | on / off |",
        "|---|---:|---:|---:|---:|",
        f"| ceiling (raw aiohttp, fixed body) | {counted.ceiling / 1000:,.1f}k | - | - | - |",
    ]
    for name, count in counted.on.items():
        lines.append(
            f"| {name} | {count / 1000:,.1f}k | {counted.ratio(name):.0%} | "
            f"{counted.off[name] / 1000:,.1f}k | {counted.journal(name):.0%} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=320)
    parser.add_argument("--warm", type=int, default=64)
    args = parser.parse_args()
    counted = measure(args.requests, args.warm)
    print(f"instructions per served request, callgrind, {args.requests:,} after {args.warm}")
    print()
    print("\n".join(table(counted)))


if __name__ == "__main__":
    main()
