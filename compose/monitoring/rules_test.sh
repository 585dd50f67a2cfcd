#!/usr/bin/env bash
# promtool checks of the monitoring configuration (see BUILD).
set -euo pipefail
cd "$(dirname "$0")"
command -v promtool >/dev/null || { echo "promtool missing: apt-get install prometheus" >&2; exit 1; }
promtool check config --syntax-only prometheus.yml prometheus.swarm.yml
promtool check rules rules/recording.yml rules/alerts.yml
promtool test rules rules_test.yml
