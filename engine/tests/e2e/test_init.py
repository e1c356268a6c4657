"""`loadpilot init`: the scaffold, written from the binary's embedded copy,
is complete, valid, never overwrites, and its pieces fit together."""
import json
import os
import pathlib
import subprocess

import yaml

from conftest import run_loadpilot

SOURCE = pathlib.Path(os.environ.get("LOADPILOT_SOURCE_DIR", "."))
TEMPLATES = SOURCE / "cli/loadpilot/templates"
FILES = [
    ".gitignore",
    "monitoring/docker-compose.yml",
    "monitoring/prometheus.yml",
    "monitoring/grafana/dashboards/loadpilot.json",
    "monitoring/grafana/provisioning/dashboards/loadpilot.yml",
    "monitoring/grafana/provisioning/datasources/prometheus.yml",
    "scenarios/example.py",
]
SECTIONS = {
    "Throughput": ["RPS — Current vs Target", "Active Workers"],
    "Latency": ["Latency Percentiles (p50 / p95 / p99 / max)", "p99 Latency"],
    "Errors": ["Error Rate %", "Cumulative Requests & Errors"],
    "Responses & Data": ["Responses by Status Class", "Data Sent / Received"],
    "Per Task": ["Latency by Task (p50 / p99)", "Error Rate by Task %"],
}


def scaffold(tmp_path):
    project = tmp_path / "project"
    p = run_loadpilot("init", str(project))
    assert p.returncode == 0, p.stdout + p.stderr
    return project, p


def test_init_writes_every_file_from_the_embedded_templates(tmp_path):
    project, p = scaffold(tmp_path)
    written = sorted(str(f.relative_to(project)) for f in project.rglob("*") if f.is_file())
    assert written == sorted(FILES)
    for rel in FILES:
        assert f"created  {project / rel}" in p.stdout
        source = TEMPLATES / ("gitignore" if rel == ".gitignore" else rel)
        assert (project / rel).read_bytes() == source.read_bytes(), rel
    assert "7 files created, 0 skipped" in p.stdout
    ignored = (project / ".gitignore").read_text().split()
    assert "results/" in ignored and ".loadpilot/" in ignored


def test_second_init_overwrites_nothing(tmp_path):
    project, _ = scaffold(tmp_path)
    edited = project / "scenarios/example.py"
    edited.write_text("# mine\n")
    before = {rel: (project / rel).read_bytes() for rel in FILES}
    p = run_loadpilot("init", str(project))
    assert p.returncode == 0
    assert "0 files created, 7 skipped" in p.stdout
    for rel in FILES:
        assert f"skipped  {project / rel} (exists" in p.stdout
    assert {rel: (project / rel).read_bytes() for rel in FILES} == before
    # A partly present project gets only what is missing.
    (project / "monitoring/prometheus.yml").unlink()
    p = run_loadpilot("init", str(project))
    assert "1 file created, 6 skipped" in p.stdout
    assert edited.read_text() == "# mine\n"


def test_init_into_a_file_is_a_clear_error(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    p = run_loadpilot("init", str(target))
    assert p.returncode == 2
    assert str(target) in p.stderr and "not a directory" in p.stderr


def test_init_defaults_to_the_current_directory(tmp_path):
    from conftest import BIN
    p = subprocess.run([BIN, "init"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "scenarios/example.py").is_file()


def test_example_scenario_is_valid(tmp_path):
    project, _ = scaffold(tmp_path)
    p = run_loadpilot("run", str(project / "scenarios/example.py"), "--target",
                      "http://127.0.0.1:8000", "--dry-run")
    assert p.returncode == 0, p.stdout + p.stderr
    plan = json.loads(p.stdout)
    assert {t["name"] for t in plan["tasks"]} == {"products", "product", "order"}


def test_example_scenario_runs_against_demo_api(tmp_path, demo_api):
    project, _ = scaffold(tmp_path)
    p = run_loadpilot("run", str(project / "scenarios/example.py"), "--target", demo_api.url,
                      "--duration", "1s", "--ramp-up", "0s")
    assert p.returncode == 0, p.stdout + p.stderr
    assert demo_api.stats()["total"] > 0


def test_prometheus_config_is_valid_and_scrapes_loadpilot(tmp_path):
    project, _ = scaffold(tmp_path)
    config = project / "monitoring/prometheus.yml"
    p = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    c = yaml.safe_load(config.read_text())
    job = c["scrape_configs"][0]
    assert job["static_configs"][0]["targets"] == ["host.docker.internal:9090"]
    assert job["scrape_interval"] == "2s"


def test_compose_wires_prometheus_and_grafana(tmp_path):
    project, _ = scaffold(tmp_path)
    mon = project / "monitoring"
    compose = yaml.safe_load((mon / "docker-compose.yml").read_text())
    prom, graf = compose["services"]["prometheus"], compose["services"]["grafana"]
    assert "9091:9090" in prom["ports"]
    assert "host.docker.internal:host-gateway" in prom["extra_hosts"]
    assert "3000:3000" in graf["ports"]
    # Every bind-mounted source exists in the scaffold.
    for service in (prom, graf):
        for volume in service["volumes"]:
            src = volume.split(":")[0]
            if src.startswith("./"):
                assert (mon / src).exists(), volume
    # Grafana loads dashboards from where compose mounts them.
    provider = yaml.safe_load(
        (mon / "grafana/provisioning/dashboards/loadpilot.yml").read_text())["providers"][0]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in graf["volumes"] if v.startswith("./")}
    dash_dir = provider["options"]["path"]
    assert mounts[dash_dir] == "./grafana/dashboards"
    ds = yaml.safe_load(
        (mon / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"


def test_dashboard_layout(tmp_path):
    project, _ = scaffold(tmp_path)
    dash = json.loads((project / "monitoring/grafana/dashboards/loadpilot.json").read_text())
    assert dash["title"] == "LoadPilot" and dash["refresh"] == "5s"
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    task = variables["task"]
    assert task["multi"] and task["includeAll"] and task["allValue"] == ".*"
    assert task["query"]["query"] == "label_values(loadpilot_task_requests_total, task)"
    # Beside $task, $scenario (a run of several scenarios labels its tasks).
    scenario = variables["scenario"]
    assert scenario["multi"] and scenario["includeAll"] and scenario["allValue"] == ".*"
    assert scenario["query"]["query"] == "label_values(loadpilot_task_requests_total, scenario)"
    for panel in dash["panels"]:
        for target in panel.get("targets", []):
            if "$task" in target["expr"]:
                assert 'scenario=~"$scenario"' in target["expr"], target["expr"]
    sections, current = {}, None
    for panel in dash["panels"]:
        if panel["type"] == "row":
            current = panel["title"]
            sections[current] = []
            continue
        sections[current].append(panel["title"])
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for t in panel["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", panel["title"]
            if current == "Per Task":
                assert 'task=~"$task"' in t["expr"], t["expr"]
            if "Error Rate" in panel["title"]:
                assert "rate(" in t["expr"] and "[$__rate_interval]" in t["expr"], t["expr"]
    assert sections == SECTIONS
    types = {p["title"]: p["type"] for p in dash["panels"]}
    assert types["p99 Latency"] == "gauge"
