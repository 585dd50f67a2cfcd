#!/usr/bin/env bash
# tests/helm/mutations.sh - breaks the chart in one way at a time (a copy in
# a temp folder) and checks that tests/helm fails on each: the tests can
# fail. Not part of tools/test (a minute or two); run it after changing the
# tests. Prints one line per mutation and "N passed, M failed" (a mutation
# the tests let through is a failure). An argument: only the mutations
# whose description holds it.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
C=$ROOT/deploy/helm/votingapp
passed=0; failed=0

# file of the chart | sed expression (no | in it) | what it breaks
mutations=(
  "templates/_helpers.tpl|s/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/|a writable root"
  "templates/_helpers.tpl|s/drop: \[ALL\]/drop: [NET_RAW]/|capabilities kept"
  "templates/_helpers.tpl|s/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/|privilege escalation"
  "templates/_helpers.tpl|s/type: RuntimeDefault/type: Unconfined/g|no seccomp profile"
  "templates/_helpers.tpl|s/runAsUser: {{ .uid . default 10001 }}/runAsUser: 0/|root"
  "templates/_helpers.tpl|s/secretName: {{ include \"votingapp.secretName\" .root }}/secretName: passwords/|a Secret that does not exist"
  "templates/_deployment.tpl|0,/port: http/s//port: metrics/|a probe on a port that does not exist"
  "templates/networkpolicy.yaml|s/(list \"worker\" \"result\")/(list \"worker\" \"result\" \"vote\")/|vote may reach Postgres"
  "templates/networkpolicy.yaml|s/(dict \"to\" \"redis\" \"port\" 6379 \"from\" (list \"vote\"))/(dict \"to\" \"redis\" \"port\" 6379 \"from\" (list))/|vote cannot reach Redis"
  "templates/networkpolicy.yaml|s/policyTypes: \[Ingress\]\$/policyTypes: [Egress]/|no default deny"
  "templates/_helpers.tpl|s,printf \"%s/%s:%s\" .root.Values.image.registry,printf \"%s/votingapp-%s:%s\" .root.Values.image.registry,|image names compose does not push"
  "templates/postgres.yaml|s/- name: data\$/- name: pgdata/|Postgres without its claim"
  "templates/nats.yaml|s/maxUnavailable: 1/maxUnavailable: 2/|a budget of two NATS nodes"
  "templates/services.yaml|s/(toString .Values.nats.streamReplicas)/\"1\"/|streams of one replica"
  "templates/redis.yaml|s/\"--maxmemory-policy\", \"noeviction\"/\"--maxmemory-policy\", \"allkeys-lru\"/|Redis evicting voters"
  "templates/nats.yaml|s/js-server-only=true/js-enabled-only=true/|readiness on the wrong check"
  "templates/services.yaml|s/(list \"postgres_worker_password\" \"nats_worker_password\")/(list \"postgres_worker_password\" \"nats_worker_password\" \"postgres_password\")/|worker gets the superuser password"
  "templates/_deployment.tpl|s/maxUnavailable: 0/maxUnavailable: 1/|an update that loses capacity"
  "templates/secret.yaml|s/{{- \$old := lookup .*/{{- \$old := dict }}/|new passwords at every upgrade"
  "templates/secret.yaml|/{{- fail (printf \"existingSecret/d|an existingSecret without every key accepted"
  "files/nats-entrypoint.sh|/authorization { user: route/d|routes without authentication"
  "files/nats-entrypoint.sh|s/nats:\/\/route:%s@/nats:\/\/nobody:%s@/|routes as a user the cluster refuses"
  "templates/ingress.yaml|s/name: http-proxied/name: http/|the Ingress on nginx's direct listener (X-Forwarded-For replaced)"
  "templates/networkpolicy.yaml|s/\"port\" (int (include \"votingapp.uiProxiedPort\" .))/\"port\" 8080/g|the ingress controller let in on the direct listener"
  "templates/_deployment.tpl|0,/port: http\$/s//port: {{ if .nginx }}http-proxied{{ else }}http{{ end }}/|the UIs' readiness probe on the ingress controller's listener"
  "templates/services.yaml|s/\"VOTE_TRUSTED_PROXIES\" \"value\" (include \"votingapp.trustedProxies\" .)/\"VOTE_TRUSTED_PROXIES\" \"value\" \"127.0.0.1\"/|vote trusts only its own loopback"
  "templates/services.yaml|/if hasKey .Values.result \"maxClients\"/,+2d|an older release's result.maxClients ignored"
  "values.yaml|s/ratePerMin: 120/ratePerMin: 0/|no limit of votes per address"
  "templates/_helpers.tpl|s/gt (len \$entries) 16/gt (len \$entries) 17/|17 trusted proxies accepted"
  "templates/_helpers.tpl|s/{{- \$s = toString (int64 \$v) -}}//|a whole number of a values file rendered as a float"
  "templates/_deployment.tpl|s/imagePullPolicy: {{ \$root.Values.image.pullPolicy }}/imagePullPolicy: {{ \$root.Values.image.pullPolicy }}\n          tty2: true/|a field Kubernetes does not know"
)
for m in "${mutations[@]}"; do
  IFS='|' read -r file expr what <<<"$m"
  case "$what" in *"${1:-}"*) ;; *) continue ;; esac
  tmp=$(mktemp -d)
  cp -rL "$ROOT/deploy/helm/votingapp" "$tmp/"
  sed -i "$expr" "$tmp/votingapp/$file"
  if cmp -s "$C/$file" "$tmp/votingapp/$file"; then
    echo "mutation did not apply: $what"; failed=$((failed + 1)); rm -rf "$tmp"; continue
  fi
  if HELM_TEST_CHART=$tmp/votingapp PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m pytest \
       -p no:cacheprovider -q -x "$ROOT/tests/helm" >"$tmp/log" 2>&1; then
    echo "NOT caught: $what"; failed=$((failed + 1))
  else
    echo "caught: $what ($(grep -m1 -oE '^FAILED [^ ]+' "$tmp/log" | sed 's/^FAILED //'))"
    passed=$((passed + 1))
  fi
  rm -rf "$tmp"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
