"""ProcessGuard (_process.py) on its own: what a VUser's code meets of the
process (time.sleep, print labels, the exit calls), with a real asyncio
loop and greenlets standing for VUsers (end to end: test_vusers.py's
test_a_task_cannot_end_the_process, test_output and test_runtime's sleep
and exit cases)."""

import threading
from types import SimpleNamespace

import greenlet
import pytest

from loadpilot import _guard, _output, _sleep
from loadpilot._process import ProcessGuard
from loadpilot._vuser import Iteration


@pytest.fixture
def stops():
    return []


@pytest.fixture
def guard(loop, stops, tmp_path):
    path = tmp_path / "shop.py"
    return ProcessGuard(
        stops.append,
        loop,
        greenlet.getcurrent(),
        scenario="Shop",
        path="shop.py",
        abspath=str(path),
        row_names=["browse", "buy", "on_start"],
    )


def in_vuser(row, body):
    """Runs BODY() in a greenlet that carries a VUser whose iteration is in
    ROW (None: between iterations), until it ends or switches back."""
    vu = SimpleNamespace(current=Iteration(row, 0, 0, False) if row is not None else None)
    out = {}

    def run():
        out["value"] = body()

    glet = greenlet.greenlet(run)
    glet.vuser = vu
    glet.switch()
    return vu, out


def test_output_is_labelled_with_the_task_of_the_vuser_that_prints(guard):
    assert guard.output_label() == "Shop"
    assert in_vuser(1, guard.output_label)[1]["value"] == "Shop.buy"
    assert in_vuser(2, guard.output_label)[1]["value"] == "Shop.on_start"
    assert in_vuser(None, guard.output_label)[1]["value"] == "Shop"
    assert in_vuser(7, guard.output_label)[1]["value"] == "Shop"  # not a row of ours


def test_pause_parks_only_the_vuser_and_does_not_count_as_latency(guard, loop):
    woke = loop.create_future()

    def nap():
        paused = guard.pause(0.01)
        woke.set_result(None)
        return paused

    vu, out = in_vuser(0, nap)
    assert out == {}  # parked: control came back to the loop's greenlet
    loop.run_until_complete(woke)
    assert out["value"] is True
    assert vu.current.first_sent  # the next call is measured from when it is made


@pytest.mark.parametrize("seconds", [-1, float("nan"), "1", True, None])
def test_a_value_time_sleep_refuses_is_left_to_it(guard, seconds):
    assert in_vuser(0, lambda: guard.pause(seconds))[1]["value"] is False


def test_outside_a_vuser_the_real_sleep_runs(guard):
    assert guard.pause(0.01) is False  # the loop's own greenlet (an async body)
    plain = greenlet.greenlet(lambda: guard.pause(0.01))  # no VUser on it
    assert plain.switch() is False


def test_sys_exit_stops_the_run_naming_the_scenario_line(guard, stops):
    code = compile("\n\nraise SystemExit(3)\n", guard.abspath, "exec")

    def task():
        try:
            exec(code, {})
        except SystemExit as exc:
            guard.exited(exc)

    in_vuser(1, task)
    assert stops == [
        "shop.py:3: Shop.buy called sys.exit(3), which would end the LoadPilot process and "
        "lose the run's results; the call was refused and the run stops "
        "(docs/scenarios.md#ending-the-process)"
    ]


def test_an_exit_on_a_thread_of_the_scenario_names_the_scenario(guard, stops):
    thread = threading.Thread(target=guard.process_exit, args=("os._exit(1)", None))
    thread.start()
    thread.join(5)
    assert len(stops) == 1
    assert stops[0].startswith("shop.py: Shop called os._exit(1), which would end")


def test_register_routes_this_threads_sleep_print_and_exit_here(guard, loop, stops):
    me = threading.get_ident()
    guard.register()
    try:
        woke = loop.create_future()

        def nap():
            _sleep.sleep(0.01)  # what the scenario's time.sleep() is
            woke.set_result(None)

        _, out = in_vuser(0, nap)
        assert out == {}  # parked on the loop, not a real sleep
        loop.run_until_complete(woke)
        assert _output._labellers[me]() == "Shop"
        _guard._handlers[me]("os.abort()", None)
        assert stops and "Shop called os.abort()" in stops[0]
    finally:
        guard.unregister()
    assert me not in _sleep._runtimes and me not in _output._labellers
    assert me not in _guard._handlers
    assert guard.main is None
