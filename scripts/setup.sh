#!/usr/bin/env bash
# Installs what Plugboard needs on a fresh Debian/Ubuntu machine with a Rust toolchain
# (rustup), then builds the bundled plugins. Safe to run again: each step is skipped when
# already done.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# System packages: a C toolchain and pkg-config for -sys crates; FFmpeg (ffprobe) probes
# uploaded media, and the media studio's worker and its tests run ffmpeg. The benchmarks'
# reference tools (python3-pil, libvips-tools) are not needed here: docs/benchmarks.md.
packages=(pkg-config build-essential curl ca-certificates ffmpeg)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi

# Plugins are WebAssembly components: the wasm32-wasip2 target builds them directly.
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

echo "setup: building the bundled plugins (plugins/)"
(cd plugins && cargo build --release --target wasm32-wasip2 --quiet)
