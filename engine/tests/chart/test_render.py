"""The offline renderer and the validator themselves: a small chart made here
exercises each Helm behaviour the renderer claims (docs/kubernetes.md#the-offline-rendering-test),
and objects with deliberate faults show that the validator reports them. A
renderer that drifted from Helm, or a validator that passed everything, would
make test_chart.py worthless; these tests are what keeps that from happening
unnoticed."""
import os
import textwrap

import pytest
import yaml

from conftest import run_renderer, validate

BOM = "\ufeff"


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))


@pytest.fixture
def demo_chart(tmp_path):
    chart = tmp_path / "demo"
    write(chart / "Chart.yaml", """
        apiVersion: v2
        name: demo
        version: 1.2.3
        appVersion: "9.9"
    """)
    write(chart / "values.yaml", """
        big: 1000000
        small: 3
        text: hello
        flag: false
        gone: here
        nested:
          a: 1
          b:
            c: x
    """)
    # A link to a file outside the chart, as the LoadPilot chart's dashboard is.
    write(tmp_path / "outside.txt", BOM + "linked content\n")
    os.makedirs(chart / "data")
    os.symlink("../../outside.txt", chart / "data/greeting.txt")
    write(chart / "templates/_helpers.tpl", """
        {{- define "demo.name" -}}
        {{ .Chart.Name }}-{{ .Release.Name }}
        {{- end }}
    """)
    write(chart / "templates/cm.yaml", """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ include "demo.name" . }}
          namespace: {{ .Release.Namespace }}
        data:
          big: {{ .Values.big | quote }}
          missing: "{{ .Values.nothing }}"
          greeting: {{ .Files.Get "data/greeting.txt" | quote }}
          absent: {{ .Files.Get "data/none.txt" | quote }}
          nested: {{ toYaml .Values.nested | quote }}
          json: {{ toJson .Values.nested | quote }}
          chart: {{ printf "%s %s %s" .Chart.Name .Chart.Version .Chart.AppVersion | quote }}
          template: {{ .Template.Name | quote }}
          types: {{ printf "%T %T %T %T" .Values.small .Values.flag .Values.text .Values.setint | quote }}
          values: {{ printf "%v %v %v" .Values.small .Values.flag .Values.text | quote }}
          gone: {{ hasKey .Values "gone" | quote }}
          lookup: {{ lookup "v1" "Secret" "default" "x" | len | quote }}
          found: {{ lookup "v1" "Secret" .Release.Namespace "kept" | dig "data" "k" "none" | quote }}
        ---
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: second
    """)
    write(chart / "templates/empty.yaml", """
        {{- if .Values.never }}
        apiVersion: v1
        {{- end }}
    """)
    write(chart / "templates/req.yaml", """
        {{- if .Values.needIt }}{{ required "needIt.value is required" .Values.needIt.value }}{{ end }}
    """)
    return str(chart)


def render_ok(renderer, chart, *args):
    r, _ = run_renderer(renderer, list(args), chart=chart)
    assert r.returncode == 0, r.stderr
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    return r.stdout, {d["metadata"]["name"]: d for d in docs}


def test_helm_semantics(renderer, demo_chart):
    text, docs = render_ok(renderer, demo_chart)
    assert sorted(docs) == ["demo-loadpilot", "second"], "empty documents and partials are dropped"
    assert text.startswith("---\n# Source: demo/templates/cm.yaml\n")
    data = docs["demo-loadpilot"]["data"]
    # Numbers from YAML files are float64 in Helm: a million prints as 1e+06.
    assert data["big"] == "1e+06"
    assert data["missing"] == "", "<no value> is removed as Helm removes it"
    assert data["greeting"] == "linked content\n", "a symbolic link is followed, the BOM dropped"
    assert data["absent"] == ""
    assert data["nested"] == "a: 1\nb:\n  c: x"
    assert data["json"] == '{"a":1,"b":{"c":"x"}}'
    assert data["chart"] == "demo 1.2.3 9.9"
    assert data["template"] == "demo/templates/cm.yaml"
    assert data["types"] == "float64 bool string <nil>"
    assert data["gone"] == "true"
    assert data["lookup"] == "0", "lookup finds nothing without a cluster"
    assert data["found"] == "none"
    assert docs["demo-loadpilot"]["metadata"]["namespace"] == "default"


def test_set_and_values_files(renderer, demo_chart, tmp_path):
    override = tmp_path / "override.yaml"
    write(override, """
        nested:
          b:
            c: from-file
    """)
    _, docs = render_ok(renderer, demo_chart, "--values", str(override),
                        "--set", "setint=7,flag=true", "--set", "text=010", "--set", "gone=null",
                        "--set-string", "small=3", "--release-name", "r1", "--namespace", "ns1")
    cm = docs["demo-r1"]
    assert cm["metadata"]["namespace"] == "ns1"
    data = cm["data"]
    assert data["types"] == "string bool string int64"
    assert data["values"] == "3 true 010", "a leading 0 keeps a --set value a string"
    assert data["nested"] == "a: 1\nb:\n  c: from-file", "files merge into the defaults key by key"
    assert data["gone"] == "false", "null removes a default"


def test_required_names_the_template_and_the_message(renderer, demo_chart):
    r, _ = run_renderer(renderer, ["--set", "needIt.other=1"], chart=demo_chart)
    assert r.returncode == 1
    assert "execution error at (demo/templates/req.yaml:1:" in r.stderr
    assert r.stderr.rstrip().endswith("needIt.value is required")


@pytest.mark.parametrize("args,code,message", [
    (["--set", "list[0]=1"], 2, "list indexes (a[0]=x) are not supported"),
    (["--set", "list={a,b}"], 2, "list values ({a,b}) are not supported"),
    (["--set", "novalue"], 2, 'key "novalue" has no value'),
    (["--values", "/nonexistent.yaml"], 2, "/nonexistent.yaml"),
    (["extra"], 2, "unexpected"),
])
def test_bad_arguments(renderer, demo_chart, args, code, message):
    r, _ = run_renderer(renderer, args, chart=demo_chart)
    assert r.returncode == code, r.stderr
    assert message in r.stderr


def test_unsupported_charts_and_functions_are_refused(renderer, demo_chart):
    write(os.path.join(demo_chart, "templates/env.yaml"), '{{ env "HOME" }}\n')
    r, _ = run_renderer(renderer, [], chart=demo_chart)
    assert r.returncode == 1 and 'function "env" not defined' in r.stderr, "Helm removes env too"
    os.remove(os.path.join(demo_chart, "templates/env.yaml"))
    write(os.path.join(demo_chart, "templates/bad.yaml"), "kind: [unclosed\n")
    r, _ = run_renderer(renderer, [], chart=demo_chart)
    assert r.returncode == 1 and "YAML parse error on demo/templates/bad.yaml" in r.stderr
    os.remove(os.path.join(demo_chart, "templates/bad.yaml"))
    write(os.path.join(demo_chart, ".helmignore"), "*.bak\n")
    r, _ = run_renderer(renderer, [], chart=demo_chart)
    assert r.returncode == 2 and ".helmignore: not supported by this renderer" in r.stderr


def test_validator_reports_faults():
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "b"}},
        "spec": {"replicas": "2", "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "i",
                                                       "readinesProbe": {"exec": {"command": ["true"]}},
                                                       "imagePullPolicy": "Sometimes"}]}}}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
               "spec": {"ports": [{"name": "http", "port": "80"}]}}
    good = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"x": "y"}},
            "data": {"k.json": "{}"}}
    report = validate([deployment, service, good,
                       {"apiVersion": "v1", "kind": "Foo", "metadata": {"name": "f"}},
                       {"apiVersion": "../x", "kind": "Foo", "metadata": {"name": "g"}}])
    dep = "\n".join(report["Deployment/d"])
    assert "replicas must be integer" in dep
    assert ".spec.template.spec.containers[0].readinesProbe: unknown field" in dep
    assert "readinesProbe.exec" not in dep, "a misspelt field is reported once"
    assert "imagePullPolicy" in dep
    assert "port must be integer" in "\n".join(report["Service/s"])
    assert report["ConfigMap/c"] == []
    assert report["Foo/f"] == ["unknown kind Foo in v1"]
    assert report["Foo/g"] == ['apiVersion "../x" is not GROUP/VERSION']


def test_lookup_finds_existing_objects(renderer, demo_chart, tmp_path):
    cluster = tmp_path / "cluster.yaml"
    write(cluster, """
        apiVersion: v1
        kind: Secret
        metadata:
          name: kept
          namespace: other
        data:
          k: elsewhere
        ---
        apiVersion: v1
        kind: Secret
        metadata:
          name: kept
        data:
          k: here
    """)
    _, docs = render_ok(renderer, demo_chart, "--existing", str(cluster))
    assert docs["demo-loadpilot"]["data"]["found"] == "here"
    _, docs = render_ok(renderer, demo_chart, "--existing", str(cluster), "--namespace", "other")
    assert docs["demo-loadpilot"]["data"]["found"] == "elsewhere"
