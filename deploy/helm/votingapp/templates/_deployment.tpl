{{- /*
One stateless service as a Deployment: .root, .component, .image, .port,
.values (replicas, resources), .env (YAML list), .secrets (the keys it
mounts at /run/secrets), .nginx (mounts its ConfigMap's nginx.conf and a
/tmp; its second listener, for the ingress controller, is the port
"http-proxied": see configmap.yaml), .metrics (prometheus.io annotations),
.grace (seconds). The probes use "http", the direct port.
*/ -}}
{{- define "votingapp.deployment" -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "votingapp.name" . }}
  labels:
    {{- include "votingapp.labels" . | nindent 4 }}
spec:
  replicas: {{ .values.replicas }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "votingapp.selector" . | nindent 6 }}
  # keep capacity: a new pod is ready before an old one stops
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 1
  minReadySeconds: 5
  template:
    metadata:
      labels:
        {{- include "votingapp.selector" . | nindent 8 }}
      annotations:
        {{- if .nginx }}
        checksum/config: {{ print ($root.Files.Get (printf "files/%s-nginx.conf" .component)) (toJson $root.Values.dns) | sha256sum }}
        {{- end }}
        {{- if and .metrics $root.Values.metrics.annotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .port | quote }}
        prometheus.io/path: /metrics
        {{- end }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "votingapp.podSecurity" . | nindent 8 }}
      terminationGracePeriodSeconds: {{ .grace | default 30 }}
      containers:
        - name: {{ .component }}
          image: {{ .image }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          {{- with .env }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          ports:
            - name: http
              containerPort: {{ .port }}
              protocol: TCP
            {{- if .nginx }}
            - name: http-proxied
              containerPort: {{ include "votingapp.uiProxiedPort" . }}
              protocol: TCP
            {{- end }}
          readinessProbe:
            httpGet:
              path: {{ if .nginx }}/healthz{{ else }}/readyz{{ end }}
              port: http
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 3
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 5
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 2
            timeoutSeconds: 3
            failureThreshold: 60
          resources:
            {{- toYaml .values.resources | nindent 12 }}
          securityContext:
            {{- include "votingapp.containerSecurity" . | nindent 12 }}
          volumeMounts:
            {{- if .secrets }}
            - name: secrets
              mountPath: /run/secrets
              readOnly: true
            {{- end }}
            {{- if .nginx }}
            - name: config
              mountPath: /etc/nginx/nginx.conf
              subPath: nginx.conf
              readOnly: true
            - name: tmp
              mountPath: /tmp
            {{- end }}
      volumes:
        {{- if .secrets }}
        {{- include "votingapp.secretVolume" (dict "root" $root "keys" .secrets) | nindent 8 }}
        {{- end }}
        {{- if .nginx }}
        - name: config
          configMap:
            name: {{ include "votingapp.name" . }}
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- end }}
{{- end -}}
