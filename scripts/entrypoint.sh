#!/usr/bin/env bash
# Container entrypoint: wait for the database (bounded, with backoff), apply the migrations
# under an advisory lock (replicas starting together take turns), then exec the command
# (`best-app serve` by default) so it is the process that receives SIGTERM and drains requests.
# A database that never comes or a failed migration stops the container: it never serves anyway.
set -euo pipefail

best-app wait-db
best-app migrate
exec "$@"
