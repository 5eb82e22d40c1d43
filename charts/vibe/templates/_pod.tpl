{{/* Pod- and container-level security: bitnami's restricted defaults, UID/GID 1001. */}}
{{- define "vibe.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "vibe.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Pod settings every vibe pod shares. enableServiceLinks is off because Kubernetes would
otherwise inject <SERVICE>_PORT/_SERVICE_HOST variables for every Service in the namespace:
for Services named vibe-* those are VIBE_* variables, which vibe reads as config keys and
rejects (exit 2).
*/}}
{{- define "vibe.podCommon" -}}
serviceAccountName: {{ include "vibe.serviceAccountName" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "vibe.podSecurityContext" . | nindent 2 }}
{{- end }}
