#!/usr/bin/env bash
# Benchmark: on one generated Takeout, time `unzip -q` of all zips (the near-limit reference:
# read + inflate + write, no metadata work), a cold `gpbackup process`, an unchanged re-run,
# `gpbackup verify` and `gpbackup verify --against` (fast mode); report wall time, input MB/s, files/s, peak RSS and the ratio to unzip.
#
#   bash benches/run.sh                      # ~2 GB, ~10,000 media
#   BENCH_MEDIA=100000 BENCH_TINY=1 bash benches/run.sh   # 100,000 tiny media (memory)
#
# Environment: BENCH_DIR (default /tmp/gpbackup-bench), BENCH_MEDIA (10000), BENCH_SEED (42),
# BENCH_TINY (unset), BENCH_JOBS (all cores). Page caches are dropped before each step when
# this runs as root, so every step reads from disk.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${BENCH_DIR:-/tmp/gpbackup-bench}
media=${BENCH_MEDIA:-10000}
seed=${BENCH_SEED:-42}
tiny=${BENCH_TINY:+--tiny}
jobs=${BENCH_JOBS:+-j $BENCH_JOBS}

if [ ! -x /usr/bin/time ] || ! command -v unzip >/dev/null; then
  apt-get update -qq && apt-get install -y -qq time unzip >/dev/null
fi
cargo build --release --quiet
cargo build --release --quiet --example gen_takeout
bin=target/release/gpbackup

takeout="$dir/takeout-$media-$seed${tiny:+-tiny}"
if [ ! -f "$takeout/done" ]; then
  rm -rf "$takeout"
  echo "generating $takeout …" >&2
  target/release/examples/gen_takeout --out "$takeout" --media "$media" --seed "$seed" $tiny >&2
  touch "$takeout/done"
fi
zips=("$takeout"/*.zip)
in_bytes=$(cat "${zips[@]}" | wc -c)
entries=$(unzip -Z1 "${zips[0]}" >/dev/null 2>&1; for z in "${zips[@]}"; do unzip -Z1 "$z"; done | grep -vicE '\.(json|html)$')

drop_caches() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi
}

# run NAME COMMAND…: time one step; prints "NAME wall_s peak_rss_kb".
run() {
  local name=$1; shift
  drop_caches
  /usr/bin/time -v -o "$dir/$name.time" "$@" >/dev/null 2>"$dir/$name.err" || {
    local rc=$?; echo "$name failed (exit $rc):" >&2; tail -5 "$dir/$name.err" >&2; [ "$rc" = 3 ] || exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$dir/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/$name.time")
  echo "$name $wall $rss"
}

rm -rf "$dir/unzipped" "$dir/out"
results=()
results+=("$(run unzip bash -c 'for z in "$@"; do unzip -q -o "$z" -d "$0"; done' "$dir/unzipped" "${zips[@]}")")
rm -rf "$dir/unzipped"
results+=("$(run cold "$bin" process -q $jobs "${zips[@]}" -o "$dir/out")")
results+=("$(run rerun "$bin" process -q $jobs "${zips[@]}" -o "$dir/out")")
results+=("$(run verify "$bin" verify -q $jobs "$dir/out")")
results+=("$(run against "$bin" verify -q $jobs "$dir/out" --against "${zips[@]}")")

nproc_=$(nproc)
echo "Takeout: ${#zips[@]} zips, $((in_bytes / 1048576)) MB, $entries media entries; $nproc_ cores; $(date -u +%F)"
echo
printf '| %-7s | %8s | %9s | %9s | %12s | %9s |\n' step "wall s" "input MB/s" "files/s" "peak RSS MB" "÷ unzip"
printf '|---------|----------|-----------|-----------|--------------|-----------|\n'
unzip_wall=$(echo "${results[0]}" | cut -d' ' -f2)
for r in "${results[@]}"; do
  read -r name wall rss <<<"$r"
  awk -v n="$name" -v w="$wall" -v r="$rss" -v b="$in_bytes" -v e="$entries" -v u="$unzip_wall" \
    'BEGIN { printf "| %-7s | %8.2f | %9.1f | %9.0f | %12.1f | %9.2f |\n", n, w, b/1048576/w, e/w, r/1024, w/u }'
done
