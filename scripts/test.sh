#!/usr/bin/env bash
# Sets up and runs the whole test suite: unit tests, the sandbox fixtures, the plugins
# against their protocol simulators, and the real server and CLI end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --workspace --quiet -- --test-threads 2 "$@"
