#!/usr/bin/env bash
# Generate the spoken-word dataset with espeak-ng (Debian package espeak-ng) into the cache
# ($VAEKIT_CACHE or ~/.cache/vaekit, folder speech-espeak; nothing is committed).
# Usage: scripts/make-speech-dataset.sh [--preset default|tiny] [--out DIR] [--concurrency N]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v espeak-ng >/dev/null 2>&1; then
  echo "error: espeak-ng is not installed: install the Debian/Ubuntu package espeak-ng (apt-get install espeak-ng)" >&2
  exit 1
fi
# Build; type errors elsewhere in the tree should not block dataset generation if the entry compiled.
npx tsc -p . >/dev/null || true
entry=dist/src/apps/speech/make-dataset.js
[ -f "$entry" ] || { echo "error: $entry was not built (run npx tsc -p . to see why)" >&2; exit 1; }
exec node "$entry" "$@"
