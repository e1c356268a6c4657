"""loadpilot._shape: a shape() evaluated into held 0.1 s steps, and where
stages= is written."""
import textwrap

from loadpilot import VUser, scenario, task
from loadpilot._shape import MAX_STAGES, evaluate, has_shape, stages_lines


def _evaluate(cls, closed=False):
    return evaluate(cls, closed, "s.py:3", lambda exc: f"s.py:9: {type(exc).__name__}: {exc}")


def test_equal_neighbours_merge_into_held_steps():
    class Wave(VUser):
        def shape(self, t):
            if t >= 1:
                return None
            return 5 if t < 0.3 else 7.5

    assert has_shape(Wave)
    assert _evaluate(Wave) == {"stages": [[0.3, 5.0], [0.7, 7.5]]}


def test_problems_are_named_with_the_time():
    class Negative(VUser):
        def shape(self, t):
            return -1 if t > 0.15 else 1

    assert _evaluate(Negative)["error"].startswith("s.py:3: shape() returned -1 at t=0.2s")

    class Half(VUser):
        def shape(self, t):
            return None if t > 1 else 1.5

    assert "whole number of users" in _evaluate(Half, closed=True)["error"]

    class Raises(VUser):
        def shape(self, t):
            raise KeyError("x")

    assert _evaluate(Raises) == {"error": "s.py:9: KeyError: 'x' (in shape() at t=0.0s)"}

    class Empty(VUser):
        def shape(self, t):
            return None

    assert "returned None at t=0s" in _evaluate(Empty)["error"]


def test_a_shape_that_changes_too_often_is_refused():
    class Noisy(VUser):
        def shape(self, t):
            return t

    assert f"more than {MAX_STAGES} times" in _evaluate(Noisy)["error"]


def test_a_task_named_shape_is_not_a_shape():
    @scenario
    class Tasked(VUser):
        @task
        def shape(self, client):
            client.get("/")

    assert not has_shape(Tasked)


def test_stages_lines_name_each_row(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(textwrap.dedent("""\
        from loadpilot import VUser, scenario

        @scenario(stages=[
            ("1s", 1),
            ("2s", 2),
        ])
        class A(VUser):
            pass

        @scenario(rps=1)
        class B(VUser):
            pass
    """))
    assert stages_lines(str(path)) == {"A": {"line": 3, "rows": [4, 5]}}


def test_stages_travel_as_lists_only_when_given():
    @scenario(stages=[("1s", 1), ("2s", 0)])
    class A(VUser):
        pass

    @scenario(rps=3)
    class B(VUser):
        pass

    from loadpilot.dsl import scenario_config

    assert scenario_config(A).as_dict()["stages"] == [["1s", 1], ["2s", 0]]
    assert "stages" not in scenario_config(B).as_dict()
