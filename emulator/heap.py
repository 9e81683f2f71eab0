"""Keeps the emulator's stored state out of the garbage collector's way.

Invoices, their payments, refunds and history live as long as the emulator (or until a
reset) and hold no reference cycles, yet CPython's full collections walk every one of them:
at 60k invoices a full collection paused a pay load for 36 ms, and the pause grows with the
store (measured at 100k invoices on a loaded 2-core machine: a full collection 1.0 to 2.3 s
unfrozen, under 0.01 ms frozen). `gc.freeze()` moves every object alive into a generation
the collector never walks.

It freezes once a second while the state changes (an invoice is issued, paid, refunded...),
never while it does not. Whatever is frozen stays, garbage too: cycles of a connection
closed just before a freeze are kept (about 40 bytes a request, measured with a new
connection for each sendInvoice, against 1.3 KB for the invoice itself). Freezing only as
the state changes keeps that in proportion to the store's own growth; polls alone never
freeze. A full collection before each freeze would leave nothing behind, but it walks a
second's worth of new objects each time: it cost sendInvoice 8% of its throughput and
3 ms of p99 (measured), so it is not done.

A reset is where memory is given back. The store's objects are freed as it is dropped (they
hold no cycles), but into the allocator's free lists, not to the system: RSS stayed where
the store had taken it (73.5 MB after a reset against 50.5 MB at start, in a soak). So after
a reset, on the sweeper's next turn rather than in the reset's own request, what was frozen
is thawed, one full collection frees the frozen garbage (the connections' cycles above),
what is alive is frozen again, and glibc's `malloc_trim(0)` hands the freed pages back, in a
thread (ctypes lets go of the GIL). Where the C library has no `malloc_trim` (musl, macOS)
that last step does nothing.

Freed is not given back, though: CPython's small-object allocator returns a 1 MiB arena to
the system only once nothing in it lives, and one object alive in an arena keeps the whole
of it. Objects made while the store filled or while the reset freed it outlived the reset,
one or a few per arena, and kept most of the store's memory (a soak of 8,000 invoices: 55
arenas after the reset against 20 at start, 30 MB of them empty pools):

- the URL caches of the HTTP stack (yarl's, and the standard library's `urlsplit`), which
  keep the last few hundred request URLs parsed, and a control route's URL names an invoice
  (`/_emulator/invoices/{ref}/pay`): a release empties them first (`forget_caches`);
- the thread `malloc_trim` runs in and the modules it imports, made on the first release:
  the app's sweeper makes them at start instead, with a first trim (`emulator/app.py`);
- the reset's new backend parts, made while the old store still stood: a reset lets go of
  the old parts and the journals first (`SeqrBackend.reset`).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

_NOT_LOOKED_UP = object()
_malloc_trim: object = _NOT_LOOKED_UP


def malloc_trim() -> bool:
    """glibc's `malloc_trim(0)`: the allocator's free memory back to the system. True when
    some was returned, False when none was or the C library has no such call."""
    global _malloc_trim
    if _malloc_trim is _NOT_LOOKED_UP:
        import ctypes  # here, in the trim's thread, not by a start (`app._deadline_sweeper`)

        try:  # the name glibc has had since 2.3 on every Linux; nothing is searched for
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = None
    if _malloc_trim is None:
        return False
    trim: Callable[[int], int] = _malloc_trim  # type: ignore[assignment]
    return bool(trim(0))


# Modules of the HTTP stack whose memoized functions keep request URLs; looked up, not
# imported, so a process that never loaded one has nothing of it to forget.
URL_CACHE_MODULES = ("yarl._url", "yarl._parse", "urllib.parse")


def forget_caches(modules: tuple[str, ...] = URL_CACHE_MODULES) -> int:
    """Empty every memoized function (`functools.lru_cache`) of `modules`: they keep objects
    of the last requests served. Answers how many caches were emptied."""
    emptied = 0
    for name in modules:
        module = sys.modules.get(name)
        for value in vars(module).values() if module is not None else ():
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and hasattr(value, "cache_info"):
                clear()
                emptied += 1
    return emptied


class OldObjects:
    """`changed()` on every state change, `dropped()` on every reset, and `settle()` and
    `release()` now and then (the app's sweeper); each act is a hook, so a test can count
    what a process-wide act would do."""

    def __init__(
        self,
        freeze: Callable[[], None] = gc.freeze,
        *,
        unfreeze: Callable[[], None] = gc.unfreeze,
        collect: Callable[[], object] = gc.collect,
        trim: Callable[[], object] = malloc_trim,
        forget: Callable[[], object] = forget_caches,
    ) -> None:
        self._freeze = freeze
        self._unfreeze = unfreeze
        self._collect = collect
        self.trim = trim  # the slow part of a release, for a thread of its own
        self._forget = forget
        self._changes = 0
        self._frozen_at = 0
        self._frozen = False  # whether this keeper has frozen anything yet
        self._dropped = False

    def changed(self, *_: object) -> None:
        """A backend listener: the state changed, so objects may have joined it."""
        self._changes += 1

    def settle(self) -> bool:
        """Freeze what is alive if the state changed since the last freeze; True when it did."""
        if self._changes == self._frozen_at:
            return False
        self._frozen_at = self._changes
        self._freeze()
        self._frozen = True
        return True

    def dropped(self) -> None:
        """A backend reset hook: the store was let go, so there is memory to give back."""
        self._dropped = True

    def release(self) -> bool:
        """After a reset: empty the URL caches, thaw, collect, freeze again what is still
        alive; True when there was a reset to release after, and then `trim` should follow
        (off the event loop)."""
        if not self._dropped:
            return False
        self._dropped = False
        self._forget()
        was_frozen = self._frozen
        if was_frozen:
            self._unfreeze()
        self._collect()
        if was_frozen:
            self._freeze()
        return True
