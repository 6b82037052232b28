#!/usr/bin/env bash
# A/B: two gpbackup binaries on one generated Takeout, alternated in rounds, caches dropped
# before every step, outputs on a tmpfs. Prints one line a step:
#   NAME STEP BINARY wall_s peak_rss_kb user_s sys_s
# and, for `verify --against` with the program loaded (`--version` first, as when the check
# follows the run it checks), one line a run in microseconds.
#
#   bash benches/ab.sh OLD_BINARY NEW_BINARY TAKEOUT_DIR [ROUNDS]
#
# Build OLD_BINARY from another commit in a worktree (`git worktree add --detach /tmp/old REV`,
# `cargo build --release` there); generate TAKEOUT_DIR with benches/run.sh (BENCH_KEEP=1) or
# `target/release/examples/gen_takeout`. Environment: AB_OUT (default /dev/shm/gpbackup-ab).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY TAKEOUT_DIR [ROUNDS]" >&2; exit 2; }
declare -A bin=([old]=$1 [new]=$2)
takeout=$3
rounds=${4:-3}
out=${AB_OUT:-/dev/shm/gpbackup-ab}
name=$(basename "$takeout")
zips=("$takeout"/*.zip)
mkdir -p "$out"
times=$(mktemp)
trap 'rm -f "$times"; rm -rf "$out"' EXIT

drop_caches() {
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi
}

# step STEP WHICH ARGS…: one timed run of binary WHICH.
step() {
  local label=$1 which=$2; shift 2
  drop_caches
  /usr/bin/time -f "%e %M %U %S" -o "$times" "${bin[$which]}" "$@" >/dev/null 2>&1 || true
  echo "$name $label $which $(cat "$times")"
}

for r in $(seq 1 "$rounds"); do
  # The order changes every round, so that neither binary always goes first. Each binary's
  # library is removed before the other's steps, so that both run with the same free memory
  # (a second 2 GB library on the tmpfs made the next cold run's system time jump 2-3x).
  if [ $((r % 2)) = 1 ]; then order="old new"; else order="new old"; fi
  for b in $order; do
    rm -rf "${out:?}/$b"
    step cold "$b" process -q "${zips[@]}" -o "$out/$b"
    step rerun "$b" process -q "${zips[@]}" -o "$out/$b"
    step verify "$b" verify -q "$out/$b"
    step against "$b" verify -q "$out/$b" --against "${zips[@]}"
    drop_caches
    "${bin[$b]}" --version >/dev/null
    start=$(date +%s%N)
    "${bin[$b]}" verify -q "$out/$b" --against "${zips[@]}" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    echo "$name against-loaded-us $b $(((end - start) / 1000))"
    rm -rf "${out:?}/$b"
  done
done
