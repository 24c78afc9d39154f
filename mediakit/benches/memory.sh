#!/usr/bin/env bash
# Memory peak of a studio job on a ~1 GB video (docs/benchmarks.md, "Media studio").
#
# Generates a ~1 GB H.264 + AAC master with ffmpeg's lavfi sources in a temporary folder,
# runs one `video` operation (1080×1920 cover crop, x264 veryfast, the preset a Reel or
# Short gets) through the real worker process (`plugboard media-worker <order>`, with the
# server's default RLIMIT_AS of 3 GiB), and samples the peak resident set (VmHWM in
# /proc/<pid>/status) of the worker and of the ffmpeg it starts. The temporary folder,
# the 1 GB file included, is removed on exit.
#
# Usage: mediakit/benches/memory.sh [path/to/plugboard]   (default target/debug/plugboard;
# build it with `cargo build -p plugboard`). Needs ffmpeg and about 1.2 GB in $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/../.."

worker=${1:-target/debug/plugboard}
[ -x "$worker" ] || { echo "no worker binary at $worker (cargo build -p plugboard)" >&2; exit 2; }
# Seconds of 1920×1080 at 30 fps; with grain at ~200 Mbit/s this is ~1 GB.
seconds=${SECONDS_OF_VIDEO:-40}

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

echo "generating a ${seconds} s 1080p master (grain keeps x264 from compressing it away)…"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=1920x1080:rate=30:duration=${seconds},noise=alls=30:allf=t" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=${seconds}" \
  -c:v libx264 -preset ultrafast -b:v 200M -maxrate 200M -bufsize 400M -pix_fmt yuv420p \
  -c:a aac -b:a 128k -shortest "$dir/master.mp4"
size=$(stat -c %s "$dir/master.mp4")
echo "master: $size bytes"

cat >"$dir/order.json" <<EOF
{
  "operation": {"op": "video", "resize": {"width": 1080, "height": 1920, "fit": "cover"}},
  "inputs": ["$dir/master.mp4"],
  "output": "$dir/out.mp4",
  "limits": {"max_side": 16384, "max_pixels": 100000000, "max_decode_bytes": 536870912,
             "max_duration_ms": 14400000},
  "memory_bytes": 3221225472,
  "cpu_secs": 7200
}
EOF

# VmHWM (peak RSS, kB) of a pid, or nothing once it has exited.
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || true; }

start=$(date +%s.%N)
"$worker" media-worker "$dir/order.json" >"$dir/worker.log" &
wpid=$!
worker_kb=0 ffmpeg_kb=0 both_kb=0
while kill -0 "$wpid" 2>/dev/null; do
  w=$(hwm "$wpid"); w=${w:-0}
  f=0
  for child in $(cat /proc/"$wpid"/task/*/children 2>/dev/null); do
    c=$(hwm "$child"); f=$((f + ${c:-0}))
  done
  [ "$w" -gt "$worker_kb" ] && worker_kb=$w
  [ "$f" -gt "$ffmpeg_kb" ] && ffmpeg_kb=$f
  [ $((w + f)) -gt "$both_kb" ] && both_kb=$((w + f))
  sleep 0.1
done
wait "$wpid" || { echo "the worker failed:" >&2; cat "$dir/worker.log" >&2; exit 1; }
end=$(date +%s.%N)
tail -1 "$dir/worker.log" | grep -q '"type":"done"' || { cat "$dir/worker.log" >&2; exit 1; }

echo "input: $size bytes; output: $(stat -c %s "$dir/out.mp4") bytes; wall: $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s"
echo "peak RSS: worker $((worker_kb / 1024)) MiB, ffmpeg $((ffmpeg_kb / 1024)) MiB, together $((both_kb / 1024)) MiB"
