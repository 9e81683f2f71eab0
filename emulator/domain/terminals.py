"""Cash-register terminals: registration, SEQR ids and the static QR stickers that carry them.

A till registered with registerTerminal is a cash register: it holds one open invoice at a
time, and its printed sticker `HTTP://SEQR.SE/Q<seqrId>` leads a customer to that invoice.
These rules only check and change the objects they are given; the backend owns the indexes
and holds the lock. Standard library only.
"""

from __future__ import annotations

from emulator.domain.errors import ResultCode, SeqrError
from emulator.domain.model import Terminal

MIN_PASSWORD = 4  # shorter terminal passwords are refused with 21 on every terminal call


def register(
    terminal_id: str,
    reseller_id: str,
    external_id: str | None,
    password: str | None,
    name: str | None,
) -> Terminal:
    """A new cash register with the password the till chose.

    A password the terminal could never log in with (shorter than 4, the limit behind 21) is
    refused up front with 22 INVALID_NEW_PASSWORD rather than creating a dead terminal.
    """
    if password is None or len(password) < MIN_PASSWORD:
        raise SeqrError(
            ResultCode.INVALID_NEW_PASSWORD, f"password needs {MIN_PASSWORD} characters or more"
        )
    return Terminal(
        terminal_id,
        password,
        name=name,
        cash_register=True,
        external_id=external_id,
        reseller_id=reseller_id,
    )


def check_seqr_id(raw: str | None) -> str:
    """53 INVALID_SEQR_ID unless the id is non-empty ASCII letters and digits."""
    seqr_id = (raw or "").strip()
    if not seqr_id or not seqr_id.isascii() or not seqr_id.isalnum():
        raise SeqrError(ResultCode.INVALID_SEQR_ID, "a SEQR id is letters and digits only")
    return seqr_id


def assign_seqr_id(terminal: Terminal, raw: str | None, owners: dict[str, str]) -> str:
    """Bind a sticker to a terminal; `owners` maps every bound seqrId to its terminal id.

    One sticker names one till: an id bound to another terminal is 53. A terminal holds one
    id, so a new assignment releases the one it had.
    """
    seqr_id = check_seqr_id(raw)
    owner = owners.get(seqr_id)
    if owner is not None and owner != terminal.id:
        raise SeqrError(ResultCode.INVALID_SEQR_ID, "the SEQR id belongs to another terminal")
    release_seqr_id(terminal, owners)
    owners[seqr_id] = terminal.id
    terminal.seqr_id = seqr_id
    return seqr_id


def release_seqr_id(terminal: Terminal, owners: dict[str, str]) -> None:
    if terminal.seqr_id is not None and owners.get(terminal.seqr_id) == terminal.id:
        del owners[terminal.seqr_id]
    terminal.seqr_id = None
