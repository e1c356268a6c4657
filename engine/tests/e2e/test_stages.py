"""Free-form stages and shapes (docs/scenarios.md#stages): a run starts the
curve's integral to the iteration, and its books hold, open or closed,
local or split between agents."""
import json

from conftest import run_json, run_loadpilot

# Five stages from 0: 0.5 s up to 40/s, 1 s at 40, 0.5 s up to 120, 0.5 s
# at 120, 1 s down to 0. The integral: 10 + 40 + 40 + 60 + 60 = 210.
FIVE = """
from loadpilot import VUser, scenario, task

@scenario(stages=[("0.5s", 40), ("1s", 40), ("0.5s", 120), ("0.5s", 120), ("1s", 0)])
class Waves(VUser):
    @task
    def health(self, client):
        client.get("/api/products")
"""
FIVE_INTEGRAL = 210


def books_balance(r):
    """docs/output.md#iterations."""
    it = r["iterations"]
    assert it["started"] == it["finished"] + it["cut_off"], it
    assert it["started"] + it["dropped"] + it["not_started"] == round(it["planned"]), it


def routes(api):
    return api.stats()["routes"]


def test_five_stages_start_the_integral(demo_api, scenario_file, tmp_path):
    path = scenario_file(FIVE)
    dry = run_loadpilot("run", path, "--target", demo_api.url, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["profile"]["mode"] == "stages"
    assert plan["profile"]["stages"][2] == [0.5, 120]
    assert plan["engine"]["planned_iterations"] == FIVE_INTEGRAL
    assert plan["engine"]["total_s"] == 3.5

    p, r = run_json(path, demo_api.url, tmp_path, "--no-report")
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["mode"] == "stages"
    it = r["iterations"]
    assert round(it["planned"]) == FIVE_INTEGRAL
    assert abs(it["started"] - FIVE_INTEGRAL) <= 1, it
    assert it["dropped"] == 0 and it["not_started"] == 0, it
    books_balance(r)
    # What the run counted is what the target saw.
    assert routes(demo_api)["GET /api/products"] == r["requests"] == it["finished"]


def test_stages_split_exactly_between_agents(demo_api, scenario_file, tmp_path):
    path = scenario_file(FIVE)
    p, r = run_json(path, demo_api.url, tmp_path, "--no-report", "--agents", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    it = r["iterations"]
    assert abs(it["started"] - FIVE_INTEGRAL) <= 1, it
    books_balance(r)
    assert routes(demo_api)["GET /api/products"] == r["requests"]


def test_closed_stages_bring_users_in_and_out(demo_api, scenario_file, tmp_path):
    # No users at first, 4 after 1 s, held 1.5 s, none again at 3.5 s.
    path = scenario_file("""
        from loadpilot import VUser, scenario, task, constant

        @scenario(users=0, wait=constant(0.05), stages=[("1s", 4), ("1.5s", 4), ("1s", 0)])
        class Shoppers(VUser):
            @task
            def products(self, client):
                client.get("/api/products")
    """)
    p, r = run_json(path, demo_api.url, tmp_path, "--no-report", "--output", "ndjson")
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["model"] == "closed" and r["mode"] == "stages"
    assert r["users"]["planned"] == 4
    assert r["users"]["peak_active"] == 4
    it = r["iterations"]
    assert it["started"] == it["finished"] + it["cut_off"], it
    assert it["planned"] == it["started"] + it["dropped"], it
    assert it["started"] > 0
    snaps = [json.loads(line) for line in p.stdout.splitlines()
             if line.startswith("{") and '"snapshot"' in line]
    for s in snaps:
        t = s["elapsed_s"]
        # The users the curve wants: floor(4 t) up to 1 s, 4 until 2.5 s,
        # then floor(4 (3.5 - t)); sampled away from the edges.
        if 1.05 <= t <= 2.45:
            assert s["target_users"] == 4, s
    assert routes(demo_api)["GET /api/products"] == r["requests"]


def test_a_shape_runs_its_held_steps(demo_api, scenario_file, tmp_path):
    # 30/s for 1 s, 60/s for 1 s, then None: 90 iterations.
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario
        class Shaped(VUser):
            def shape(self, t):
                if t >= 2:
                    return None
                return 30 if t < 1 else 60

            @task
            def products(self, client):
                client.get("/api/products")
    """)
    p, r = run_json(path, demo_api.url, tmp_path, "--no-report")
    assert p.returncode == 0, p.stdout + p.stderr
    assert r["mode"] == "shape"
    it = r["iterations"]
    assert round(it["planned"]) == 90
    assert abs(it["started"] - 90) <= 1, it
    books_balance(r)
    assert routes(demo_api)["GET /api/products"] == r["requests"]


def test_a_bad_table_names_file_line_and_sends_nothing(demo_api, scenario_file):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario(stages=[
            ("1s", 10),
            ("1s", -5),
        ])
        class Bad(VUser):
            @task
            def products(self, client):
                client.get("/api/products")
    """)
    p = run_loadpilot("run", path, "--target", demo_api.url)
    assert p.returncode == 2, p.stderr
    assert f"{path}:6: stages[1].target: must be a number of iterations/s from 0 to " \
           "10000000 (got -5)" in p.stderr, p.stderr
    assert demo_api.stats()["total"] == 0


def test_a_shape_that_raises_names_its_line(demo_api, scenario_file):
    path = scenario_file("""
        from loadpilot import VUser, scenario, task

        @scenario
        class Broken(VUser):
            def shape(self, t):
                return 1 / 0

            @task
            def products(self, client):
                client.get("/api/products")
    """)
    p = run_loadpilot("run", path, "--target", demo_api.url)
    assert p.returncode == 2, p.stderr
    assert f"{path}:7: ZeroDivisionError: division by zero (in shape() at t=0.0s)" in p.stderr
    assert demo_api.stats()["total"] == 0


def test_the_docs_examples_load(tmp_path):
    # Every Python example of docs/scenarios.md's stages and shapes sections
    # dry-runs as written.
    import os
    import re
    source = os.environ.get("LOADPILOT_SOURCE_DIR", ".")
    text = open(os.path.join(source, "docs", "scenarios.md")).read()
    section = text[text.index("### Stages"):text.index("## Open and closed models")]
    # (Other sections, thresholds', may follow within it: only the tables.)
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S)
              if "stages=" in b or "def shape" in b]
    assert len(blocks) == 2, blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"doc{i}.py"
        path.write_text(block)
        p = run_loadpilot("run", str(path), "--target", "http://127.0.0.1:9", "--dry-run")
        assert p.returncode == 0, (block, p.stderr)
        assert json.loads(p.stdout)["profile"]["mode"] in ("stages", "shape")
