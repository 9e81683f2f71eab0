"""Who may call: terminals and resellers, their authentication, cash registers and stickers.

A TERMINALID principal is registered on first use with the password it sends, unless
`strict_terminals` is set or the id was unregistered; a RESELLERUSER must be configured.
Shop membership (which reseller's reports a terminal's sales go to) is decided here too.
Standard library only; the caller holds the backend's lock.
"""

from __future__ import annotations

import logging

from emulator.backend.store import Store
from emulator.clock import IdFactory
from emulator.domain import terminals as tills
from emulator.domain.errors import NotFound, ResultCode, SeqrError
from emulator.domain.model import Credentials, Reseller, Terminal
from emulator.settings import Settings

TERMINALID = "TERMINALID"
RESELLERUSER = "RESELLERUSER"

log = logging.getLogger(__name__)


class Principals:
    def __init__(self, store: Store, settings: Settings, ids: IdFactory) -> None:
        self.store = store
        self.settings = settings
        self.ids = ids
        self._warned: set[str] = set()  # terminals told once why they get 21
        for t in settings.terminals:
            self._configure(Terminal(t.id, t.password, t.name))
        store.put_resellers(Reseller(r.id, r.user_id, r.password) for r in settings.resellers)

    def _configure(self, configured: Terminal) -> None:
        """A configured terminal; one a loaded store holds keeps its till state (open invoice,
        SEQR id) and takes the configured password and name. An unregistered one stays gone."""
        store = self.store
        if configured.id in store.removed_terminals:
            return
        found = store.terminals.get(configured.id)
        if found is None:
            store.put_terminal(configured)
        elif (found.password, found.name) != (configured.password, configured.name):
            found.name = configured.name
            store.claim_password(found, configured.password)

    def terminal(self, creds: Credentials | None) -> Terminal:
        """Authenticate a TERMINALID principal: 29 unknown, 20 bad password, 21 short one."""
        if creds is None or not creds.id:
            raise SeqrError(ResultCode.INVALID_INITIATOR_PRINCIPAL_ID, "no initiatorPrincipalId")
        kind = (creds.type or TERMINALID).strip().upper()
        if kind != TERMINALID:
            raise SeqrError(ResultCode.ACCESS_DENIED, f"operation needs a {TERMINALID} principal")
        store = self.store
        found = store.terminals.get(creds.id)
        if found is None:
            if self.settings.strict_terminals or creds.id in store.removed_terminals:
                raise SeqrError(ResultCode.INVALID_INITIATOR_PRINCIPAL_ID)
            found = Terminal(creds.id, creds.password or "", name=creds.id)
            store.put_terminal(found)
        if not found.active:
            raise SeqrError(ResultCode.INVALID_INITIATOR_PRINCIPAL_ID)
        if (creds.password or "") != found.password:
            if found.id not in store.unclaimed:
                raise SeqrError(ResultCode.AUTHENTICATION_FAILED)
            store.claim_password(found, creds.password or "")  # imported without its password
        if len(found.password) < tills.MIN_PASSWORD:
            self._warn_short_password(found.id)
            raise SeqrError(ResultCode.ACCESS_DENIED, "terminal password shorter than 4")
        return found

    def _warn_short_password(self, terminal_id: str) -> None:
        """SEQR's answer is a bare 21; the merchant's developer reads the reason in the log."""
        if terminal_id in self._warned:
            return
        self._warned.add(terminal_id)
        log.warning(
            "terminal %s: its password is shorter than %d characters, so SEQR answers every "
            "call with 21 ACCESS_DENIED",
            terminal_id,
            tills.MIN_PASSWORD,
        )

    def reseller(self, creds: Credentials | None) -> Reseller:
        """Authenticate a RESELLERUSER principal; `shop/9900` stands for id and userId."""
        if creds is None or not creds.id:
            raise SeqrError(ResultCode.INITIATOR_PRINCIPAL_NOT_FOUND, "no initiatorPrincipalId")
        if (creds.type or "").strip().upper() != RESELLERUSER:
            raise SeqrError(ResultCode.ACCESS_DENIED, f"operation needs a {RESELLERUSER} principal")
        rid, user = creds.id, creds.user_id
        if not user and "/" in rid:
            rid, user = rid.split("/", 1)
        found = self.store.resellers.get((rid, user or ""))
        if found is None:
            raise SeqrError(ResultCode.INITIATOR_PRINCIPAL_NOT_FOUND)
        if (creds.password or "") != found.password:
            raise SeqrError(ResultCode.AUTHENTICATION_FAILED)
        return found

    # --- cash registers -------------------------------------------------------------------------

    def register(
        self, reseller: Reseller, external_id: str | None, password: str | None, name: str | None
    ) -> Terminal:
        """registerTerminal: a new cash register in the reseller's shop, under a fresh id."""
        store = self.store
        terminal_id = self.ids.hex_id(32)
        while terminal_id in store.terminals or terminal_id in store.removed_terminals:
            terminal_id = self.ids.hex_id(32)
        made = tills.register(terminal_id, reseller.id, external_id, password, name)
        store.put_terminal(made)
        return made

    def unregister(self, terminal: Terminal) -> None:
        """The terminal is gone for good; its sticker is freed and its shop forgets it."""
        tills.release_seqr_id(terminal, self.store.seqr_ids)
        terminal.active = False
        self.store.remove_terminal(terminal)
        shop = self.shop_of(terminal)
        if shop is not None:
            self.store.periods.forget_terminal(shop, terminal.id)

    def assign_seqr_id(self, terminal: Terminal, seqr_id: str | None) -> None:
        tills.assign_seqr_id(terminal, seqr_id, self.store.seqr_ids)
        self.store.put_terminal(terminal)

    def at_seqr_id(self, seqr_id: str) -> Terminal:
        """The till whose sticker `HTTP://SEQR.SE/Q<seqrId>` the customer scanned."""
        store = self.store
        found = store.terminals.get(store.seqr_ids.get(seqr_id.strip(), ""))
        if found is None:
            raise NotFound(f"no terminal has the SEQR id {seqr_id}")
        return found

    def info(self, terminal_id: str) -> Terminal:
        found = self.store.terminals.get(terminal_id)
        if found is None:
            raise NotFound(f"no terminal {terminal_id}")
        return found

    def name_of(self, terminal_id: str) -> str | None:
        """The receiverName a receipt shows for the terminal's payments."""
        found = self.store.terminals.get(terminal_id)
        return found.name if found is not None else None

    def shop_of(self, terminal: Terminal | None) -> str | None:
        """A registered till's reseller; configured and auto-registered terminals belong to
        the first configured reseller (the public test shop by default)."""
        if terminal is not None and terminal.reseller_id:
            return terminal.reseller_id
        resellers = self.settings.resellers
        return resellers[0].id if resellers else None

    def in_shop(self, terminal_id: str, shop: str) -> bool:
        found = self.store.terminals.get(terminal_id)
        return found is not None and self.shop_of(found) == shop
