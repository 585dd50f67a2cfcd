{{/* The name of a component's objects: <release>-<component>. */}}
{{- define "votingapp.name" -}}
{{- printf "%s-%s" (.root.Release.Name | trunc 40 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "votingapp.selector" -}}
app.kubernetes.io/name: votingapp
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "votingapp.labels" -}}
{{ include "votingapp.selector" . }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The Secret that holds the nine passwords. */}}
{{- define "votingapp.secretName" -}}
{{- if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else -}}
{{- printf "%s-secrets" (.Release.Name | trunc 40 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{/* One of our images: <registry>/<name>:<tag>, as compose pushes it. */}}
{{- define "votingapp.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name .root.Values.image.tag -}}
{{- end -}}

{{/* A pod's securityContext: non-root as uid (default 10001), seccomp. */}}
{{- define "votingapp.podSecurity" -}}
runAsNonRoot: true
runAsUser: {{ .uid | default 10001 }}
runAsGroup: {{ .uid | default 10001 }}
fsGroup: {{ .uid | default 10001 }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Every container: read-only root, no capability, no escalation. */}}
{{- define "votingapp.containerSecurity" -}}
runAsNonRoot: true
runAsUser: {{ .uid | default 10001 }}
runAsGroup: {{ .uid | default 10001 }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* A volume of the Secret with only the keys a pod needs, files 0440
     (group: the pod's fsGroup), mounted at /run/secrets as in compose. */}}
{{- define "votingapp.secretVolume" -}}
- name: secrets
  secret:
    secretName: {{ include "votingapp.secretName" .root }}
    defaultMode: 0440
    items:
    {{- range .keys }}
      - key: {{ . }}
        path: {{ . }}
    {{- end }}
{{- end -}}

{{/* The NATS servers, each pod by name (the headless service). */}}
{{- define "votingapp.natsHosts" -}}
{{- $hosts := list -}}
{{- $name := include "votingapp.name" (dict "root" . "component" "nats") -}}
{{- range $i := until (int .Values.nats.replicas) -}}
{{- $hosts = append $hosts (printf "%s-%d.%s-headless:%%d" $name $i $name) -}}
{{- end -}}
{{- join "," $hosts -}}
{{- end -}}

{{- define "votingapp.natsUrl" -}}
{{- $out := list -}}
{{- range (splitList "," (include "votingapp.natsHosts" .)) -}}
{{- $out = append $out (printf (printf "nats://%s" .) 4222) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{- define "votingapp.natsRoutes" -}}
{{- $out := list -}}
{{- range (splitList "," (include "votingapp.natsHosts" .)) -}}
{{- $out = append $out (printf . 6222) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* trustedProxies as vote and result read it (VOTE_TRUSTED_PROXIES,
     RESULT_TRUSTED_PROXIES): 1 to 16 addresses or CIDR blocks. Empty, every
     client would count as the UI pod's own address; a name or a typo would
     stop vote and result at start (exit 2): the chart says so first. */}}
{{- define "votingapp.trustedProxies" -}}
{{- include "votingapp.required" (dict "name" "trustedProxies" "value" .Values.trustedProxies) -}}
{{- $list := .Values.trustedProxies | toString | trim -}}
{{- $entries := splitList "," $list -}}
{{- if not $list -}}
{{- fail "trustedProxies: empty; set it to your cluster's pod CIDR (values.yaml)" -}}
{{- end -}}
{{- if gt (len $entries) 16 -}}
{{- fail (printf "trustedProxies: %d entries, at most 16" (len $entries)) -}}
{{- end -}}
{{- range $entries -}}
{{- if not (regexMatch "^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$" (trim .)) -}}
{{- fail (printf "trustedProxies: %q is not an address or a CIDR block" (trim .)) -}}
{{- end -}}
{{- end -}}
{{- $list -}}
{{- end -}}

{{/* A value this chart's values.yaml has, missing (.name, .value): an
     upgrade with --reuse-values keeps the values of the release's older
     chart, without the keys added since. */}}
{{- define "votingapp.required" -}}
{{- if kindIs "invalid" .value -}}
{{- fail (printf "%s: not set; an upgrade with --reuse-values keeps an older chart's values, without this one: use --reset-then-reuse-values" .name) -}}
{{- end -}}
{{- end -}}

{{/* A whole number of the values, as text for an environment variable:
     .name (for the error), .value, .min, .max, .empty (allow ""). */}}
{{- define "votingapp.count" -}}
{{- include "votingapp.required" . -}}
{{- $v := .value -}}
{{- $s := toString $v -}}
{{- if kindIs "float64" $v -}}
{{- if ne $v (float64 (int64 $v)) -}}
{{- fail (printf "%s: %q is not a whole number" .name $s) -}}
{{- end -}}
{{- $s = toString (int64 $v) -}}
{{- end -}}
{{- if and .empty (eq $s "") -}}
{{- else if not (regexMatch "^[0-9]+$" $s) -}}
{{- fail (printf "%s: %q is not a whole number" .name $s) -}}
{{- else if or (lt (atoi $s) (int .min)) (gt (atoi $s) (int .max)) -}}
{{- fail (printf "%s: %s, not within %d..%d" .name $s (int .min) (int .max)) -}}
{{- end -}}
{{- $s -}}
{{- end -}}

{{/* The UIs' two nginx listeners (ui/vote/nginx.conf, ui/result/nginx.conf;
     configmap.yaml checks that the files still have them): 8080 for
     direct clients (X-Forwarded-For
     replaced by the peer's address; the probes), 8081 for the proxy in
     front, here the ingress controller (its address appended). */}}
{{- define "votingapp.uiPort" -}}8080{{- end -}}
{{- define "votingapp.uiProxiedPort" -}}8081{{- end -}}
