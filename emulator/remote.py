"""`seqr-emulator pay REF` and the other control twins, against a running emulator.

A pipeline step or a developer at a shell plays the customer and reads the emulator without
writing HTTP by hand: each command is one `EmulatorClient` call and prints the emulator's
JSON answer, so its output pipes into `jq`. The emulator is `--url`, else
`SEQR_EMULATOR_URL`, else `http://127.0.0.1:8090`; an emulator started with a control token
is sent `SEQR_EMULATOR_CONTROL_TOKEN`. A refusal prints one line with the
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
    "advance": ("move the clock forward (a terminal's own with --terminal)", _advance),
    "use-scenario": ("choose the scenario (a terminal's with --terminal)", _use_scenario),
    "reset": ("forget everything (a terminal's slate with --terminal)", _reset),
    "wait-ready": ("wait until the emulator serves (for a pipeline step)", _wait_ready),
}


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
        if name == "notifications":
            command.add_argument("--invoice", help="only this invoice's")
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
    print(json.dumps(answer, indent=2, sort_keys=True))
    return 0
