#!/usr/bin/env bash
# Installs what the tests need beyond Go: fuse3 for the FUSE mount tests and
# jq, which the README's quick start (run by a test) uses to read settings,
# and chromium, the real browser the console test (e2e/console_test.go) drives.
set -euo pipefail
missing=()
command -v fusermount3 >/dev/null 2>&1 || missing+=(fuse3)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]}" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null) \
      || echo "warning: could not install ${missing[*]}; FUSE tests will mount directly or skip, the browser test fails" >&2
  else
    echo "warning: ${missing[*]} missing and cannot be installed (need root and apt-get); some tests may skip" >&2
  fi
fi
