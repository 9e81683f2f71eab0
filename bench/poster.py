"""A bare aiohttp client: the notification latency's yardstick (bench/run.py).

    python bench/poster.py URL COUNT

POSTs the four form fields of a SEQR notification to URL, COUNT times one after another on
one session, as the emulator's notifier sends them, and prints a JSON object: each post's
invoiceReference and the `time.time()` just before it was sent. The receiver notes when
each lands on the same clock.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import ClientSession


async def post_all(url: str, count: int) -> dict[str, float]:
    sent: dict[str, float] = {}
    async with ClientSession() as session:
        for i in range(count):
            ref = f"bare-{i}"
            form = [
                ("invoiceReference", ref),
                ("clientInvoiceId", "1001"),
                ("msisdn", "46700000001"),
                ("subscriberKey", "4711"),
            ]
            sent[ref] = time.time()
            async with session.post(url, data=form, allow_redirects=False) as response:
                await response.read()
    return sent


if __name__ == "__main__":
    print(json.dumps(asyncio.run(post_all(sys.argv[1], int(sys.argv[2])))))
