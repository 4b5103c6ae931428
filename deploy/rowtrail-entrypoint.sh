#!/bin/sh
# The rowtrail container's start (docker-compose.yml): everything a first `docker compose up` needs, then watch.
# Each step is idempotent, so a restart (restart: unless-stopped) runs them again harmlessly.
#   1. setup          publication, slot and precise-identity objects on PostgreSQL (nothing to create on MySQL)
#   2. doctor         every source is ready for capture; a FAIL stops here (the container restarts, logs say why)
#   3. setup elastic  Elasticsearch templates and Kibana dashboards
#   4. watch          the daemon
set -eu
CONFIG="${ROWTRAIL_CONFIG:-/etc/rowtrail/rowtrail.yaml}"
rowtrail() { node /app/bin/rowtrail.js "$@"; }
rowtrail setup --config "$CONFIG"
rowtrail doctor --config "$CONFIG"
rowtrail setup elastic --config "$CONFIG"
exec node /app/bin/rowtrail.js watch --config "$CONFIG"
