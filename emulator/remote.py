"""`seqr-emulator pay REF` and the other control twins, against a running emulator.

A pipeline step or a developer at a shell plays the customer and reads the emulator without
writing HTTP by hand: each command is one `EmulatorClient` call and prints the emulator's
JSON answer, so its output pipes into `jq` (`journal` prints a line an entry, for a person to
read, and JSON with `--json`). The emulator is `--url`, else `SEQR_EMULATOR_URL`, else
`http://127.0.0.1:8090`; an emulator started with a control token is sent
`SEQR_EMULATOR_CONTROL_TOKEN`. A refusal prints one line with the
emulator's status and words and exits 1; an emulator that cannot be reached exits 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from emulator.client import ControlError, EmulatorClient, token_from_environment

DEFAULT_URL = "http://127.0.0.1:8090"


def _client(args: argparse.Namespace) -> EmulatorClient:
    url = args.url or os.environ.get("SEQR_EMULATOR_URL") or DEFAULT_URL
    token = token_from_environment()
    return EmulatorClient(url, terminal=getattr(args, "terminal", None), token=token)


def _reference(client: EmulatorClient, given: str | None) -> str:
    """The invoice named, or the newest one (of the terminal)."""
    return given or str(client.latest_invoice()["reference"])


def _pay(client: EmulatorClient, args: argparse.Namespace) -> Any:
    return client.pay(_reference(client, args.reference), reserve=args.reserve)


def _move(verb: str) -> Callable[[EmulatorClient, argparse.Namespace], Any]:
    def run(client: EmulatorClient, args: argparse.Namespace) -> Any:
        action: Callable[[str], Any] = getattr(client, verb)
        return action(_reference(client, args.reference))

    return run


def _invoices(client: EmulatorClient, args: argparse.Namespace) -> Any:
    return client.invoices()


def _notifications(client: EmulatorClient, args: argparse.Namespace) -> Any:
    return client.notifications(args.invoice)


class Text(str):
    """An answer already written for a person: printed as it is, not as JSON."""


def _journal(client: EmulatorClient, args: argparse.Namespace) -> Any:
    entries = client.journal(
        operation=args.operation,
        invoice=args.invoice,
        kind=args.kind,
        limit=args.limit or None,
        bodies=args.bodies,
    )
    if args.json:
        return entries
    return Text("\n".join(journal_lines(entries, bodies=args.bodies)) or "(no entries)")


def journal_lines(entries: list[dict[str, Any]], *, bodies: bool = False) -> list[str]:
    """One line an entry, oldest first: seq, emulator time, terminal, operation, invoice, what
    came of it; a call's real duration, an attempt's URL. With `bodies`, the request and the
    answer follow a call's line, indented under it."""
    lines = []
    for e in entries:
        at = str(e["at"]).replace("T", " ")[:23]
        what = e.get("operation") or "?"
        if e["kind"] == "notification":
            what = f"notification ({e.get('event')})"
        head = f"#{e['seq']:<5} {at}  {e.get('terminal') or '-'}  {what}  {e.get('invoice') or '-'}"
        if e["kind"] == "notification":
            done = e.get("notificationOutcome")
            detail = e.get("error") or (f"HTTP {e['statusCode']}" if e.get("statusCode") else "")
            lines.append(f"{head}  {done}{f' ({detail})' if detail else ''}  -> {e.get('url')}")
            continue
        took = e.get("durationMs")
        lines.append(f"{head}  {e.get('outcome')}" + (f"  {took:g} ms" if took is not None else ""))
        if bodies:
            for name in ("request", "answer"):
                text = str(e.get(name) or "").strip()
                lines.append(f"    {name}:" if text else f"    {name}: (empty)")
                lines += [f"      {line}" for line in text.splitlines()]
    return lines


def _advance(client: EmulatorClient, args: argparse.Namespace) -> Any:
    return client.advance_clock(args.seconds)


def _use_scenario(client: EmulatorClient, args: argparse.Namespace) -> Any:
    return client.use_scenario(args.name)


def _reset(client: EmulatorClient, args: argparse.Namespace) -> Any:
    return client.reset()


def _wait_ready(client: EmulatorClient, args: argparse.Namespace) -> Any:
    return client.wait_ready(args.timeout)


COMMANDS: dict[str, tuple[str, Callable[[EmulatorClient, argparse.Namespace], Any]]] = {
    "pay": ("the customer pays (the newest invoice when none is named)", _pay),
    "cancel": ("the customer cancels in the app", _move("cancel")),
    "fail": ("the payment fails", _move("fail")),
    "scan": ("the customer opens the invoice", _move("scan")),
    "invoices": ("list the invoices, oldest first", _invoices),
    "notifications": ("list the notification attempts", _notifications),
    "journal": ("list the SOAP calls and notification attempts, oldest first", _journal),
    "advance": ("move the clock forward (a terminal's own with --terminal)", _advance),
    "use-scenario": ("choose the scenario (a terminal's with --terminal)", _use_scenario),
    "reset": ("forget everything (a terminal's slate with --terminal)", _reset),
    "wait-ready": ("wait until the emulator serves (for a pipeline step)", _wait_ready),
}


def _count(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()):
        raise argparse.ArgumentTypeError(f"must be a non-negative integer (got {raw!r})")
    return int(raw)


def add_commands(commands: Any) -> None:
    """Add the twins to `seqr-emulator`'s subcommands (an argparse subparsers object)."""
    for name, (summary, _) in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "--url", help=f"the emulator (default $SEQR_EMULATOR_URL or {DEFAULT_URL})"
        )
        if name in ("pay", "cancel", "fail", "scan"):
            command.add_argument("reference", nargs="?", help="invoiceReference (default: newest)")
        if name in (
            "pay",
            "cancel",
            "fail",
            "scan",
            "invoices",
            "notifications",
            "journal",
            "advance",
            "use-scenario",
            "reset",
        ):
            command.add_argument("--terminal", help="only this terminal's")
        if name == "pay":
            command.add_argument(
                "--reserve",
                action=argparse.BooleanOptionalAction,
                default=None,
                help="--no-reserve debits a RESERVATION_DESIRED invoice at once",
            )
        if name in ("notifications", "journal"):
            command.add_argument("--invoice", help="only this invoice's")
        if name == "journal":
            command.add_argument("--operation", help="only this SOAP operation, or notification")
            command.add_argument("--kind", choices=("call", "notification"), help="only these")
            command.add_argument(
                "--limit", type=_count, default=100, help="the newest N (default 100; 0: all)"
            )
            command.add_argument("--bodies", action="store_true", help="with each call's XML")
            command.add_argument("--json", action="store_true", help="the entries as JSON")
        if name == "advance":
            command.add_argument("seconds", type=float, help="emulator seconds")
        if name == "use-scenario":
            command.add_argument("name", nargs="?", help="a catalogue name; none: no scenario")
        if name == "wait-ready":
            command.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")


def run(args: argparse.Namespace) -> int:
    """Carry out one twin; print its answer as JSON."""
    client = _client(args)
    _, action = COMMANDS[args.command]
    try:
        answer = action(client, args)
    except ControlError as exc:
        print(f"seqr-emulator: {exc.status} {exc.message}", file=sys.stderr)
        return 1
    except LookupError as exc:  # no invoice to act on
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError) as exc:
        print(f"seqr-emulator: cannot reach {client.url}: {exc}", file=sys.stderr)
        return 3
    print(answer if isinstance(answer, Text) else json.dumps(answer, indent=2, sort_keys=True))
    return 0
