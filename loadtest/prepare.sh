#!/usr/bin/env bash
# Open a test session for each of the first N classes of a grade that have none
# running (one transaction) and write their tickets as JSON for the locust scenario. Uses the ctcensus CLI,
# so run it with the same DATABASE_URL / CTCENSUS_INSTANCE as the server.
#   loadtest/prepare.sh GRADE FORM_ID N_CLASSES > tickets.json
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 GRADE FORM_ID N_CLASSES > tickets.json" >&2
  exit 2
fi
grade=$1 form=$2 n=$3
args=$(ctcensus classes list --grade "$grade" --json |
  python3 -c 'import json, sys; free = [c for c in json.load(sys.stdin) if c["open_session"] is None]
print(" ".join("--class %d" % c["id"] for c in free[: int(sys.argv[1])]))' "$n")
# shellcheck disable=SC2086  # word splitting of the --class options is intended
ctcensus session create $args --form "$form" --json
