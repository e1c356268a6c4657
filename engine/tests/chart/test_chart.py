"""The Helm chart cli/loadpilot/charts/loadpilot, rendered offline for the
value sets of docs/kubernetes.md and checked: every manifest parses and
validates against the Kubernetes schemas, references between objects hold,
and the invariants the docs promise (names, ports, images, scrape target,
the dashboard being init's file) are true."""
import base64
import os
import re

import pytest
import yaml

from conftest import CHART_DIR, INIT_DASHBOARD, run_renderer, validate
from k8s_rules import cross_rules, empty_values, object_rules, pod_spec

SEED = ["--set", "coordinator.enabled=true", "--set", "coordinator.image=loadpilot-coordinator",
        "--set", "coordinator.tag=local", "--set", "coordinator.imagePullPolicy=Never"]
NO_SCRAPE = ["--set", "monitoring.coordinator.scrapeTarget="]
NO_MONITORING = ["--set", "monitoring.enabled=false"]

VALUE_SETS = {
    "defaults": [],
    "seed": SEED,
    "no-scrape-target": NO_SCRAPE,
    "monitoring-off": NO_MONITORING,
    "seed-monitoring-off": SEED + NO_MONITORING,
    "own-agent-image-and-secrets": [
        "--set", "agent.replicas=5", "--set", "agent.image=registry.example/loadpilot-agent",
        "--set", "agent.tag=1.2.3", "--set", "nats.token=nats-secret", "--set", "nats.port=4333",
        "--set", "coordinator.enabled=true", "--set", "coordinator.apiToken=api-secret",
        "--set", "monitoring.grafana.adminPassword=grafana-secret"],
}

COORDINATOR_OBJECTS = {"Deployment/loadpilot-coordinator", "Service/loadpilot-coordinator",
                       "Secret/loadpilot-coordinator", "Pod/loadpilot-test-coordinator"}
MONITORING_OBJECTS = {"ConfigMap/loadpilot-prometheus", "Deployment/loadpilot-prometheus",
                      "Service/loadpilot-prometheus", "ConfigMap/loadpilot-grafana-datasources",
                      "ConfigMap/loadpilot-grafana-dashboard-providers", "ConfigMap/loadpilot-grafana-dashboards",
                      "Deployment/loadpilot-grafana", "Service/loadpilot-grafana", "Secret/loadpilot-grafana",
                      "Pod/loadpilot-test-grafana"}
ALWAYS = {"Deployment/loadpilot-nats", "Service/loadpilot-nats", "Secret/loadpilot-nats",
          "Deployment/loadpilot-agent", "Pod/loadpilot-test-nats"}


def container(obj, name=None):
    cs = pod_spec(obj)["containers"]
    return cs[0] if name is None else next(c for c in cs if c["name"] == name)


def secret_value(rendered, name, key):
    return base64.b64decode(rendered.get("Secret", name)["data"][key]).decode()


def prometheus_config(rendered):
    return yaml.safe_load(rendered.get("ConfigMap", "loadpilot-prometheus")["data"]["prometheus.yml"])


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_object_parses_and_validates(render, name):
    r = render(*VALUE_SETS[name])
    assert len(r.refs()) == len(set(r.refs())), f"an object is rendered twice: {r.refs()}"
    report = validate(r.objects)
    failures = {ref: errs for ref, errs in report.items() if errs}
    assert not failures, f"{name}: objects failing the Kubernetes schemas: {failures}"
    problems = [e for o in r.objects for e in object_rules(o)] + cross_rules(r.objects)
    assert not problems, f"{name}: " + "\n".join(problems)
    empty = {f"{o['kind']}/{o['metadata']['name']}": p for o in r.objects if (p := empty_values(o))}
    assert not empty, f"{name}: empty or null values: {empty}"
    # Every object carries the chart's labels (kubectl -l app.kubernetes.io/instance=...).
    for o in r.objects:
        assert o["metadata"]["labels"]["app.kubernetes.io/instance"] == "loadpilot"
        spec = pod_spec(o)
        if spec is not None:
            assert spec["automountServiceAccountToken"] is False, o["metadata"]["name"]
            for c in spec["containers"]:
                assert c["securityContext"] == {"allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"]}}, c["name"]


@pytest.mark.parametrize("name,expected", [
    ("defaults", ALWAYS | MONITORING_OBJECTS),
    ("seed", ALWAYS | MONITORING_OBJECTS | COORDINATOR_OBJECTS),
    ("monitoring-off", ALWAYS),
    ("seed-monitoring-off", ALWAYS | COORDINATOR_OBJECTS),
])
def test_objects_per_values(render, name, expected):
    assert set(render(*VALUE_SETS[name]).refs()) == expected


def test_dashboard_is_init_file_byte_for_byte(render):
    link = os.path.join(CHART_DIR, "dashboards/loadpilot.json")
    # One source: the chart holds a link to init's file, not a copy.
    assert os.path.islink(link)
    assert os.path.realpath(link) == os.path.realpath(INIT_DASHBOARD)
    with open(INIT_DASHBOARD, "rb") as f:
        expected = f.read()
    for args in ([], SEED):
        r = render(*args)
        shipped = r.get("ConfigMap", "loadpilot-grafana-dashboards")["data"]["loadpilot.json"]
        assert shipped.encode() == expected
    grafana = container(r.get("Deployment", "loadpilot-grafana"))
    home = next(e["value"] for e in grafana["env"] if e["name"] == "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    mount = next(m for m in grafana["volumeMounts"] if m["name"] == "dashboards")
    assert home == mount["mountPath"] + "/loadpilot.json"


@pytest.mark.parametrize("args,target", [
    ([], "host.docker.internal:9090"),
    (SEED, "loadpilot-coordinator:9090"),
    (NO_SCRAPE, None),
    (SEED + NO_SCRAPE, "loadpilot-coordinator:9090"),
    (["--set", "monitoring.coordinator.scrapeTarget=loadgen.example.internal:9095"], "loadgen.example.internal:9095"),
])
def test_scrape_target_follows_values(render, args, target):
    config = prometheus_config(render(*args))
    jobs = config["scrape_configs"]
    if target is None:
        assert jobs == []
        return
    assert [j["job_name"] for j in jobs] == ["loadpilot"]
    assert jobs[0]["static_configs"] == [{"targets": [target]}]
    assert jobs[0]["scrape_interval"] == "2s"


def test_grafana_reads_the_charts_prometheus(render):
    r = render()
    ds = yaml.safe_load(r.get("ConfigMap", "loadpilot-grafana-datasources")["data"]["prometheus.yml"])
    [source] = ds["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    svc = r.get("Service", "loadpilot-prometheus")
    assert source["url"] == f"http://loadpilot-prometheus:{svc['spec']['ports'][0]['port']}"
    providers = yaml.safe_load(r.get("ConfigMap", "loadpilot-grafana-dashboard-providers")["data"]["loadpilot.yml"])
    mount = next(m for m in container(r.get("Deployment", "loadpilot-grafana"))["volumeMounts"]
                 if m["name"] == "dashboards")
    assert providers["providers"][0]["options"]["path"] == mount["mountPath"]


def test_seed_lines_set_image_and_pull_policy(render):
    r = render(*SEED)
    coord = container(r.get("Deployment", "loadpilot-coordinator"))
    assert coord["image"] == "loadpilot-coordinator:local"
    assert coord["imagePullPolicy"] == "Never"
    # The agents run the agent image, with the coordinator's tag and pull
    # policy unless agent.* says otherwise; an empty agent.image is the
    # coordinator's image.
    agent = container(r.get("Deployment", "loadpilot-agent"))
    assert (agent["image"], agent["imagePullPolicy"]) == ("loadpilot-agent:local", "Never")
    one = container(render(*SEED, "--set", "agent.image=").get("Deployment", "loadpilot-agent"))
    assert (one["image"], one["imagePullPolicy"]) == ("loadpilot-coordinator:local", "Never")
    own = render(*VALUE_SETS["own-agent-image-and-secrets"])
    agent = container(own.get("Deployment", "loadpilot-agent"))
    assert agent["image"] == "registry.example/loadpilot-agent:1.2.3"
    assert own.get("Deployment", "loadpilot-agent")["spec"]["replicas"] == 5
    # An empty tag is the chart's appVersion.
    with open(os.path.join(CHART_DIR, "Chart.yaml")) as f:
        app_version = yaml.safe_load(f)["appVersion"]
    assert container(render().get("Deployment", "loadpilot-agent"))["image"] == f"loadpilot-agent:{app_version}"


def test_coordinator_command_line_and_services(render):
    r = render(*SEED, "--set", "agent.replicas=3")
    coord_dep = r.get("Deployment", "loadpilot-coordinator")
    coord = container(coord_dep)
    # /metrics listens on loopback unless told: the in-cluster Prometheus
    # needs it on the pod's address.
    assert coord["args"] == ["coordinator", "--serve", "--listen", "0.0.0.0:8080",
                             "--metrics-host", "0.0.0.0",
                             "--nats-url", "nats://loadpilot-nats:4222", "--serve-agents", "3"]
    assert {p["name"]: p["containerPort"] for p in coord["ports"]} == {"http": 8080, "metrics": 9090}
    assert coord["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # Ready once the agents are in; served (and scraped) before that.
    assert coord["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert r.get("Service", "loadpilot-coordinator")["spec"]["publishNotReadyAddresses"] is True
    # LoadPilot's own pods run as the images' non-root user.
    for dep in ("loadpilot-coordinator", "loadpilot-agent"):
        pod = r.get("Deployment", dep)["spec"]["template"]["spec"]
        assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001,
                                          "runAsGroup": 10001,
                                          "seccompProfile": {"type": "RuntimeDefault"}}, dep
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in coord["env"]}
    assert env == {"LOADPILOT_API_TOKEN": {"name": "loadpilot-coordinator", "key": "api-token"},
                   "NATS_TOKEN": {"name": "loadpilot-nats", "key": "token"}}
    ports = lambda svc: {p["name"]: (p["port"], p["targetPort"]) for p in r.get("Service", svc)["spec"]["ports"]}
    assert ports("loadpilot-coordinator") == {"http": (8080, "http"), "metrics": (9090, "metrics")}
    assert ports("loadpilot-grafana") == {"http": (3000, "http")}
    assert ports("loadpilot-nats") == {"client": (4222, "client"), "monitor": (8222, "monitor")}
    assert ports("loadpilot-prometheus") == {"http": (9090, "http")}
    for svc in r.of_kind("Service"):
        assert svc["spec"]["type"] == "ClusterIP"
    # Never two coordinators or two NATS servers, not even during an upgrade.
    for dep in ("loadpilot-coordinator", "loadpilot-nats"):
        assert r.get("Deployment", dep)["spec"]["replicas"] == 1
        assert r.get("Deployment", dep)["spec"]["strategy"] == {"type": "Recreate"}


def test_agents_and_nats(render):
    r = render(*VALUE_SETS["own-agent-image-and-secrets"])
    agent = container(r.get("Deployment", "loadpilot-agent"))
    assert agent["args"] == ["agent", "--nats-url", "nats://loadpilot-nats:4333"]
    env = {e["name"]: e["valueFrom"] for e in agent["env"]}
    assert env["NATS_TOKEN"] == {"secretKeyRef": {"name": "loadpilot-nats", "key": "token"}}
    assert env["AGENT_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # The readiness probe looks for a connection to the NATS port, in hex.
    assert f":{4333:04X} 01 " in agent["readinessProbe"]["exec"]["command"][-1]
    assert "livenessProbe" in agent
    nats = container(r.get("Deployment", "loadpilot-nats"))
    assert "--auth=$(NATS_TOKEN)" in nats["args"] and "--port=4333" in nats["args"]
    assert {e["name"] for e in nats["env"]} == {"NATS_TOKEN"}
    coord = container(r.get("Deployment", "loadpilot-coordinator"))
    assert coord["args"][coord["args"].index("--nats-url") + 1] == "nats://loadpilot-nats:4333"
    assert coord["args"][coord["args"].index("--serve-agents") + 1] == "5"


def test_secrets_given_and_generated(render):
    given = render(*VALUE_SETS["own-agent-image-and-secrets"])
    assert secret_value(given, "loadpilot-nats", "token") == "nats-secret"
    assert secret_value(given, "loadpilot-coordinator", "api-token") == "api-secret"
    assert secret_value(given, "loadpilot-grafana", "admin-password") == "grafana-secret"
    assert secret_value(given, "loadpilot-grafana", "admin-user") == "admin"
    generated = render(*SEED)
    for name, key in (("loadpilot-nats", "token"), ("loadpilot-coordinator", "api-token"),
                      ("loadpilot-grafana", "admin-password")):
        assert re.fullmatch(r"[A-Za-z0-9]{32}", secret_value(generated, name, key)), (name, key)
    # No secret value appears anywhere but in its Secret.
    for obj in given.objects:
        if obj["kind"] != "Secret":
            assert "nats-secret" not in yaml.safe_dump(obj) and "api-secret" not in yaml.safe_dump(obj)
    # Changing a secret in values restarts the pods that read it.
    annotation = lambda r, dep: r.get("Deployment", dep)["spec"]["template"]["metadata"]["annotations"]
    other = render(*VALUE_SETS["own-agent-image-and-secrets"], "--set", "nats.token=another")
    for dep in ("loadpilot-nats", "loadpilot-agent", "loadpilot-coordinator"):
        assert annotation(given, dep)["checksum/secrets"] != annotation(other, dep)["checksum/secrets"]
        assert annotation(given, dep) == annotation(
            render(*VALUE_SETS["own-agent-image-and-secrets"]), dep), "not stable across renders"


def test_helm_tests_curl_each_health_endpoint(render):
    urls = lambda r: {p["metadata"]["name"]: container(p)["args"][-1] for p in r.of_kind("Pod")}
    r = render(*SEED)
    assert urls(r) == {"loadpilot-test-nats": "http://loadpilot-nats:8222/healthz",
                       "loadpilot-test-coordinator": "http://loadpilot-coordinator:8080/healthz",
                       "loadpilot-test-grafana": "http://loadpilot-grafana:3000/api/health"}
    for pod in r.of_kind("Pod"):
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert pod["spec"]["restartPolicy"] == "Never"
        assert container(pod)["command"] == ["curl"] and "--fail" in container(pod)["args"]
    assert set(urls(render())) == {"loadpilot-test-nats", "loadpilot-test-grafana"}


def test_notes_give_the_port_forward_commands(render):
    seed = render(*SEED).notes
    assert "kubectl port-forward --namespace default svc/loadpilot-coordinator 8080:8080" in seed
    assert "kubectl port-forward --namespace default svc/loadpilot-grafana 3000:3000" in seed
    assert "--coordinator-url http://localhost:8080" in seed
    assert "loadpilot-grafana -o jsonpath='{.data.admin-password}'" in seed
    assert "Prometheus scrapes LoadPilot at loadpilot-coordinator:9090." in seed
    local = render().notes
    assert "svc/loadpilot-nats 4222:4222" in local and "--external-agents 2" in local
    assert "loadpilot-coordinator" not in local
    assert "no LoadPilot target" in render(*NO_SCRAPE).notes
    assert "loadpilot-grafana" not in render(*NO_MONITORING).notes


@pytest.mark.parametrize("args,message", [
    (["--set", "agent.replicas=0"], "agent.replicas must be a whole number of at least 1, not 0"),
    (["--set", "agent.replicas=1.5"], "agent.replicas must be a whole number of at least 1, not 1.5"),
    (["--set", "coordinator.enabled=true", "--set", "coordinator.image="], "an image name is empty in values"),
    # An empty agent.image falls back to the coordinator's, which is empty too.
    (["--set", "coordinator.image=", "--set", "agent.image="], "an image name is empty in values"),
])
def test_bad_values_are_refused_with_the_key(renderer, tmp_path, args, message):
    r, _ = run_renderer(renderer, args, tmp_path=tmp_path)
    assert r.returncode == 1, r.stderr
    assert message in r.stderr


def test_upgrade_keeps_generated_secrets(render, tmp_path):
    """On an upgrade, lookup finds the release's Secrets: generated values are
    read back, not generated anew, and no pod is restarted for them."""
    first = render(*SEED)
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump_all(first.of_kind("Secret")))
    upgrade = render(*SEED, "--existing", str(cluster))
    for name, key in (("loadpilot-nats", "token"), ("loadpilot-coordinator", "api-token"),
                      ("loadpilot-grafana", "admin-password")):
        assert secret_value(upgrade, name, key) == secret_value(first, name, key), (name, key)
    assert render(*SEED).get("Secret", "loadpilot-nats") != first.get("Secret", "loadpilot-nats"), \
        "without the cluster's Secret a fresh token is generated"
    pods = lambda r: {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["annotations"]
                      for d in r.of_kind("Deployment")}
    assert pods(upgrade) == pods(first), "an upgrade with no change restarts a pod"
    # A value given at upgrade replaces the stored one.
    given = render(*SEED, "--existing", str(cluster), "--set", "nats.token=rotated")
    assert secret_value(given, "loadpilot-nats", "token") == "rotated"
    assert secret_value(given, "loadpilot-coordinator", "api-token") == secret_value(first, "loadpilot-coordinator", "api-token")
