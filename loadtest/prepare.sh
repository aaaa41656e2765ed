#!/usr/bin/env bash
# Open a test session for each of the first N classes of a grade and print their
# tickets as JSON lines for the locust scenario (uses the ctcensus CLI, so run it
# with the same DATABASE_URL / CTCENSUS_INSTANCE as the server).
#   loadtest/prepare.sh GRADE FORM_ID N_CLASSES > tickets.jsonl
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 GRADE FORM_ID N_CLASSES > tickets.jsonl" >&2
  exit 2
fi
grade=$1 form=$2 n=$3
ctcensus classes list --grade "$grade" --json |
  python3 -c 'import json, sys; [print(c["id"]) for c in json.load(sys.stdin)[: int(sys.argv[1])]]' "$n" |
  while read -r class_id; do
    ctcensus session create --class "$class_id" --form "$form" --json |
      python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), ensure_ascii=False))'
  done
