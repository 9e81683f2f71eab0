"""`seqr-emulator`: serve, drive a running emulator, list the scenarios, write the WSDL.

Flags override `SEQR_EMULATOR_*` environment variables, which override the `--config` file,
which overrides the defaults in `settings.py`. A value none of them can use ends the start with
one line naming it (`seqr-emulator: --port must be 0..65535 (got 99999)`) and status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from emulator import remote
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

    listing = commands.add_parser("scenarios", help="list the scenario catalogue")
    listing.add_argument("--scenario-dir", metavar="DIR", help="another catalogue folder")

    remote.add_commands(commands)  # pay, cancel, ... against a running emulator

    published = commands.add_parser("wsdl", help="write the published WSDL documents")
    published.add_argument("--out", type=Path, default=Path("wsdl"), help="folder (default wsdl/)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "wsdl":
        from emulator.soap.wsdl import write_published

        for path in write_published(args.out):
            print(path)
        return 0
    if args.command == "scenarios":
        return list_scenarios(args.scenario_dir)
    if args.command in remote.COMMANDS:
        return remote.run(args)
    try:
        settings = settings_from(args)
    except ValueError as exc:  # a ConfigError names the file and the key
        print(f"seqr-emulator: {exc}", file=sys.stderr)
        return 2
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
    return 0


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
