{{/* Names and labels shared by every object of the chart. */}}
{{- define "engram.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "engram.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "engram.selectorLabels" -}}
app.kubernetes.io/name: {{ include "engram.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "engram.labels" -}}
{{ include "engram.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "engram.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "engram.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "engram.redisSecretName" -}}
{{- if .Values.redis.existingSecret -}}
{{- .Values.redis.existingSecret -}}
{{- else -}}
{{- printf "%s-redis" (include "engram.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "engram.modelsClaimName" -}}
{{- if .Values.models.persistence.existingClaim -}}
{{- .Values.models.persistence.existingClaim -}}
{{- else -}}
{{- printf "%s-models" (include "engram.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "engram.apiKeysSecretName" -}}
{{- if .Values.security.existingSecret -}}
{{- .Values.security.existingSecret -}}
{{- else -}}
{{- printf "%s-api-keys" (include "engram.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Per-tenant rate limits as SPRING_APPLICATION_JSON: [bracketed] keys keep any tenant name (dots, case) intact. */}}
{{- define "engram.tenantLimitsJson" -}}
{{- $tenants := dict -}}
{{- range $name, $l := .Values.security.rateLimit.tenants -}}
{{- $v := dict -}}
{{- if hasKey $l "requestsPerSecond" -}}{{- $_ := set $v "requests-per-second" ($l.requestsPerSecond | int64) -}}{{- end -}}
{{- if hasKey $l "tokensPerMinute" -}}{{- $_ := set $v "tokens-per-minute" ($l.tokensPerMinute | int64) -}}{{- end -}}
{{- $_ := set $tenants (printf "[%s]" $name) $v -}}
{{- end -}}
{{- dict "engram" (dict "security" (dict "rate-limit" (dict "tenants" $tenants))) | toJson -}}
{{- end -}}
