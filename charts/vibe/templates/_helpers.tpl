{{/*
Shared templates. Every per-component template ranges over "vibe.components" and calls
these, so the five split Deployments and the all-in-one one are built the same way.
*/}}

{{- define "vibe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vibe.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Fixed ports: the binary's defaults, bound on 0.0.0.0 by the rendered config. */}}
{{- define "vibe.port.gateway" -}}8080{{- end }}
{{- define "vibe.port.grpc" -}}50051{{- end }}
{{- define "vibe.port.metrics" -}}9464{{- end }}

{{/* Where every pod finds its files. */}}
{{- define "vibe.path.configDir" -}}/etc/vibe{{- end }}
{{- define "vibe.path.config" -}}/etc/vibe/vibe.toml{{- end }}
{{- define "vibe.path.dataDir" -}}/var/lib/vibe{{- end }}
{{- define "vibe.path.redisDir" -}}/var/run/secrets/vibe/redis{{- end }}
{{- define "vibe.path.jwtDir" -}}/var/run/secrets/vibe/jwt{{- end }}
{{- define "vibe.path.keyringDir" -}}/var/run/secrets/vibe/compliance{{- end }}
{{- define "vibe.path.googleDir" -}}/var/secrets/google{{- end }}

{{/*
The components of the chosen mode, as a JSON list of objects:
  name    resource suffix and app.kubernetes.io/component label
  key     the values key holding its settings
  target  the `vibe serve --target` argument
  gateway whether it runs the gateway listener (8080)
  grpc    whether it runs the services' listener (50051)
  probe   the port its probes ask
  warehouse whether it opens the warehouse (hosts integration)
*/}}
{{- define "vibe.components" -}}
{{- $list := list }}
{{- if eq .Values.mode "allInOne" }}
{{- $list = append $list (dict "name" "all-in-one" "key" "allInOne" "target" "all" "gateway" true "grpc" true "probe" 8080 "warehouse" true) }}
{{- else }}
{{- $list = append $list (dict "name" "gateway" "key" "gateway" "target" "gateway" "gateway" true "grpc" false "probe" 8080 "warehouse" false) }}
{{- range $target := list "integration" "reasoning" "memory" "sync" }}
{{- $list = append $list (dict "name" $target "key" $target "target" $target "gateway" false "grpc" true "probe" 50051 "warehouse" (eq $target "integration")) }}
{{- end }}
{{- end }}
{{- toJson $list }}
{{- end }}

{{/* The component whose Service is the public door (gateway listener). */}}
{{- define "vibe.gatewayComponent" -}}
{{- if eq .Values.mode "allInOne" }}all-in-one{{ else }}gateway{{ end }}
{{- end }}

{{/* The component that hosts reasoning (queue-lag scaling). */}}
{{- define "vibe.reasoningComponent" -}}
{{- if eq .Values.mode "allInOne" }}all-in-one{{ else }}reasoning{{ end }}
{{- end }}

{{/* "<fullname>-<component>" for (list $ componentName). */}}
{{- define "vibe.componentFullname" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "vibe.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vibe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object of the release carries; (list $ componentName) or (list $ ""). */}}
{{- define "vibe.labels" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 -}}
helm.sh/chart: {{ include "vibe.chart" $root }}
{{ include "vibe.releaseSelectorLabels" $root }}
{{- if $component }}
app.kubernetes.io/component: {{ $component }}
{{- end }}
app.kubernetes.io/part-of: vibe
app.kubernetes.io/version: {{ (default $root.Chart.AppVersion $root.Values.image.tag) | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- end }}

{{/* Selects every pod of this release (NetworkPolicies, ServiceMonitor). */}}
{{- define "vibe.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "vibe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selects one component's pods; (list $ componentName). */}}
{{- define "vibe.selectorLabels" -}}
{{ include "vibe.releaseSelectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "vibe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "vibe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "vibe.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "vibe.redisEnabled" -}}
{{- if .Values.secrets.redisUrl.secretName }}true{{ end }}
{{- end }}

{{- define "vibe.googleKeyEnabled" -}}
{{- $wh := .Values.config.warehouse }}
{{- if and (eq $wh.backend "bigquery") (eq $wh.bigquery.credentials "service_account_key") }}true{{ end }}
{{- end }}

{{/* The embedded DuckDB warehouse is in use (one pod owns its file). */}}
{{- define "vibe.duckdb" -}}
{{- if eq .Values.config.warehouse.backend "duckdb" }}true{{ end }}
{{- end }}

{{/* A humantime duration from the values ("500ms", "20s", "5m", "1h") in whole seconds, rounded up. */}}
{{- define "vibe.durationSeconds" -}}
{{- $d := toString . }}
{{- if hasSuffix "ms" $d }}
{{- div (add (trimSuffix "ms" $d | int64) 999) 1000 }}
{{- else if hasSuffix "s" $d }}
{{- trimSuffix "s" $d | int64 }}
{{- else if hasSuffix "m" $d }}
{{- mul (trimSuffix "m" $d | int64) 60 }}
{{- else if hasSuffix "h" $d }}
{{- mul (trimSuffix "h" $d | int64) 3600 }}
{{- else }}
{{- fail (printf "cannot read duration %q: use a number with ms, s, m or h" $d) }}
{{- end }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the preStop pause, then SIGTERM and up to
shutdown.drain_deadline of draining, plus 10 s to flush batches and spans.
*/}}
{{- define "vibe.terminationGracePeriodSeconds" -}}
{{- add .Values.preStopSleepSeconds (include "vibe.durationSeconds" .Values.config.shutdown.drain_deadline | int64) 10 }}
{{- end }}

{{/*
Whether the chart renders an HPA for a component: (list $ component). A component that owns
the DuckDB file never scales (validate.yaml fails if asked to); KEDA brings its own HPA.
*/}}
{{- define "vibe.hpa" -}}
{{- $root := index . 0 }}
{{- $component := index . 1 }}
{{- $values := index $root.Values $component.key }}
{{- if $values.autoscaling.enabled }}
{{- $keda := and $root.Values.queueLagScaling.enabled (eq $root.Values.queueLagScaling.provider "keda") (eq $component.name (include "vibe.reasoningComponent" $root)) }}
{{- if not $keda }}true{{ end }}
{{- end }}
{{- end }}

{{/* TOML float: always with a decimal point or exponent. */}}
{{- define "vibe.tomlFloat" -}}
{{- $s := toString . }}
{{- if or (contains "." $s) (contains "e" $s) }}{{ $s }}{{ else }}{{ $s }}.0{{ end }}
{{- end }}
