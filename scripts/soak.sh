#!/usr/bin/env bash
# The long fault run (`make soak`): the e2e fault suite with many kill -9
# cycles of each process, then every fuzz target with a fuzzing budget, one
# at a time (go fuzzes one target per run). Prints a table: scenario, tried,
# lost, failed. Sizes: SOAK_CYCLES (kill -9 cycles of each process, 200),
# SOAK_WRITERS (concurrent writers, 16), FUZZTIME (per target, 60s).
# Needs LIGHTHOUSE_BIN (the binaries under test).
set -uo pipefail
: "${LIGHTHOUSE_BIN:?set LIGHTHOUSE_BIN to the built binaries (make soak does)}"
cycles=${SOAK_CYCLES:-200}
writers=${SOAK_WRITERS:-16}
fuzztime=${FUZZTIME:-60s}
go=${GO:-go}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
report=$work/report.tsv
status=0

echo "fault suite: $cycles kill -9 cycles of each process, $writers writers" >&2
if ! LIGHTHOUSE_SOAK_CYCLES=$cycles LIGHTHOUSE_SOAK_WRITERS=$writers LIGHTHOUSE_SOAK_REPORT=$report \
  LIGHTHOUSE_BIN=$LIGHTHOUSE_BIN $go test -count=1 -timeout 6h -run '^TestFaultSuite$' -v ./e2e/ >"$work/faults.log" 2>&1; then
  status=1
  tail -50 "$work/faults.log" >&2
  grep -q . "$report" 2>/dev/null || printf 'fault suite (did not finish)\t0\t-\t1\n' >>"$report"
fi

# package<TAB>target: every fuzz target in the module.
targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  for t in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
    printf '%s\t%s\n' "./$(dirname "${f#./}")" "$t"
  done
done | sort)
while IFS=$'\t' read -r pkg target; do
  [ -n "$target" ] || continue
  echo "fuzz $target ($pkg) for $fuzztime" >&2
  log=$work/$target.log
  failed=0
  $go test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" "$pkg" >"$log" 2>&1 || failed=1
  # The last progress line says how many inputs were tried: "execs: N".
  tried=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  if [ "$failed" = 1 ]; then
    status=1
    tail -30 "$log" >&2
  fi
  printf '%s\t%s\t-\t%s\n' "$target" "${tried:-0}" "$failed" >>"$report"
done <<<"$targets"

{
  printf 'scenario\ttried\tlost\tfailed\n'
  cat "$report"
} | column -t -s $'\t'
exit $status
