#!/usr/bin/env bash
# Installs what the tests need beyond Go: fuse3 for the FUSE mount tests.
set -euo pipefail
if ! command -v fusermount3 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing fuse3" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fuse3 >/dev/null) \
      || echo "warning: could not install fuse3; FUSE tests will mount directly or skip" >&2
  else
    echo "warning: fusermount3 missing and cannot install it (need root and apt-get); FUSE tests may skip" >&2
  fi
fi
