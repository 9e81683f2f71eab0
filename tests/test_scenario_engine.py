"""The scenario engine alone: events in, decisions out, no server and no clock but numbers."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import emulator.scenario
from emulator.scenario import (
    Action,
    Call,
    Delivery,
    Engine,
    NotificationPlan,
    Scenario,
    UnknownScenario,
    find_marker,
)
from emulator.scenario.loader import from_mapping

TERMINAL = "till-1"


def scenario(name: str, *steps: dict, seed: int | None = None) -> Scenario:
    data: dict = {"description": f"{name} for a test", "steps": list(steps)}
    if seed is not None:
        data["seed"] = seed
    return from_mapping(data, f"{name}.toml", name)


PAY = scenario("pay", {"when": "now", "do": "pay"})


def call(operation: str, reference: str | None = None, **extra) -> Call:
    return Call(operation, TERMINAL, reference, **extra)


def actions(decision) -> list[str]:
    return [m.step.do.value if m.step.do else "wait" for m in decision.moves]


def test_the_marker_is_found_in_title_or_client_invoice_id():
    assert find_marker("Order 7 [scenario:pay-after-polls]", None) == "pay-after-polls"
    assert find_marker(None, "1001 [Scenario: fail ]") == "fail"
    assert find_marker("Order [7]", "1001") is None
    assert find_marker("[scenario:]", "[scenario:a b]") is None


def test_selection_prefers_the_marker_then_the_terminal_then_the_default():
    fail = scenario("fail", {"when": "now", "do": "fail"})
    engine = Engine({"pay": PAY, "fail": fail}, default=PAY)
    engine.use(fail, TERMINAL)
    assert engine.scenario_for(TERMINAL, "pay") is PAY
    assert engine.scenario_for(TERMINAL) is fail
    assert engine.scenario_for("other-till") is PAY
    with pytest.raises(UnknownScenario) as raised:
        engine.scenario_for(TERMINAL, "pya")
    assert "'pya'" in str(raised.value) and "fail, pay" in str(raised.value)


def test_without_any_scenario_the_engine_is_inactive_and_decides_nothing():
    engine = Engine({"pay": PAY})
    assert engine.active is False
    assert engine.intercept(call("sendInvoice"), None, 0.0).override is None
    assert engine.observe(call("getPaymentStatus", "R1"), "R1", 0.0).moves == ()


def test_now_steps_fire_when_the_invoice_is_issued_and_a_finished_run_is_forgotten():
    engine = Engine(default=PAY)
    decision = engine.issued("R1", TERMINAL, PAY, 0.0)
    assert actions(decision) == ["pay"]
    assert engine.runs == {} and engine.progress("R1") is None
    engine.use(None)
    assert engine.active is False


def test_pay_after_two_answered_polls():
    plan = scenario("p", {"when": "polls", "polls": 2, "do": "pay"})
    engine = Engine(default=plan)
    assert engine.issued("R1", TERMINAL, plan, 0.0).moves == ()
    poll = call("getPaymentStatus", "R1")
    assert engine.intercept(poll, "R1", 0.0).override is None  # not counted before it is answered
    assert engine.observe(poll, "R1", 0.0).moves == ()
    assert engine.progress("R1") == {
        "name": "p",
        "step": 1,
        "steps": 1,
        "waiting": "after 2 poll(s): pay",
    }
    assert actions(engine.observe(poll, "R1", 0.0)) == ["pay"]


def test_timed_steps_ask_to_be_woken_and_chain_on_exact_marks():
    slow = scenario(
        "slow",
        {"when": "now", "do": "scan"},
        {"when": "after", "seconds": 10, "do": "pay"},
        {"when": "after", "seconds": 5, "notification": "drop"},
    )
    engine = Engine(default=slow)
    first = engine.issued("R1", TERMINAL, slow, 100.0)
    assert actions(first) == ["scan"] and first.wake == 110.0
    assert engine.tick("R1", 109.9).moves == ()
    # One big advance: both timed steps fire, as 15 s of waiting would have made them.
    late = engine.tick("R1", 200.0)
    assert actions(late) == ["pay", "wait"]
    assert late.moves[1].plan == NotificationPlan(Delivery.DROP)


def test_an_operation_step_with_a_customer_action_waits_for_the_call_to_succeed():
    loyalty = scenario(
        "loyalty",
        {"when": "now", "do": "present-token", "tokens": [{"id": "X_CARD", "value": "4711"}]},
        {"when": "operation", "operation": "updateInvoice", "do": "pay"},
    )
    engine = Engine(default=loyalty)
    [scan] = engine.issued("R1", TERMINAL, loyalty, 0.0).moves
    assert scan.step.tokens[0].value == "4711"
    update = call("updateInvoice", "R1")
    assert engine.intercept(update, "R1", 0.0).moves == ()
    assert engine.observe(call("getPaymentStatus", "R1"), "R1", 0.0).moves == ()
    assert actions(engine.observe(update, "R1", 0.0)) == ["pay"]


def test_an_answer_replaces_the_call_the_given_number_of_times():
    busy = scenario(
        "busy",
        {
            "when": "operation",
            "operation": "getPaymentStatus",
            "do": "answer",
            "result_code": 94,
            "times": 2,
        },
        {"when": "now", "do": "pay"},
    )
    engine = Engine(default=busy)
    engine.issued("R1", TERMINAL, busy, 0.0)
    poll = call("getPaymentStatus", "R1")
    assert engine.intercept(poll, "R1", 0.0).override.result_code == 94
    last = engine.intercept(poll, "R1", 0.0)
    assert last.override.result_code == 94 and actions(last) == ["pay"]
    assert engine.intercept(poll, "R1", 0.0).override is None


def test_sendinvoice_steps_apply_to_the_attempts_that_lead_to_each_invoice():
    flaky = scenario(
        "system-error",
        {"when": "operation", "operation": "sendInvoice", "do": "answer", "result_code": 90},
        {"when": "now", "do": "pay"},
    )
    engine = Engine()
    engine.use(flaky, TERMINAL)
    send = call("sendInvoice")
    for reference in ("R1", "R2"):
        assert engine.intercept(send, None, 0.0).override.result_code == 90
        assert engine.intercept(send, None, 0.0).override is None  # the retry goes through
        assert actions(engine.issued(reference, TERMINAL, flaky, 0.0)) == ["pay"]
    other = Call("sendInvoice", "till-2")
    assert engine.intercept(other, None, 0.0).override is None  # another terminal: no scenario


def test_a_call_about_an_invoice_without_a_run_is_left_alone():
    fault = scenario("f", {"when": "operation", "operation": "getPaymentStatus", "do": "fault"})
    engine = Engine(default=fault)
    assert engine.intercept(call("getPaymentStatus", "R9"), None, 0.0).override is None
    assert engine.pending == {}


def test_a_plan_is_armed_once_and_keeps_the_engine_active_until_used():
    engine = Engine()
    engine.arm("R1", NotificationPlan(Delivery.DUPLICATE, copies=3))
    assert engine.active
    assert engine.take_plan("R1") == NotificationPlan(Delivery.DUPLICATE, copies=3)
    assert engine.take_plan("R1") is None and engine.active is False


def test_reset_forgets_runs_and_selections_but_keeps_the_start_default():
    engine = Engine({"pay": PAY}, default=PAY)
    engine.use(None)
    engine.use(PAY, TERMINAL)
    engine.intercept(call("registerTerminal"), None, 0.0)
    engine.reset()
    assert engine.default is PAY and engine.by_terminal == {} and engine.pending == {}
    assert engine.catalogue == {"pay": PAY}


def _draws(engine: Engine, principal: str, reference: str, flaky: Scenario) -> list[bool]:
    engine.issued(reference, principal, flaky, 0.0)
    poll = Call("getPaymentStatus", principal, reference)
    return [engine.intercept(poll, reference, 0.0).override is not None for _ in range(12)]


def test_random_steps_repeat_exactly_for_a_seed_and_terminals_draw_apart():
    flaky = scenario(
        "flaky",
        {
            "when": "operation",
            "operation": "getPaymentStatus",
            "do": "reset",
            "probability": 0.5,
            "times": 4,
        },
    )
    first = _draws(Engine(seed=7), "a", "R1", flaky)
    assert first == _draws(Engine(seed=7), "a", "R1", flaky)
    assert sum(first) == 4 and first != [True] * 4 + [False] * 8
    # Another terminal's run has a stream of its own: interleaving changes nothing.
    engine = Engine(seed=7)
    _draws(engine, "b", "R2", flaky)
    assert _draws(engine, "a", "R1", flaky) == first
    assert _draws(Engine(seed=8), "a", "R1", flaky) != first


def test_a_missed_chance_skips_a_timed_step():
    maybe = scenario("maybe", {"when": "now", "do": "pay", "probability": 0.5}, seed=1)
    engine = Engine(default=maybe)
    outcomes = {tuple(actions(engine.issued(f"R{i}", TERMINAL, maybe, 0.0))) for i in range(40)}
    assert outcomes == {("pay",), ()}
    assert engine.runs == {}


def test_every_action_and_trigger_is_a_closed_set():
    assert {a.value for a in Action if a.by_customer} == {
        "scan",
        "present-token",
        "pay",
        "reserve",
        "cancel",
        "fail",
    }
    assert {a.value for a in Action if a.on_call} == {
        "answer",
        "fault",
        "reset",
        "empty",
        "truncate",
        "slow",
    }
    assert {d.value for d in Delivery} == {"deliver", "drop", "delay", "duplicate", "late"}


def test_the_scenario_package_imports_the_standard_library_only():
    package = Path(emulator.scenario.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                own = name.startswith("emulator.scenario")
                assert own or top in sys.stdlib_module_names or top == "__future__", (path, name)


def test_the_engine_knows_every_operation_the_port_serves():
    from emulator.scenario.model import OPERATIONS
    from emulator.soap import codec

    assert set(codec.OPERATIONS) <= OPERATIONS
