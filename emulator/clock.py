"""The emulator's time and its identifiers, both injectable so that runs can be repeated.

`Clock` is wall time that tests can freeze, move forward (`advance`) or speed up (`scale`), so
a 20-second acknowledgment window is tested without waiting. `IdFactory` makes every
identifier in SEQR's real formats; with a seed it makes the same ones in every run. Its
`position()` is everything that decides the identifiers still to come, so a lasting state
restores it and a restarted emulator carries on the sequence instead of starting it again.
Standard library only.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SEEDED_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
LATEST = datetime(9990, 1, 1, tzinfo=UTC)
"""Where the clock stops. Every start the settings take is before it (their last year is
9989), and ten years after it, the longest duration any setting takes, is still a datetime:
so no deadline or report delay counted from the clock's `now` can leave datetime's range."""


class ClockError(ValueError):
    """A move the clock refuses (backwards, not finite, past `LATEST`); it does not move."""


class Clock:
    """Wall time as the emulator sees it: a start instant, a speed, and moves made by tests.

    It never leaves datetime's range: `advance` refuses a move past `LATEST` (or one that is
    not a finite number), and a fast clock that runs there stays there, so `now` always
    answers. Nothing a control call does can leave the emulator without a time.
    """

    def __init__(
        self, start: datetime | None = None, *, frozen: bool = False, scale: float = 1.0
    ) -> None:
        if not scale > 0 or not math.isfinite(scale):
            raise ValueError("clock scale must be a positive number")
        self._start = (start or datetime.now(UTC)).astimezone(UTC)
        if self._start >= LATEST:
            raise ValueError(f"the clock cannot start at or after {LATEST.date()}")
        self._last = (LATEST - self._start).total_seconds()  # the most elapsed() may be
        self._mono0 = time.monotonic()
        self._frozen = frozen
        self._scale = scale
        self._offset = 0.0

    def elapsed(self) -> float:
        """Seconds of emulator time since the clock started."""
        run = 0.0 if self._frozen else (time.monotonic() - self._mono0) * self._scale
        return run + self._offset

    def now(self) -> datetime:
        # timedelta(0, s) is timedelta(seconds=s) without its keyword, and the comparison
        # is min() without its call: 6.2k instructions against 8.8k (callgrind)
        elapsed = self.elapsed()
        return self._start + timedelta(0, elapsed if elapsed < self._last else self._last)

    def advance(self, seconds: float) -> datetime:
        """Move forward by `seconds`; ClockError, and no move, for a negative or non-finite
        number or one that would carry the clock past `LATEST`."""
        if not math.isfinite(seconds):
            raise ClockError("the clock moves by a finite number of seconds")
        if seconds < 0:
            raise ClockError("the clock only moves forward")
        left = self._last - self.elapsed()
        if seconds > left:
            raise ClockError(
                f"the clock stops at {LATEST.isoformat()}: at most {max(left, 0.0):.0f}"
                " seconds more"
            )
        self._offset += seconds
        return self.now()

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def frozen(self) -> bool:
        return self._frozen

    def seconds_until(self, elapsed_mark: float) -> float:
        """Real seconds to wait until `elapsed()` reaches the mark (inf when frozen)."""
        left = elapsed_mark - self.elapsed()
        if left <= 0:
            return 0.0
        return float("inf") if self._frozen else left / self._scale


class TerminalClock(Clock):
    """One terminal's own time: the emulator clock plus what was advanced for it alone.

    A CI job that shares an emulator moves its terminal's clock, and only its own timed rules
    (reversals, reservation timeouts, scenario timers, notification delays) feel it; moving
    the emulator clock moves every terminal's. Its lead is the `Clock` offset, so the same
    guards hold: it never leaves datetime's range, and a refused move moves nothing.
    """

    def __init__(self, base: Clock) -> None:  # the base's start, speed and range; no state
        self._base = base
        self._start, self._last = base._start, base._last
        self._frozen, self._scale = base._frozen, base._scale
        self._offset = 0.0

    @property
    def own(self) -> float:
        """Seconds this terminal is ahead of the emulator clock."""
        return self._offset

    def elapsed(self) -> float:
        return self._base.elapsed() + self._offset


@dataclass(frozen=True, slots=True)
class IdPosition:
    """Where an `IdFactory` is in its sequences: restoring it continues them exactly."""

    invoice_base: int
    invoice_seq: int
    ers_seq: int
    virtual_ms: int
    # `random.Random.getstate()`: (version, 625 words, gauss_next); None when not taken
    # (`position(stream=False)`: the stream did not move, and reading it costs ~10 us)
    rng: tuple[Any, ...] | None


class IdFactory:
    """invoiceReference, ersReference, terminal ids and the like, in SEQR's formats.

    Unseeded, the time inside a reference is the clock's. Seeded, it is a virtual time that
    starts at 2026-01-01 and moves one millisecond per reference, so two runs with the same
    seed hand out the same identifiers whatever the wall clock says.
    """

    def __init__(self, clock: Clock, seed: int | None = None) -> None:
        self._clock = clock
        self._seed = seed
        self._lock = threading.Lock()
        # Counted, never reset, so that a lasting store tells with one comparison whether the
        # position moved since it last wrote it (`issued`), and whether the random stream did.
        self.issued = 0
        self.draws = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)
            self._invoice_base = self._rng.randrange(10**9)
            self._invoice_seq = 0
            self._ers_seq = self._rng.randrange(1000)
            self._virtual_ms = 0
            self.issued += 1
            self.draws += 1

    def position(self, *, stream: bool = True) -> IdPosition:
        with self._lock:
            return IdPosition(
                self._invoice_base,
                self._invoice_seq,
                self._ers_seq,
                self._virtual_ms,
                self._rng.getstate() if stream else None,
            )

    def restore(self, position: IdPosition) -> None:
        """Continue from `position` (a lasting store's, or an import's)."""
        with self._lock:
            self._invoice_base = position.invoice_base
            self._invoice_seq = position.invoice_seq
            self._ers_seq = position.ers_seq
            self._virtual_ms = position.virtual_ms
            if position.rng is not None:
                self._rng.setstate(position.rng)
            self.issued += 1
            self.draws += 1

    def _stamp(self, now: datetime | None) -> datetime:
        if self._seed is None:
            return self._clock.now() if now is None else now
        self._virtual_ms += 1
        return SEEDED_EPOCH + timedelta(milliseconds=self._virtual_ms)

    def invoice_reference(self, now: datetime | None = None) -> str:
        """17 digits: yyyyMMdd and nine digits that never repeat within a run. `now` is the
        time on the factory's clock when the caller has just read it (it is not read again)."""
        with self._lock:
            self.issued += 1
            self._invoice_seq += 1
            # 7919 is prime to 10**9, so the sequence visits every 9-digit value once.
            tail = (self._invoice_base + self._invoice_seq * 7919) % 10**9
            day = self._stamp(now)
            # formatted by hand: strftime was 40% of this method (4.3 us against 2.5 us); and
            # by `%`: an f-string formats each field by a call, 11.6k instructions against
            # 6.7k (callgrind)
            return "%04d%02d%02d%09d" % (day.year, day.month, day.day, tail)  # noqa: UP031

    def ers_reference(self, now: datetime | None = None) -> str:
        """25 digits: yyyyMMddHHmmssSSS, then 01 and a six-digit sequence; `now` as for
        `invoice_reference`."""
        with self._lock:
            self.issued += 1
            self._ers_seq = (self._ers_seq + 1) % 10**6
            # the caller's time taken without a call to _stamp: 312.0k -> 310.9k (as below)
            t = now if now is not None and self._seed is None else self._stamp(now)
            # one number of 25 digits formatted once, not eight fields (with Periods.record's
            # store read once): a refundPayment 316.3k -> 313.1k (bench/instructions.py)
            digits = ((t.year * 100 + t.month) * 100 + t.day) * 100 + t.hour
            digits = ((digits * 100 + t.minute) * 100 + t.second) * 1000 + t.microsecond // 1000
            return "%025d" % (digits * 10**8 + 10**6 + self._ers_seq)  # noqa: UP031 (as above)

    def hex_id(self, length: int) -> str:
        """Lower-case hex: 32 for a registered terminalId, 25 for a payerTerminalId."""
        with self._lock:
            self.issued += 1
            self.draws += 1
            return f"{self._rng.getrandbits(length * 4):0{length}x}"

    def digits(self, length: int) -> str:
        with self._lock:
            self.issued += 1
            self.draws += 1
            return f"{self._rng.randrange(10**length):0{length}d}"
