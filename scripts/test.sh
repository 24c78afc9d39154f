#!/usr/bin/env bash
# Sets up and runs the whole test suite: unit tests, the sandbox fixtures, the plugins
# against their protocol simulators, and the real server and CLI end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The database tests run on SQLite and on a real PostgreSQL started here.
PLUGBOARD_TEST_PG="$(scripts/pg.sh)"
export PLUGBOARD_TEST_PG
# The plugins' own unit tests (webhook signatures, wire formats) run natively: their
# bindings compile for the host target too.
host_target="$(rustc -vV | sed -n 's/^host: //p')"
(cd plugins && cargo test --quiet --target "$host_target")
cargo test --workspace --quiet -- --test-threads 2 "$@"
