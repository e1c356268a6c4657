{{/*
Shared pieces of the LoadPilot chart. Every object is named loadpilot-*,
whatever the release is called: the Services keep the names the docs and
NOTES.txt give (loadpilot-coordinator, loadpilot-grafana, loadpilot-nats),
so a namespace holds one release of this chart.
*/}}

{{/* Labels of every object. Argument: dict "ctx" $ "component" NAME. */}}
{{- define "loadpilot.labels" -}}
{{ include "loadpilot.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end }}

{{/* The labels a Deployment selects its pods by, and a Service its endpoints. */}}
{{- define "loadpilot.selectorLabels" -}}
app.kubernetes.io/name: loadpilot
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* IMAGE:TAG, the tag defaulting to the chart's appVersion. Argument: dict
"ctx" $ "image" IMAGE "tag" TAG. */}}
{{- define "loadpilot.image" -}}
{{- $tag := toString (.tag | default .ctx.Chart.AppVersion) -}}
{{- printf "%s:%s" (required "an image name is empty in values" .image) $tag -}}
{{- end }}

{{/*
The agents' image: agent.image, or the coordinator's when it is empty (one
image for both commands). An empty agent.tag is the coordinator's tag: make
images builds and tags the two images together.
*/}}
{{- define "loadpilot.agentImage" -}}
{{- $a := .Values.agent -}}
{{- $c := .Values.coordinator -}}
{{ include "loadpilot.image" (dict "ctx" . "image" ($a.image | default $c.image) "tag" ($a.tag | default $c.tag)) }}
{{- end }}

{{- define "loadpilot.agentPullPolicy" -}}
{{- .Values.agent.imagePullPolicy | default .Values.coordinator.imagePullPolicy -}}
{{- end }}

{{/* agent.replicas as an integer of at least 1 (the coordinator's --serve-agents). */}}
{{- define "loadpilot.agentReplicas" -}}
{{- $n := int .Values.agent.replicas -}}
{{- if or (lt $n 1) (ne (toString $n) (toString .Values.agent.replicas)) -}}
{{- fail (printf "agent.replicas must be a whole number of at least 1, not %v" .Values.agent.replicas) -}}
{{- end -}}
{{- $n -}}
{{- end }}

{{- define "loadpilot.natsURL" -}}
nats://loadpilot-nats:{{ .Values.nats.port }}
{{- end }}

{{/*
A secret value: the one given in values, else the one already stored in the
release's Secret (lookup reads it on upgrade; it finds nothing on install and
in `helm template`), else 32 random letters and digits. Argument: dict "ctx"
$ "secret" NAME "key" KEY "value" GIVEN.
*/}}
{{- define "loadpilot.secretValue" -}}
{{- if .value -}}
{{ toString .value }}
{{- else -}}
{{- $stored := lookup "v1" "Secret" .ctx.Release.Namespace .secret | default dict -}}
{{- $data := get $stored "data" | default dict -}}
{{- if hasKey $data .key -}}
{{ index $data .key | b64dec }}
{{- else -}}
{{ randAlphaNum 32 }}
{{- end -}}
{{- end -}}
{{- end }}

{{/*
Pod annotation that changes when a token or password is changed in values,
so the pods that read it restart together (a NATS server and agents with
different tokens would not meet). Generated values are kept on upgrade and
do not roll anything.
*/}}
{{- define "loadpilot.secretsChecksum" -}}
checksum/secrets: {{ printf "%v|%v|%v" .Values.nats.token .Values.coordinator.apiToken .Values.monitoring.grafana.adminPassword | sha256sum | quote }}
{{- end }}

{{/* What Prometheus scrapes for LoadPilot: HOST:PORT, or empty for nothing. */}}
{{- define "loadpilot.scrapeTarget" -}}
{{- if .Values.coordinator.enabled -}}
loadpilot-coordinator:9090
{{- else -}}
{{- .Values.monitoring.coordinator.scrapeTarget | default "" | toString -}}
{{- end -}}
{{- end }}

{{/* Container settings shared by every container of the chart. */}}
{{/* The pods of LoadPilot's own images (coordinator, agents): the
images' numeric user (engine/Dockerfile.*), which Kubernetes can check
without /etc/passwd, and the runtime's default seccomp profile. */}}
{{- define "loadpilot.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end }}

{{- define "loadpilot.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop: ["ALL"]
{{- end }}

{{/* prometheus.yml. The 2 s scrape suits the dashboard's 5 s refresh
(docs/monitoring.md#an-existing-prometheus). */}}
{{- define "loadpilot.prometheusConfig" -}}
{{- $interval := .Values.monitoring.prometheus.scrapeInterval -}}
{{- $target := include "loadpilot.scrapeTarget" . -}}
global:
  scrape_interval: {{ $interval }}
  evaluation_interval: {{ $interval }}
{{- if $target }}
scrape_configs:
  - job_name: loadpilot
    scrape_interval: {{ $interval }}
    scrape_timeout: {{ $interval }}
    static_configs:
      - targets: [{{ $target | quote }}]
{{- else }}
# No LoadPilot target: coordinator.enabled is false and
# monitoring.coordinator.scrapeTarget is empty.
scrape_configs: []
{{- end }}
{{- end }}

{{/* Grafana's data source: the chart's Prometheus. timeInterval matches the
scrape interval so $__rate_interval stays short (docs/monitoring.md). */}}
{{- define "loadpilot.grafanaDatasources" -}}
apiVersion: 1
datasources:
  - name: Prometheus
    uid: loadpilot-prometheus
    type: prometheus
    access: proxy
    url: http://loadpilot-prometheus:9090
    isDefault: true
    editable: true
    jsonData:
      timeInterval: {{ .Values.monitoring.prometheus.scrapeInterval }}
{{- end }}

{{/* Loads the dashboards folder into a "LoadPilot" folder of Grafana. */}}
{{- define "loadpilot.grafanaDashboardProviders" -}}
apiVersion: 1
providers:
  - name: loadpilot
    folder: LoadPilot
    type: file
    disableDeletion: false
    allowUiUpdates: true
    updateIntervalSeconds: 30
    options:
      path: /var/lib/grafana/dashboards
      foldersFromFilesStructure: false
{{- end }}
