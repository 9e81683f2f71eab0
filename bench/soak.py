"""A bounded soak: mixed merchant traffic for a while, the emulator's memory and descriptors read
every 30 s, then a reset, to see that both stay flat once the store stops growing.

    python bench/soak.py                      # 10 minutes
    python bench/soak.py --minutes 2 --every 10
    python bench/soak.py --minutes 0.5 --invoices 4000 --rounds 3   # reset, and build again

The emulator runs as `seqr-emulator serve` in a process of its own; its RSS and open file
descriptors are read from /proc. Traffic, from a few merchants at once, is the order flow of a
shop (sendInvoice, three polls, the customer pays, a notification to a local receiver, a poll,
a refund) until the store holds `--invoices`; from then on the same flow runs on the invoices
it already holds (polls and refunds by turns, no new invoice; each refund asks for the whole
amount again, which the emulator refuses with 98, as an accepted one would add a record), so
the store stops growing and RSS should stop with it. At the end the emulator is reset and read
once more, after the sweeper's turn that gives the memory back. Only loopback addresses are
used, and every loop ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
import time
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import emulator, field, payment_status, refund, send_invoice


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def soak(url: str, pid: int, seconds: float, every: float, target: int, merchants: int):
    soap = url + "/extclientproxy/service/v2"
    orders: list[tuple[str, str]] = []  # (invoiceReference, payment ersReference)
    counts = {"orders": 0, "polls": 0, "refunds": 0, "errors": 0}
    receiver = web.Application()

    async def notified(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    receiver.router.add_post("/notify", notified)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    notify = f"http://127.0.0.1:{port}/notify"
    deadline = time.monotonic() + seconds
    turns = itertools.count()

    async def post(session: ClientSession, body: bytes) -> bytes:
        async with session.post(soap, data=body, headers={"Content-Type": "text/xml"}) as r:
            answer = await r.read()
            if r.status != 200:
                counts["errors"] += 1
            return answer

    async def merchant(session: ClientSession) -> None:
        while time.monotonic() < deadline:
            try:
                if len(orders) < target:
                    ref = field(
                        await post(session, send_invoice(notify=notify)), "invoiceReference"
                    )
                    for _ in range(3):
                        await post(session, payment_status(ref))
                    async with session.post(f"{url}/_emulator/invoices/{ref}/pay") as paid:
                        await paid.read()
                    ers = field(await post(session, payment_status(ref)), "ersReference")
                    await post(session, refund(ers))
                    orders.append((ref, ers))
                    counts["orders"] += 1
                else:  # the store holds enough: the same traffic on what it holds
                    ref, ers = orders[next(turns) % len(orders)]
                    await post(session, payment_status(ref))
                    counts["polls"] += 1
                    await post(session, refund(ers, "398.00"))  # more than is left: 98
                    counts["refunds"] += 1
            except (OSError, AssertionError):
                counts["errors"] += 1

    async def readings() -> None:
        started = time.monotonic()
        while (left := deadline - time.monotonic()) > 0:
            print(
                f"| {time.monotonic() - started:6.0f} s | {rss_mb(pid):7.1f} | "
                f"{descriptors(pid):5d} | {len(orders):9,} | {counts['orders']:7,} | "
                f"{counts['polls']:8,} | {counts['errors']:6,} |",
                flush=True,
            )
            await asyncio.sleep(min(every, left))

    print("| time | RSS MB | fds | invoices | orders | polls | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    async with ClientSession(connector=TCPConnector(limit=merchants)) as session:
        await asyncio.gather(readings(), *(merchant(session) for _ in range(merchants)))
        async with session.post(f"{url}/_emulator/reset") as reset:
            await reset.read()
    await runner.cleanup()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--every", type=float, default=30.0, help="seconds between readings")
    parser.add_argument("--invoices", type=int, default=20_000, help="the store's size")
    parser.add_argument("--merchants", type=int, default=4)
    parser.add_argument(
        "--rounds", type=int, default=1, help="soaks one after another, each ended by a reset"
    )
    args = parser.parse_args(argv)
    with emulator() as server:
        pid = server.proc.pid
        before = rss_mb(pid), descriptors(pid)
        print(f"start: {before[0]:.1f} MB RSS, {before[1]} descriptors")
        seconds = args.minutes * 60
        for _ in range(args.rounds):  # a store built again after a reset reuses the memory
            asyncio.run(soak(server.url, pid, seconds, args.every, args.invoices, args.merchants))
            time.sleep(1.5)  # the sweeper's next pass, which gives memory back; not asserted
            print(f"after the reset: {rss_mb(pid):.1f} MB RSS, {descriptors(pid)} descriptors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
