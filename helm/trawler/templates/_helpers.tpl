{{/* Names, labels and the pod pieces shared by the worker and collector Deployments. */}}

{{- define "trawler.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "trawler.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "trawler.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "trawler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "trawler.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where Trawler reads rules: the git-sync link, or the rules baked into the image. */}}
{{- define "trawler.rulesPath" -}}
{{- if .Values.gitSync.enabled -}}
{{- printf "/git/current/%s" .Values.gitSync.subPath | trimSuffix "/" -}}
{{- else -}}
/rules
{{- end -}}
{{- end -}}

{{- define "trawler.env" -}}
- name: TRAWLER_DATA
  value: /var/lib/trawler
- name: TRAWLER_LISTEN
  value: "0.0.0.0:8080"
- name: TRAWLER_RULES
  value: {{ include "trawler.rulesPath" . | quote }}
- name: TRAWLER_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: TRAWLER_STATE
{{- if .Values.redis.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else if .Values.redis.url }}
  value: {{ .Values.redis.url | quote }}
{{- else if .Values.redis.bundled.enabled }}
  value: {{ printf "redis://%s-redis:6379/0" (include "trawler.fullname" .) | quote }}
{{- else }}
  value: {{ required "set redis.url, redis.existingSecret or redis.bundled.enabled" "" }}
{{- end }}
- name: TRAWLER_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.secrets.existingSecret }}
      key: {{ .Values.secrets.apiTokenKey }}
{{- range .Values.secrets.env }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.secrets.existingSecret }}
      key: {{ .key }}
{{- end }}
{{- end -}}

{{- define "trawler.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: {{ .Values.probes.startup.periodSeconds }}
  failureThreshold: {{ .Values.probes.startup.failureThreshold }}
livenessProbe:
  httpGet: {path: /healthz, port: http}
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
readinessProbe:
  httpGet: {path: /readyz, port: http}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
{{- end -}}

{{- define "trawler.mounts" -}}
- name: config
  mountPath: /etc/trawler
  readOnly: true
- name: data
  mountPath: /var/lib/trawler
- name: tmp
  mountPath: /tmp
{{- if .Values.gitSync.enabled }}
- name: rules
  mountPath: /git
  readOnly: true
{{- end }}
{{- end -}}

{{- define "trawler.volumes" -}}
- name: config
  configMap:
    name: {{ include "trawler.fullname" . }}-config
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- if .Values.gitSync.enabled }}
- name: rules
  emptyDir: {}
{{- end }}
{{- end -}}

{{/* git-sync: once as an init container (rules exist before Trawler compiles them),
     then as a sidecar that keeps pulling. */}}
{{- define "trawler.gitSync" -}}
- name: {{ .name }}
  image: "{{ .root.Values.gitSync.image.repository }}:{{ .root.Values.gitSync.image.tag }}"
  args:
    - --repo={{ .root.Values.gitSync.repo }}
    - --ref={{ .root.Values.gitSync.ref }}
    - --root=/git
    - --link=current
    - --period={{ .root.Values.gitSync.period }}
    {{- if .oneTime }}
    - --one-time
    {{- end }}
  {{- if .root.Values.gitSync.existingSecret }}
  envFrom:
    - secretRef:
        name: {{ .root.Values.gitSync.existingSecret }}
  {{- end }}
  securityContext:
    {{- toYaml .root.Values.securityContext | nindent 4 }}
  resources:
    {{- toYaml .root.Values.gitSync.resources | nindent 4 }}
  volumeMounts:
    - name: rules
      mountPath: /git
    - name: tmp
      mountPath: /tmp
{{- end -}}
