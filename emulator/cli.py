"""`seqr-emulator`: serve, drive a running emulator, list the scenarios, write the WSDL,
and move a state file's contents out as JSON and back in (`export`, `import`).

Flags override `SEQR_EMULATOR_*` environment variables, which override the `--config` file,
which overrides the defaults in `settings.py`. A value none of them can use ends the start with
one line naming it (`seqr-emulator: --port must be 0..65535 (got 99999)`) and status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Sequence
from pathlib import Path

from emulator import certify_cli, remote
from emulator.domain import services
from emulator.scenario import loader as scenarios
from emulator.scenario.model import ScenarioError
from emulator.settings import OPTIONS, ConfigError, Settings, load_config, parse_setting


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqr-emulator", description="A local emulator of the SEQR merchant service."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the emulator")
    # Values are read by `settings.parse_setting`, so a bad one is one line naming the flag.
    for option in OPTIONS:
        if option.metavar is None:
            serve.add_argument(
                option.flag, action=argparse.BooleanOptionalAction, default=None, help=option.help
            )
        else:
            serve.add_argument(option.flag, metavar=option.metavar, help=option.help)
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file: settings by name and [[services]] (external service definitions)",
    )
    export = commands.add_parser("export", help="write a state file's state as JSON")
    export.add_argument("--state", metavar="FILE", required=True, help="the state file")
    export.add_argument("--out", type=Path, metavar="FILE", help="where (default: stdout)")
    export.add_argument(
        "--with-passwords",
        action="store_true",
        help="keep terminal passwords in the export (left out by default)",
    )

    load = commands.add_parser("import", help="replace a state file's state with a JSON export")
    load.add_argument("dump", type=Path, metavar="DUMP", help="a file written by export")
    load.add_argument("--state", metavar="FILE", required=True, help="the state file")

    listing = commands.add_parser("scenarios", help="list the scenario catalogue")
    listing.add_argument("--scenario-dir", metavar="DIR", help="another catalogue folder")

    remote.add_commands(commands)  # pay, cancel, ... against a running emulator
    certify_cli.add_command(commands)  # the certification rehearsal

    published = commands.add_parser("wsdl", help="write the published WSDL documents")
    published.add_argument("--out", type=Path, default=Path("wsdl"), help="folder (default wsdl/)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        # The collector stays off for the rest of the start (`__main__`), and is turned off for
        # it when this module was loaded with it on (the `seqr-emulator` script): the server
        # turns it on once it listens (`server.serve_forever`).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return serve(args)
        finally:
            if collecting:
                gc.enable()
    gc.enable()  # off while `python -m emulator` loaded this module (`__main__`)
    if args.command == "wsdl":
        from emulator.soap.wsdl import write_published

        for path in write_published(args.out):
            print(path)
        return 0
    if args.command == "scenarios":
        return list_scenarios(args.scenario_dir)
    if args.command == "certify":
        return certify_cli.run(args)
    if args.command in remote.COMMANDS:
        return remote.run(args)
    if args.command in ("export", "import"):
        return move_state(args)
    raise AssertionError(args.command)  # argparse knows no other


def serve(args: argparse.Namespace) -> int:
    """`serve`: until SIGINT or SIGTERM; 2 for a setting or scenario it cannot use."""
    try:
        settings = settings_from(args)
    except ValueError as exc:  # a ConfigError names the file and the key
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 2
    from emulator.backend import StateError
    from emulator.server import serve_forever

    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        asyncio.run(serve_forever(settings, announce))
    except ScenarioError as exc:  # names the file and the step, before any bind
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"seqr-emulator: cannot serve: {exc}", file=sys.stderr)
        return 1
    except StateError as exc:
        print(f"seqr-emulator: cannot use the state file: {exc}", file=sys.stderr)
        return 1
    return 0


def move_state(args: argparse.Namespace) -> int:
    """`export` a state file as JSON, or `import` a JSON export into one."""
    import json

    from emulator.backend import StateError, dump
    from emulator.backend.lasting import read_state, replace_state
    from emulator.backend.records import BadRecord

    try:
        parse_setting("state", args.state, "--state")
        if args.command == "export":
            if not Path(args.state).is_file():
                raise StateError(f"{args.state}: no such state file")
            store, position = read_state(args.state)
            try:
                text = dump.dumps(dump.document(store, position, passwords=args.with_passwords))
            finally:
                store.close()
            if args.out is None:
                sys.stdout.write(text)
            else:
                args.out.write_text(text, encoding="utf-8")
            return 0
        try:
            data = json.loads(args.dump.read_text(encoding="utf-8"))
        except OSError as exc:
            raise StateError(f"{args.dump}: cannot read: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise StateError(f"{args.dump}: not JSON: {exc}") from None
        try:
            state, ids = dump.from_document(data)
        except BadRecord as exc:
            raise StateError(f"{args.dump}: {exc}") from None
        replace_state(args.state, state, ids)
        print(f"{args.state}: {dump.summary(state)}")
        return 0
    except ValueError as exc:  # a SettingsError names the flag
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 2
    except StateError as exc:
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 1


def settings_from(args: argparse.Namespace) -> Settings:
    """`serve`'s flags over the environment over the `--config` file over the defaults.

    Service definitions in the file are checked here, so a bad one stops the start with the
    file's name instead of failing inside the server."""
    base = load_config(args.config) if args.config else None
    if base is not None:
        for i, s in enumerate(base.services):
            try:
                services.define(s.id, s.order_url, s.success_url, s.failure_url, s.cancel_url)
            except services.InvalidService as exc:
                raise ConfigError(f"{args.config}: services[{i}]: {exc}") from None
    flags: dict[str, object] = {}
    for option in OPTIONS:
        given = getattr(args, option.field)
        if given is None:
            continue
        switch = option.metavar is None
        flags[option.field] = given if switch else parse_setting(option.field, given, option.flag)
    settings = Settings.from_env(base=base).with_overrides(**flags)
    return settings  # the scenario catalogue is read once, by create_app (ScenarioError)


def list_scenarios(folder: str | None) -> int:
    """One line per catalogue scenario: its name and description."""
    try:
        catalogue = scenarios.load_catalogue(folder)
    except ValueError as exc:  # a ScenarioError names the file and the step
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 2
    width = max((len(name) for name in catalogue), default=0)
    for name, scenario in sorted(catalogue.items()):
        print(f"{name:<{width}}  {scenario.description}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
