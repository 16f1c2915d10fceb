{{/* Chart name, at most 63 characters. */}}
{{- define "ckawatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release full name: the release name, with the chart name appended unless it is already in it. */}}
{{- define "ckawatch.fullname" -}}
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

{{- define "ckawatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ckawatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ckawatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "ckawatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ckawatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ckawatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ckawatch.secretName" -}}
{{- if .Values.secretEnv.create }}
{{- printf "%s-env" (include "ckawatch.fullname" .) }}
{{- else }}
{{- .Values.secretEnv.existingSecret }}
{{- end }}
{{- end }}

{{/*
The ckawatch config file: .Values.config with the settings the chart owns (file paths inside
the pod, the metrics port) put in.
*/}}
{{- define "ckawatch.config" -}}
{{- $config := deepCopy .Values.config }}
{{- $model := deepCopy (default dict $config.model) }}
{{- $_ := set $model "path" (printf "%s/%s" .Values.model.mountPath .Values.model.file) }}
{{- $_ := set $config "model" $model }}
{{- $reference := deepCopy (default dict $config.reference) }}
{{- $referenceDir := ternary .Values.model.mountPath .Values.reference.mountPath (empty .Values.reference.volume) }}
{{- $_ := set $reference "path" (printf "%s/%s" $referenceDir .Values.reference.file) }}
{{- $_ := set $config "reference" $reference }}
{{- $metrics := deepCopy (default dict $config.metrics) }}
{{- $_ := set $metrics "host" "0.0.0.0" }}
{{- $_ := set $metrics "port" (int .Values.metrics.port) }}
{{- $_ := set $config "metrics" $metrics }}
{{- $checkpoint := deepCopy (default dict $config.checkpoint) }}
{{- $_ := set $checkpoint "dir" .Values.checkpoint.mountPath }}
{{- $_ := set $config "checkpoint" $checkpoint }}
{{- toYaml $config }}
{{- end }}
