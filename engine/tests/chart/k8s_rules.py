"""Checks of rendered objects that the API's OpenAPI schemas leave to the API
server, and checks across objects (a Secret a pod reads exists, a Service
selects pods that have its target port). Each function returns a list of
messages naming the object and the field; empty means fine."""
import base64
import binascii
import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def ref(obj):
    return f"{obj['kind']}/{obj['metadata']['name']}"


def empty_values(value, path=""):
    """Paths holding None or an empty string: a value the chart meant to fill
    and did not (Helm prints a missing value as nothing). An empty map is
    allowed only as emptyDir."""
    found = []
    if value is None or value == "":
        found.append(path or "/")
    elif isinstance(value, dict):
        if not value and not path.endswith(".emptyDir"):
            found.append(path)
        for k, v in value.items():
            found += empty_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        if not value:
            found.append(path)
        for i, v in enumerate(value):
            found += empty_values(v, f"{path}[{i}]")
    return found


def _port_name(name, where):
    if len(name) > 15 or not PORT_NAME.match(name) or not re.search("[a-z]", name) or "--" in name:
        return [f"{where}: port name {name!r} is not a valid IANA service name (1-15 of a-z0-9-)"]
    return []


def _labels(labels, where):
    errors = []
    for k, v in (labels or {}).items():
        prefix, _, name = k.rpartition("/")
        if (prefix and (len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix))) or len(name) > 63 \
                or not LABEL_NAME.match(name):
            errors.append(f"{where}: label key {k!r} is invalid")
        if not isinstance(v, str) or len(v) > 63 or (v and not LABEL_NAME.match(v)):
            errors.append(f"{where}: label {k}={v!r}: not a valid label value")
    return errors


def pod_spec(obj):
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "Deployment":
        return obj["spec"]["template"]["spec"]
    return None


def object_rules(obj):
    """Names and formats the API server enforces on one object."""
    r = ref(obj)
    errors = []
    name = obj["metadata"]["name"]
    pattern = DNS_1035_LABEL if obj["kind"] == "Service" else DNS_SUBDOMAIN
    limit = 63 if obj["kind"] == "Service" else 253
    if len(name) > limit or not pattern.match(name):
        errors.append(f"{r}: metadata.name is not valid for a {obj['kind']}")
    errors += _labels(obj["metadata"].get("labels"), f"{r} metadata.labels")
    if obj["kind"] == "Deployment":
        tmpl_labels = obj["spec"]["template"]["metadata"].get("labels", {})
        errors += _labels(tmpl_labels, f"{r} spec.template.metadata.labels")
        for k, v in obj["spec"]["selector"]["matchLabels"].items():
            if tmpl_labels.get(k) != v:
                errors.append(f"{r}: selector {k}={v} does not match the pod template's labels")
    if obj["kind"] in ("ConfigMap", "Secret"):
        for k, v in (obj.get("data") or {}).items():
            if not CONFIG_KEY.match(k) or len(k) > 253:
                errors.append(f"{r}: data key {k!r} is invalid")
            if obj["kind"] == "Secret":
                try:
                    base64.b64decode(v, validate=True)
                except (binascii.Error, TypeError):
                    errors.append(f"{r}: data.{k} is not base64")
    if obj["kind"] == "Service":
        for p in obj["spec"]["ports"]:
            errors += _port_name(p["name"], f"{r} spec.ports")
    spec = pod_spec(obj)
    if spec is not None:
        volumes = {v["name"] for v in spec.get("volumes", [])}
        for v in volumes:
            if len(v) > 63 or not DNS_LABEL.match(v):
                errors.append(f"{r}: volume name {v!r} is not a DNS label")
        for c in spec["containers"]:
            where = f"{r} container {c['name']}"
            if len(c["name"]) > 63 or not DNS_LABEL.match(c["name"]):
                errors.append(f"{where}: name is not a DNS label")
            ports = {p.get("name") for p in c.get("ports", [])}
            for p in c.get("ports", []):
                errors += _port_name(p["name"], where)
            for e in c.get("env", []):
                if not ENV_NAME.match(e["name"]):
                    errors.append(f"{where}: env name {e['name']!r} is invalid")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    errors.append(f"{where}: volumeMount {m['name']} names no volume of the pod")
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                port = (c.get(probe, {}).get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errors.append(f"{where}: {probe} uses port {port!r}, which the container does not name")
    return errors


def cross_rules(objects):
    """References between the rendered objects."""
    errors = []
    secrets = {o["metadata"]["name"]: set((o.get("data") or {}) | (o.get("stringData") or {}))
               for o in objects if o["kind"] == "Secret"}
    configmaps = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    for o in objects:
        spec = pod_spec(o)
        if spec is None:
            continue
        for v in spec.get("volumes", []):
            if "configMap" in v and v["configMap"]["name"] not in configmaps:
                errors.append(f"{ref(o)}: volume {v['name']} reads ConfigMap {v['configMap']['name']}, not rendered")
        for c in spec["containers"]:
            for e in c.get("env", []):
                key_ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if key_ref and key_ref["key"] not in secrets.get(key_ref["name"], ()):
                    errors.append(f"{ref(o)}: env {e['name']} reads {key_ref['name']}/{key_ref['key']}, "
                                  "which no rendered Secret holds")
    for svc in (o for o in objects if o["kind"] == "Service"):
        selector = svc["spec"]["selector"]
        selected = [d for d in deployments
                    if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        if len(selected) != 1:
            errors.append(f"{ref(svc)}: selects {len(selected)} Deployments, not 1")
            continue
        names = {p.get("name") for c in pod_spec(selected[0])["containers"] for p in c.get("ports", [])}
        for p in svc["spec"]["ports"]:
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in names:
                errors.append(f"{ref(svc)}: targetPort {p['targetPort']} is no port of {ref(selected[0])}")
    return errors
