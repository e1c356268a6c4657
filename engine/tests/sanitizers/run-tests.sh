#!/usr/bin/env bash
# Runs every test of a sanitizer build and fails on any sanitizer report.
#   engine/tests/sanitizers/run-tests.sh BUILD_DIR [CTEST_ARGS...]
# A report ends the reporting process with a non-zero status, but not every
# process's status is checked: a demo-api server that a test stops with
# SIGTERM, for one, reports leaks at exit to nobody. So the options in
# env.cmake.in send every report to BUILD_DIR/sanitizer-logs/ as well, and
# this script fails when that folder is not empty afterwards, printing the
# reports.
set -uo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [CTEST_ARGS...]" >&2
  exit 2
fi
build=$1
shift
logs=$build/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"

status=0
(cd "$build" && ctest --output-on-failure --timeout 1800 "$@") || status=$?

mapfile -t reports < <(find "$logs" -type f | sort)
if [[ ${#reports[@]} -gt 0 ]]; then
  echo "sanitizer reports: ${#reports[@]} (in $logs)" >&2
  for f in "${reports[@]}"; do
    echo "==== $f" >&2
    head -n 80 "$f" >&2
  done
  status=1
else
  echo "sanitizer reports: none"
fi
exit $status
