"""Reading scenarios: TOML files (the catalogue in `scenarios/`, or any path) and JSON objects.

Everything is checked at load, never at run time: an unknown key, a value of the wrong type or
a combination that means nothing (`times` on a customer action, `result_code` without
`do = "answer"`) raises `ScenarioError`, whose one-line message names the file, the step and
the reason. Standard library only.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from emulator.scenario.model import (
    DEFAULT_FAULT_STRING,
    LONGEST,
    OPERATIONS,
    Action,
    Delivery,
    NotificationPlan,
    Scenario,
    ScenarioError,
    Step,
    Token,
    Trigger,
    UnknownScenario,
)

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TOP_KEYS = ("description", "steps", "seed")
TOKEN_KEYS = ("id", "value", "description")
STEP_KEYS = (
    "when",
    "polls",
    "seconds",
    "operation",
    "do",
    "tokens",
    "timeout",
    "result_code",
    "fault_code",
    "fault_string",
    "duration",
    "times",
    "probability",
    "notification",
    "delay",
    "copies",
)
# key -> (what it belongs to, as the message says it, and whether that owner requires it)
_PARAMS: dict[str, tuple[Trigger | Action | Delivery, bool]] = {
    "polls": (Trigger.POLLS, True),
    "seconds": (Trigger.AFTER, True),
    "operation": (Trigger.OPERATION, True),
    "tokens": (Action.PRESENT_TOKEN, True),
    "timeout": (Action.RESERVE, False),
    "result_code": (Action.ANSWER, True),
    "fault_code": (Action.FAULT, False),
    "fault_string": (Action.FAULT, False),
    "duration": (Action.SLOW, True),
    "delay": (Delivery.DELAY, True),
    "copies": (Delivery.DUPLICATE, True),
}
_KEY_OF = {Trigger: "when", Action: "do", Delivery: "notification"}

Fail = Callable[[str], ScenarioError]  # a reason -> the error naming the file and the step
E = TypeVar("E", bound=Enum)


def load_file(path: Path | str) -> Scenario:
    """The scenario in a TOML file; its name is the file's stem."""
    source = str(path)
    file = Path(path)
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ScenarioError(source, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(source, "not UTF-8 text") from None
    return load_text(text, source, file.stem)


def load_text(text: str, source: str, name: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, f"not TOML: {exc}") from None
    return from_mapping(data, source, name)


def from_mapping(data: Any, source: str, name: str) -> Scenario:
    """A scenario from parsed TOML or from JSON (the control API's inline scenarios)."""
    if not NAME.match(name):
        raise ScenarioError(source, f"{name!r} is not a scenario name (letters, digits, . _ -)")
    if not isinstance(data, Mapping):
        raise ScenarioError(source, "a scenario must be a table (a JSON object)")
    for key in data:
        if key not in TOP_KEYS:
            raise ScenarioError(source, f"unknown key {key!r} (expected {', '.join(TOP_KEYS)})")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ScenarioError(source, "description is required (a non-empty string)")
    seed = data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ScenarioError(source, "seed must be a whole number")
    raw_steps = data.get("steps", [])
    if not isinstance(raw_steps, list):
        raise ScenarioError(source, "steps must be an array of tables ([[steps]])")
    steps = tuple(_step(source, number, raw) for number, raw in enumerate(raw_steps, 1))
    return Scenario(name, " ".join(description.split()), steps, seed, source)


def _step(source: str, number: int, raw: Any) -> Step:
    def fail(reason: str) -> ScenarioError:
        return ScenarioError(source, reason, number)

    if not isinstance(raw, Mapping):
        raise fail("a step must be a table ([[steps]])")
    for key in raw:
        if key not in STEP_KEYS:
            raise fail(f"unknown key {key!r}")
    when = _required_choice(raw, "when", Trigger, fail)
    do = _choice(raw, "do", Action, fail)
    delivery = _choice(raw, "notification", Delivery, fail)
    chosen = {when, do, delivery}
    for key, (owner, required) in _PARAMS.items():
        if key in raw and owner not in chosen:
            raise fail(f'{key} only goes with {_KEY_OF[type(owner)]} = "{owner.value}"')
        if required and owner in chosen and key not in raw:
            raise fail(f'{_KEY_OF[type(owner)]} = "{owner.value}" needs {key}')
    if do is not None and do.on_call and when is not Trigger.OPERATION:
        raise fail(f'do = "{do.value}" changes an answer, so it needs when = "operation"')
    if do is not None and do.on_call and delivery is not None:
        raise fail(f'do = "{do.value}" causes no notification; drop the notification key')
    if "times" in raw and (do is None or not do.on_call):
        raise fail("times only goes with do = answer, fault, reset, empty, truncate or slow")
    operation = raw.get("operation")
    if operation is not None and operation not in OPERATIONS:
        raise fail(f"unknown operation {operation!r}")
    plan = None
    if delivery is not None:
        plan = NotificationPlan(
            delivery,
            delay=_number(raw, "delay", fail, positive=True) or 0.0,
            copies=_whole(raw, "copies", fail, minimum=2) or 1,
        )
    fault_code = raw.get("fault_code", "Server")
    if fault_code not in ("Client", "Server"):
        raise fail('fault_code must be "Client" or "Server"')
    fault_string = raw.get("fault_string", DEFAULT_FAULT_STRING)
    if not isinstance(fault_string, str) or not fault_string.strip():
        raise fail("fault_string must be a non-empty string")
    result_code = _whole(raw, "result_code", fail, minimum=1)
    if result_code is not None and result_code > 999:
        raise fail("result_code must be between 1 and 999")
    probability = _number(raw, "probability", fail, positive=True)
    if probability is not None and probability > 1:
        raise fail("probability must be more than 0 and at most 1")
    return Step(
        number,
        when,
        polls=_whole(raw, "polls", fail, minimum=1) or 0,
        seconds=_number(raw, "seconds", fail) or 0.0,
        operation=operation,
        do=do,
        tokens=_tokens(raw.get("tokens"), fail) if "tokens" in raw else (),
        timeout=_number(raw, "timeout", fail, positive=True),
        result_code=result_code,
        fault_code=fault_code,
        fault_string=" ".join(fault_string.split()),
        duration=_number(raw, "duration", fail, positive=True) or 0.0,
        times=_whole(raw, "times", fail, minimum=1) or 1,
        probability=1.0 if probability is None else probability,
        notification=plan,
    )


def _choice(raw: Mapping[str, Any], key: str, kind: type[E], fail: Fail) -> E | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise fail(f"unknown {key} {value!r} (one of {_allowed(kind)})") from None


def _required_choice(raw: Mapping[str, Any], key: str, kind: type[E], fail: Fail) -> E:
    found = _choice(raw, key, kind, fail)
    if found is None:
        raise fail(f"{key} is required (one of {_allowed(kind)})")
    return found


def _allowed(kind: type[Enum]) -> str:
    return ", ".join(member.value for member in kind)


def _whole(raw: Mapping[str, Any], key: str, fail: Fail, minimum: int) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise fail(f"{key} must be a whole number of at least {minimum}")
    return value


def _number(raw: Mapping[str, Any], key: str, fail: Fail, positive: bool = False) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 <= value <= LONGEST or (positive and value == 0):  # NaN fails too
        low = "above 0" if positive else "from 0"
        raise fail(f"{key} must be a number {low} to {LONGEST} (ten years of seconds)")
    return float(value)


def _tokens(value: Any, fail: Fail) -> tuple[Token, ...]:
    if not isinstance(value, list) or not value:
        raise fail("tokens must be a non-empty array of {id, value, description} tables")
    made = []
    for i, token in enumerate(value, 1):
        if not isinstance(token, Mapping):
            raise fail(f"token {i} must be a table with id and value")
        for key in token:
            if key not in TOKEN_KEYS:
                raise fail(f"unknown key {key!r} in token {i}")
        ident, text, description = (token.get(key) for key in TOKEN_KEYS)
        if not (isinstance(ident, str) and ident and isinstance(text, str) and text):
            raise fail(f"token {i} needs id and value (strings)")
        if description is not None and not isinstance(description, str):
            raise fail(f"token {i}: description must be a string")
        made.append(Token(ident, text, description))
    return tuple(made)


# --- the catalogue -------------------------------------------------------------------------


def default_directory() -> Path:
    """The shipped catalogue: `scenarios/` beside the package, or where a wheel installed it."""
    candidates = [
        Path(__file__).resolve().parents[2] / "scenarios",
        Path(sys.prefix) / "share" / "seqr-emulator" / "scenarios",
    ]
    return next((c for c in candidates if c.is_dir()), candidates[0])


def load_catalogue(directory: Path | str | None = None) -> dict[str, Scenario]:
    """Every `*.toml` of the folder by name; one faulty file refuses the whole catalogue."""
    folder = Path(directory) if directory is not None else default_directory()
    if not folder.is_dir():
        if directory is None:
            return {}
        raise ScenarioError(str(folder), "no such folder")
    # Read afresh for every emulator: a catalogue kept for the process would be shared by
    # every emulator in it (about 6 ms for the shipped 24 files).
    return {f.stem: load_file(f) for f in sorted(folder.glob("*.toml"))}


def resolve(value: str, catalogue: Mapping[str, Scenario]) -> Scenario:
    """`--scenario NAME|FILE`: a path (or anything ending in .toml) is read, else a name."""
    if value.endswith(".toml") or "/" in value or "\\" in value or Path(value).is_file():
        return load_file(value)
    found = catalogue.get(value)
    if found is None:
        raise UnknownScenario(value, list(catalogue))
    return found
