import json

import pytest

from loadpilot import LoadClient, VUser, _describe, between, constant, constant_pacing, scenario, task
from loadpilot._wait import Wait
from loadpilot.dsl import ScenarioConfig, scenario_config, task_info, tasks_of


def test_scenario_defaults():
    @scenario
    class Bare(VUser):
        pass

    @scenario()
    class Called(VUser):
        pass

    for cls in (Bare, Called):
        config = scenario_config(cls)
        assert config == ScenarioConfig()
        assert config.as_dict() == {
            "rps": 10,
            "duration": "1m",
            "ramp_up": "10s",
            "mode": "ramp",
            "steps": 5,
            "thresholds": {},
            "max_vusers": None,
        }


def test_scenario_keeps_raw_values():
    @scenario(rps="max", duration=90, ramp_up="1m30s", mode="spike", steps=3,
              thresholds={"p99_ms": 50}, max_vusers=7)
    class S(VUser):
        pass

    assert scenario_config(S).as_dict() == {
        "rps": "max",
        "duration": 90,
        "ramp_up": "1m30s",
        "mode": "spike",
        "steps": 3,
        "thresholds": {"p99_ms": 50},
        "max_vusers": 7,
    }


def test_scenario_tells_defaults_from_written_values():
    @scenario
    class AllDefaults(VUser):
        pass

    @scenario(rps=10, duration="1m", ramp_up="10s", mode="ramp", steps=5, thresholds={},
              max_vusers=None)
    class AllWritten(VUser):
        pass

    everything = {"rps", "duration", "ramp_up", "mode", "steps", "thresholds", "max_vusers"}
    assert scenario_config(AllDefaults).defaults == everything
    # max_vusers=None is the same as leaving it out.
    assert scenario_config(AllWritten).defaults == {"max_vusers"}
    assert scenario_config(AllWritten) == scenario_config(AllDefaults)
    assert type(scenario_config(AllDefaults).ramp_up) is str
    assert type(scenario_config(AllDefaults).rps) is int


def test_scenario_does_not_validate_values():
    @scenario(rps=-5, duration="soon", mode="warp")
    class S(VUser):
        pass

    assert scenario_config(S).mode == "warp"


def test_scenario_config_is_not_inherited():
    @scenario(rps=3)
    class Base(VUser):
        pass

    class Child(Base):
        pass

    assert scenario_config(Base).rps == 3
    assert scenario_config(Child) is None


@pytest.mark.parametrize("target", [lambda: None, 42, "text"])
def test_scenario_on_non_class_is_a_type_error(target):
    with pytest.raises(TypeError, match="@scenario must decorate a class"):
        scenario(rps=1)(target)


def test_scenario_on_a_plain_class_makes_it_a_vuser():
    class Base:
        def helper(self) -> str:
            return "base"

    @scenario(5, "2s")
    class Plain(Base):
        """Plain docstring."""

        def on_start(self, client: LoadClient) -> None:
            self.started = super().helper()

        @task(weight=2)
        def a(self, client: LoadClient) -> None: ...

    assert issubclass(Plain, VUser) and issubclass(Plain, Base)
    assert Plain.__name__ == "Plain" and Plain.__doc__ == "Plain docstring."
    assert Plain.__qualname__.endswith("<locals>.Plain")
    assert Plain.__module__ == __name__
    assert scenario_config(Plain).rps == 5 and scenario_config(Plain).duration == "2s"
    assert [name for name, _ in tasks_of(Plain)] == ["a"]
    # VUser's default hooks are there; the class's own win.
    instance = Plain()
    instance.on_stop(None)
    instance.on_start(None)
    assert instance.started == "base"

    @scenario
    class Bare:
        @task
        def b(self, client: LoadClient) -> None: ...

    assert issubclass(Bare, VUser) and scenario_config(Bare) == ScenarioConfig()


def test_scenario_positional_rps_and_duration():
    @scenario(20, "5s", mode="constant")
    class Two(VUser):
        pass

    @scenario("max")
    class One(VUser):
        pass

    assert scenario_config(Two).as_dict()["rps"] == 20
    assert scenario_config(Two).duration == "5s"
    assert scenario_config(Two).mode == "constant"
    assert scenario_config(Two).defaults == {"ramp_up", "steps", "thresholds", "max_vusers"}
    assert scenario_config(One).rps == "max"
    assert "rps" not in scenario_config(One).defaults
    assert "duration" in scenario_config(One).defaults


def test_scenario_positional_errors():
    with pytest.raises(TypeError, match=r"at most 2 positional arguments \(rps, duration\) "
                                        r"but 3 were given"):
        scenario(20, "5s", "1s")
    with pytest.raises(TypeError, match="multiple values for argument 'rps'"):
        scenario(20, rps=30)
    with pytest.raises(TypeError, match="multiple values for argument 'duration'"):
        scenario(20, "5s", duration="1m")


def test_scenario_positional_error_names_the_scenario_line(write_scenario):
    from loadpilot._describe import ScenarioLoadError, describe

    path = write_scenario("""
        from loadpilot import scenario

        @scenario(20, "5s", "1s")
        class Three:
            pass
        """)
    with pytest.raises(ScenarioLoadError) as info:
        describe(str(path))
    assert str(info.value).startswith(f"{path}:3: TypeError: @scenario() takes at most 2 ")


def test_task_forms():
    class U(VUser):
        @task
        def a(self, client: LoadClient) -> None: ...

        @task()
        def b(self, client: LoadClient) -> None: ...

        @task(weight=5)
        def c(self, client: LoadClient) -> None: ...

        @task(2.5)
        def d(self, client: LoadClient) -> None: ...

        def not_a_task(self) -> None: ...

    assert [(name, task_info(f).weight) for name, f in tasks_of(U)] == [
        ("a", 1),
        ("b", 1),
        ("c", 5),
        ("d", 2.5),
    ]
    assert task_info(U.not_a_task) is None


@pytest.mark.parametrize("weight", ["5", None, True, [1]])
def test_task_weight_must_be_a_number(weight):
    with pytest.raises(TypeError, match="@task weight must be a number"):
        task(weight=weight)


def test_task_weight_is_not_range_checked():
    @task(weight=-1)
    def t(self, client): ...

    assert task_info(t).weight == -1


def test_tasks_follow_mro_and_overrides():
    class Base(VUser):
        @task
        def first(self, client): ...

        @task
        def second(self, client): ...

        @task
        def dropped(self, client): ...

    class Child(Base):
        @task(weight=9)
        def second(self, client): ...

        dropped = None

        @task
        def third(self, client): ...

    tasks = tasks_of(Child)
    assert [name for name, _ in tasks] == ["first", "second", "third"]
    assert task_info(tasks[1][1]).weight == 9


def test_vuser_hooks_are_no_ops():
    user = VUser()
    assert user.on_start(None) is None
    assert user.on_stop(None) is None


def test_closed_model_users_and_wait():
    @scenario(users=100, wait=between(1, 3), duration="5m", ramp_up="30s")
    class Shop(VUser):
        pass

    d = scenario_config(Shop).as_dict()
    assert d["users"] == 100
    assert d["wait"] == {"kind": "between", "min_s": 1.0, "max_s": 3.0}
    assert d["ramp_up"] == "30s"
    assert scenario_config(Shop).defaults >= {"rps", "mode", "steps"}
    assert constant(0.5) == Wait("constant", 0.5, 0.5)
    assert constant_pacing(2) == Wait("pacing", 2.0, 2.0)
    assert repr(between(1, 2.5)) == "between(1, 2.5)"
    assert repr(constant_pacing(2)) == "constant_pacing(2)"


def test_closed_model_without_wait_and_open_model_have_no_users():
    @scenario(users=5)
    class NoWait(VUser):
        pass

    @scenario(rps=5)
    class Open(VUser):
        pass

    assert scenario_config(NoWait).as_dict()["wait"] is None
    assert "users" not in scenario_config(Open).as_dict()


def test_locust_wait_time_attribute_is_the_wait():
    @scenario(users=2)
    class Locusty(VUser):
        wait_time = between(0.5, 1)

    assert scenario_config(Locusty).wait == between(0.5, 1)
    with pytest.raises(TypeError, match="both wait=constant\\(1\\) and wait_time"):
        @scenario(users=2, wait=constant(1))
        class Both(VUser):
            wait_time = between(0.5, 1)


def test_a_wait_class_attribute_is_the_wait_too():
    @scenario(users=2)
    class Waity(VUser):
        wait = between(0.5, 1)

    assert scenario_config(Waity).wait == between(0.5, 1)
    with pytest.raises(TypeError, match="both wait = between\\(1, 2\\) and wait_time"):
        @scenario(users=2)
        class Both(VUser):
            wait = between(1, 2)
            wait_time = between(0.5, 1)


@pytest.mark.parametrize("attr", ["wait_time", "wait"])
def test_think_time_in_the_class_of_an_open_model_is_refused(attr):
    # Ignoring it would send at the arrival rate while the user believes
    # each of their users pauses between iterations.
    with pytest.raises(TypeError, match=f"{attr} = between\\(1, 3\\) is think time of the "
                                        "closed model: add users=N"):
        @scenario(rps=50)
        class Open(VUser):
            locals()[attr] = between(1, 3)


def test_a_method_called_wait_is_the_scenarios_own():
    @scenario(rps=5)
    class Polls(VUser):
        def wait(self, client):
            return client

    assert scenario_config(Polls).wait is None


def test_a_wait_time_that_is_not_ours_is_refused():
    def locust_between(a, b):  # what `from locust import between` gives
        return lambda self: a

    with pytest.raises(TypeError, match="wait_time must be loadpilot's between\\(\\), "
                                        "constant\\(\\) or constant_pacing\\(\\)"):
        @scenario(users=2)
        class Locusty(VUser):
            wait_time = locust_between(1, 3)
    with pytest.raises(TypeError, match="wait must be loadpilot's between"):
        @scenario(users=2)
        class Numbery(VUser):
            wait = 2


@pytest.mark.parametrize("kwargs, message", [
    ({"rps": 5, "users": 3}, "got both rps=5 and users=3: rps= is the open model"),
    ({"rps": "max", "users": 3}, "got both rps='max' and users=3"),
    ({"wait": constant(1)}, "wait=...\\) needs users="),
    ({"users": 3, "max_vusers": 3}, "each user is one VUser"),
])
def test_models_do_not_mix(kwargs, message):
    with pytest.raises(TypeError, match=message):
        @scenario(**kwargs)
        class S(VUser):
            pass


def test_positional_rps_with_users_is_refused():
    with pytest.raises(TypeError, match="got both rps=20 and users=4"):
        @scenario(20, "5s", users=4)
        class S(VUser):
            pass


@pytest.mark.parametrize("call", [lambda: between("1", 2), lambda: constant(None),
                                  lambda: constant_pacing(True)])
def test_wait_times_must_be_numbers(call):
    with pytest.raises(TypeError, match="as a number of seconds"):
        call()


def test_mixed_models_name_the_scenario_line(write_scenario):
    path = write_scenario("""
        from loadpilot import VUser, scenario, task

        @scenario(rps=5,
                  users=3)
        class S(VUser):
            @task
            def t(self, client):
                client.get("/")
        """)
    from loadpilot import _describe
    with pytest.raises(_describe.ScenarioLoadError) as e:
        _describe.describe_file(str(path))
    assert f"{path}:3: TypeError: @scenario() got both rps=5 and users=3" in str(e.value)


@pytest.mark.parametrize("make,message", [
    (lambda: task(wieght=3),
     "@task() got an unexpected keyword argument 'wieght'; did you mean 'weight'?"),
    (lambda: task(priority=3),
     "@task() got an unexpected keyword argument 'priority'; it takes weight, thresholds"),
    (lambda: scenario(rampup="5s"),
     "@scenario() got an unexpected keyword argument 'rampup'; did you mean 'ramp_up'?"),
    (lambda: scenario(rps=5, treshold={"p99_ms": 5}),
     "@scenario() got an unexpected keyword argument 'treshold'; did you mean 'thresholds'?"),
    (lambda: scenario(vus=10),
     "@scenario() got an unexpected keyword argument 'vus'; it takes rps, duration, ramp_up, "
     "mode, steps, thresholds, max_vusers, users, wait, follow_redirects, max_redirects, "
     "http_version, max_streams, rps_min, rps_max, stages, start, group"),
])
def test_unknown_keywords_get_a_suggestion(make, message):
    with pytest.raises(TypeError) as exc:
        make()
    assert str(exc.value) == message


def test_unknown_task_keyword_names_the_line(write_scenario):
    path = write_scenario("""
        from loadpilot import VUser, scenario, task

        @scenario
        class S(VUser):
            @task(wieght=3)
            def a(self, client):
                client.get("/")
        """)
    with pytest.raises(_describe.ScenarioLoadError) as exc:
        _describe.describe_file(str(path))
    assert str(exc.value) == (f"{path}:5: TypeError: @task() got an unexpected keyword "
                              "argument 'wieght'; did you mean 'weight'?")


def test_task_thresholds_are_kept_as_written_with_their_line(write_scenario):
    path = write_scenario("""
        from loadpilot import VUser, scenario, task

        @scenario(thresholds={"p99_ms": {"limit": 500, "over": "1m"}})
        class S(VUser):
            @task(3, thresholds={"p99_ms": 300})
            def checkout(self, client):
                client.get("/")

            @task
            def search(self, client):
                client.get("/")
        """)
    [described] = json.loads(_describe.describe_file(str(path)))
    assert described["thresholds_at"] == f"{path}:3"
    assert described["config"]["thresholds"] == {"p99_ms": {"limit": 500, "over": "1m"}}
    checkout, search = described["tasks"]
    assert checkout["thresholds"] == {"p99_ms": 300}
    assert checkout["thresholds_at"] == f"{path}:5"
    assert checkout["weight"] == 3
    assert search["thresholds"] is None


def test_task_threshold_keyword_misspelt_gets_a_suggestion():
    with pytest.raises(TypeError) as exc:
        task(threshold={"p99_ms": 1})
    assert str(exc.value) == ("@task() got an unexpected keyword argument 'threshold'; did you "
                              "mean 'thresholds'?")


def test_start_and_group_are_described_only_when_given() -> None:
    @scenario(rps=5, start="10m", group=("nightly", "smoke"))
    class Later(VUser):
        pass

    @scenario(rps=5)
    class Now(VUser):
        pass

    later = scenario_config(Later).as_dict()
    assert later["start"] == "10m" and later["group"] == ["nightly", "smoke"]
    now = scenario_config(Now).as_dict()
    assert "start" not in now and "group" not in now
