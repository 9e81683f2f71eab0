"""Scriptable scenarios: what the emulated customer and SEQR do, chosen per test.

`model` holds the data (Scenario, Step and the closed sets of triggers, actions and
notification plans), `loader` reads TOML files and JSON objects into it, and `engine` decides,
event by event, what happens next. The backend applies the decisions; the notifier and the
SOAP transport carry out what concerns them. Standard library only.
"""

from emulator.scenario.engine import Call, Decision, Engine, Move, find_marker
from emulator.scenario.loader import load_catalogue, load_file, resolve
from emulator.scenario.model import (
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

__all__ = [
    "Action",
    "Call",
    "Decision",
    "Delivery",
    "Engine",
    "Move",
    "NotificationPlan",
    "Scenario",
    "ScenarioError",
    "Step",
    "Token",
    "Trigger",
    "UnknownScenario",
    "find_marker",
    "load_catalogue",
    "load_file",
    "resolve",
]
