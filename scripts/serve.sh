#!/usr/bin/env bash
# Sets up and runs the server on its embedded defaults: SQLite and media in ./data,
# listening on 127.0.0.1:8080, the bundled plugins installed on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release --quiet -p plugboard -- serve "$@"
