#!/usr/bin/env bash
# Benchmark: on one generated Takeout, time `unzip -q` and `cp -r` of all zips (the references:
# unzip reads, inflates and writes once with no metadata work; cp only moves the bytes), a cold
# `gpbackup process`, an unchanged re-run, `gpbackup verify` and `gpbackup verify --against`
# (fast mode); report wall and CPU time, peak RSS, bytes of peak RSS per zip entry and the
# ratios to unzip and cp measured in the same run, and the memory and time after each stage
# of the first cold run and of the re-run.
#
#   bash benches/run.sh                          # "large": ~2 GB, ~10,000 media in 4 zips
#   BENCH_SCENARIO=seed bash benches/run.sh      # the guide's export: 52 zips, ~95,000 tiny
#                                                #   media + ~95,000 sidecars + album copies
#   BENCH_SCENARIO=million bash benches/run.sh   # 1,000,000 zip entries in 52 zips, tiny media
#
# Environment:
#   BENCH_SCENARIO  large | seed | million (default large)
#   BENCH_DIR       where the generated Takeout is kept (default /tmp/gpbackup-bench)
#   BENCH_OUT       where outputs go (default /dev/shm/gpbackup-bench: a tmpfs, so that CPU and
#                   system-call work is measured, not the disk's write-back, which swings
#                   single timings 2-4x). Every output is deleted after its step.
#   BENCH_MEDIA, BENCH_ENTRIES, BENCH_ZIPS, BENCH_SEED (42), BENCH_TINY: the generator's shape
#   BENCH_ROUNDS    rounds of unzip / cp / cold run, alternated (default 2; million 1)
#   BENCH_JOBS      worker threads (default: all cores)
#   BENCH_JOBS_LIST thread counts compared (e.g. "1 2"): each round adds a cold run per count,
#                   alternated, and the write stage's wall and CPU time of each is printed
#   BENCH_WARM=1    caches are not dropped (inputs read from the page cache)
#   BENCH_ALLOCATORS  allocator builds compared on the cold run and the re-run
#                   (default "mimalloc"; "mimalloc glibc" adds the system allocator:
#                   `--no-default-features`; the "glibc-trim" variant of BENCHMARKS.md, one
#                   arena and malloc_trim between stages, is in commit 2179d56)
#   BENCH_TGZ=1     also the same export as .tgz parts (made once from the zips by gen_takeout
#                   --tgz-of): `gzip -t` of them (the inflating alone) and a cold run from them
#                   in each round, then a re-run and `verify --against` from them
#   BENCH_PROFILE=1 record the cold run with `perf record -e cpu-clock` and print its top entries
#   BENCH_KEEP=1    keep the generated Takeout (it is deleted at the end otherwise)
# Page caches are dropped before each step when this runs as root, so inputs are read from disk.
# The generated Takeout is kept under a name with a digest of benches/gen_takeout.rs: a
# Takeout made by another version of the generator is never reused (one of the same shape is
# removed when a new one is made).
set -euo pipefail
cd "$(dirname "$0")/.."

scenario=${BENCH_SCENARIO:-large}
case $scenario in
  large) media=${BENCH_MEDIA:-10000}; entries=0; zips=${BENCH_ZIPS:-4}; tiny=${BENCH_TINY:+--tiny}; rounds=${BENCH_ROUNDS:-2} ;;
  seed) media=${BENCH_MEDIA:-95000}; entries=0; zips=${BENCH_ZIPS:-52}; tiny=--tiny; rounds=${BENCH_ROUNDS:-2} ;;
  million) media=0; entries=${BENCH_ENTRIES:-1000000}; zips=${BENCH_ZIPS:-52}; tiny=--tiny; rounds=${BENCH_ROUNDS:-1} ;;
  *) echo "BENCH_SCENARIO: large, seed or million" >&2; exit 2 ;;
esac
dir=${BENCH_DIR:-/tmp/gpbackup-bench}
outdir=${BENCH_OUT:-/dev/shm/gpbackup-bench}
seed=${BENCH_SEED:-42}
jobs=${BENCH_JOBS:+-j $BENCH_JOBS}
allocators=${BENCH_ALLOCATORS:-mimalloc}

if [ ! -x /usr/bin/time ] || ! command -v unzip >/dev/null; then
  apt-get update -qq && apt-get install -y -qq time unzip >/dev/null
fi
mkdir -p "$dir" "$outdir"
# Cargo's output folder (CARGO_TARGET_DIR when set).
release=${CARGO_TARGET_DIR:-target}/release
# One binary per allocator; the default build (mimalloc) is $release/gpbackup.
declare -A bins
for a in $allocators; do
  case $a in
    mimalloc) cargo build --release --quiet; cp "$release/gpbackup" "$dir/gpbackup-mimalloc" ;;
    glibc) cargo build --release --quiet --no-default-features
           cp "$release/gpbackup" "$dir/gpbackup-glibc" ;;
    *) echo "unknown allocator $a" >&2; exit 2 ;;
  esac
  bins[$a]="$dir/gpbackup-$a"
done
cargo build --release --quiet
cargo build --release --quiet --example gen_takeout
bin=$release/gpbackup

generator=$(sha256sum benches/gen_takeout.rs | cut -c1-8)
shape="$media-$entries-$zips-$seed${tiny:+-tiny}"
takeout="$dir/takeout-$scenario-g$generator-$shape"
if [ ! -f "$takeout/done" ]; then
  rm -rf "$takeout"
  for old in "$dir/takeout-$scenario-"*"-$shape" "$dir/takeout-$scenario-$shape"; do
    [ "$old" = "$takeout" ] || rm -rf "$old"
  done
  echo "generating $takeout …" >&2
  "$release/examples/gen_takeout" --out "$takeout" --media "$media" --entries "$entries" \
    --zips "$zips" --seed "$seed" $tiny >&2
  touch "$takeout/done"
fi
zips_=("$takeout"/*.zip)
tgzs_=()
if [ -n "${BENCH_TGZ:-}" ]; then
  if [ ! -f "$takeout-tgz/done" ]; then
    rm -rf "$takeout-tgz"
    echo "writing the same export as .tgz in $takeout-tgz …" >&2
    "$release/examples/gen_takeout" --tgz-of "$takeout" --out "$takeout-tgz" >&2
    touch "$takeout-tgz/done"
  fi
  tgzs_=("$takeout-tgz"/*.tgz)
fi
in_bytes=$(cat "${zips_[@]}" | wc -c)
all_entries=$(for z in "${zips_[@]}"; do unzip -Z1 "$z"; done | wc -l)
media_entries=$(for z in "${zips_[@]}"; do unzip -Z1 "$z"; done | grep -vicE '\.(json|html)$')

drop_caches() {
  [ -z "${BENCH_WARM:-}" ] || return 0
  sync
  if [ -w /proc/sys/vm/drop_caches ]; then echo 3 > /proc/sys/vm/drop_caches; fi
}

# run NAME COMMAND…: time one step; prints "NAME wall_s peak_rss_kb cpu_s".
run() {
  local name=$1; shift
  drop_caches
  /usr/bin/time -v -o "$dir/$name.time" "$@" >/dev/null 2>"$dir/$name.err" || {
    local rc=$?; echo "$name failed (exit $rc):" >&2; tail -5 "$dir/$name.err" >&2; [ "$rc" = 3 ] || exit 1; }
  awk -F': ' -v n="$name" '
    /Elapsed \(wall clock\)/ {k=split($2,a,":"); w=0; for(i=1;i<=k;i++) w=w*60+a[i]}
    /Maximum resident set size/ {r=$2}
    /User time/ {u=$2} /System time/ {s=$2}
    END {printf "%s %s %s %.2f %.2f\n", n, w, r, u, s}' "$dir/$name.time"
}

results=()
unzip_best=; cp_best=
for r in $(seq 1 "$rounds"); do
  results+=("$(run "unzip#$r" bash -c 'for z in "$@"; do unzip -q -o "$z" -d "$0"; done' "$outdir/unzipped" "${zips_[@]}")")
  rm -rf "$outdir/unzipped"
  results+=("$(run "cp#$r" cp -r "$takeout" "$outdir/copied")")
  rm -rf "$outdir/copied"
  for a in $allocators; do
    rm -rf "$outdir/out-$a"
    results+=("$(run "cold-$a#$r" env GPBACKUP_TRACE_MEMORY=1 "${bins[$a]}" process -q $jobs "${zips_[@]}" -o "$outdir/out-$a")")
  done
  if [ ${#tgzs_[@]} -gt 0 ]; then
    results+=("$(run "gzip-t#$r" gzip -t "${tgzs_[@]}")")
    rm -rf "$outdir/out-tgz"
    results+=("$(run "tgz-cold#$r" env GPBACKUP_TRACE_MEMORY=1 "$bin" process -q $jobs "${tgzs_[@]}" -o "$outdir/out-tgz")")
  fi
  for j in ${BENCH_JOBS_LIST:-}; do
    rm -rf "$outdir/out-j"
    results+=("$(run "cold-j$j#$r" env GPBACKUP_TRACE_MEMORY=1 "$bin" process -q -j "$j" "${zips_[@]}" -o "$outdir/out-j")")
  done
  rm -rf "$outdir/out-j"
done
if [ ${#tgzs_[@]} -gt 0 ]; then
  results+=("$(run "tgz-rerun" env GPBACKUP_TRACE_MEMORY=1 "$bin" process -q $jobs "${tgzs_[@]}" -o "$outdir/out-tgz")")
  results+=("$(run "tgz-against" "$bin" verify -q $jobs "$outdir/out-tgz" --against "${tgzs_[@]}")")
  rm -rf "$outdir/out-tgz"
fi
for a in $allocators; do
  results+=("$(run "rerun-$a" env GPBACKUP_TRACE_MEMORY=1 "${bins[$a]}" process -q $jobs "${zips_[@]}" -o "$outdir/out-$a")")
done
a=${allocators%% *}
results+=("$(run verify "$bin" verify -q $jobs "$outdir/out-$a")")
results+=("$(run against "$bin" verify -q $jobs "$outdir/out-$a" --against "${zips_[@]}")")
# `verify --against` again, to the microsecond (the table's wall times are in hundredths):
# alternated, caches dropped before each; "cold" reads everything from disk, the 11 MB program
# too; "program loaded" runs `gpbackup --version` after the drop, as when the check follows
# the run it checks, so that only the zips' directories and the manifest come from disk.
against_us() {
  drop_caches
  [ "$1" = cold ] || "$bin" --version >/dev/null
  local t0=${EPOCHREALTIME/./}
  "$bin" verify -q $jobs "$outdir/out-$a" --against "${zips_[@]}" >/dev/null 2>&1 || {
    echo "verify --against failed" >&2; exit 1; }
  echo $(( ${EPOCHREALTIME/./} - t0 ))
}
against_cold=(); against_loaded=()
for r in $(seq 1 "${BENCH_AGAINST_ROUNDS:-7}"); do
  against_cold+=("$(against_us cold)"); against_loaded+=("$(against_us loaded)")
done
if [ -n "${BENCH_PROFILE:-}" ]; then
  rm -rf "$outdir/out-prof"; drop_caches
  perf record -q -e cpu-clock -o "$dir/perf.data" "$bin" process -q $jobs "${zips_[@]}" -o "$outdir/out-prof" >/dev/null 2>&1 || true
  rm -rf "$outdir/out-prof"
fi
for a in $allocators; do rm -rf "$outdir/out-$a"; done

# The best round of each reference: the ratios compare a step with the references' best.
best() { printf '%s\n' "${results[@]}" | awk -v p="$1#" 'index($1,p)==1 {if (b=="" || $2<b) b=$2} END {print b}'; }
unzip_best=$(best unzip); cp_best=$(best cp)
echo "Scenario $scenario: ${#zips_[@]} zips, $in_bytes bytes ($((in_bytes / 1048576)) MB), $all_entries zip entries ($media_entries media); $(nproc) cores; outputs in $outdir; $(date -u +%F)"
echo
printf '| %-17s | %7s | %7s | %7s | %7s | %7s | %11s | %11s |\n' step "wall s" "user s" "sys s" "÷ unzip" "÷ cp" "peak RSS MB" "B/entry"
printf '|-------------------|---------|---------|---------|---------|---------|-------------|-------------|\n'
for r in "${results[@]}"; do
  read -r name wall rss user sys <<<"$r"
  awk -v n="$name" -v w="$wall" -v r="$rss" -v u="$user" -v s="$sys" -v e="$all_entries" -v uz="$unzip_best" -v c="$cp_best" \
    'BEGIN { printf "| %-17s | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %11.1f | %11.0f |\n", n, w, u, s, w/uz, w/c, r/1024, r*1024/e }'
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
cold_best=$(best "cold-${allocators%% *}")
echo
for kind in cold loaded; do
  if [ $kind = cold ]; then us=("${against_cold[@]}"); what="cold (the program read from disk too)"
  else us=("${against_loaded[@]}"); what="program loaded"; fi
  awk -v m="$(median "${us[@]}")" -v all="${us[*]}" -v c="$cold_best" -v w="$what" 'BEGIN {
    n = split(all, a, " "); s = ""; for (i = 1; i <= n; i++) s = s sprintf("%s%.1f", (i > 1 ? " " : ""), a[i] / 1000)
    printf "verify --against, %s: median %.1f ms = %.2f%% of the best cold run (%.2f s); runs: %s ms\n", w, m / 1000, m / 1e4 / c, c, s }'
done
echo
echo "Stages (GPBACKUP_TRACE_MEMORY=1: resident and peak memory after each, seconds since start, CPU seconds user+sys):"
for a in $allocators; do
  for n in "cold-$a#1" "rerun-$a" ${tgzs_[0]:+"tgz-cold#1" "tgz-rerun"}; do
    echo "- $n: $(grep '^memory ' "$dir/$n.err" | sed -E 's/^memory ([^:]+): rss ([0-9]+) kB, peak ([0-9]+) kB, at ([0-9.]+) s, cpu ([0-9.]+) s user ([0-9.]+) s sys/\1 \4 s \2\/\3 kB \5+\6/' | paste -sd';' | sed 's/;/; /g')"
  done
done
if [ -n "${BENCH_JOBS_LIST:-}" ]; then
  echo
  echo "The write stage (from 'planned' to 'media written'): wall s, CPU s (user+sys), by thread count:"
  for r in $(seq 1 "$rounds"); do
    for j in $BENCH_JOBS_LIST; do
      awk -v n="cold-j$j#$r" '
        /^memory planned:/ {split($0, a, /at |, cpu | s user | s sys/); w0 = a[2]; c0 = a[3] + a[4]}
        /^memory media written:/ {split($0, a, /at |, cpu | s user | s sys/); w1 = a[2]; c1 = a[3] + a[4]}
        END {printf "- %s: write stage %.2f s wall, %.2f s CPU\n", n, w1 - w0, c1 - c0}' "$dir/cold-j$j#$r.err"
    done
  done
fi
if [ -n "${BENCH_PROFILE:-}" ]; then
  echo
  echo "Profile of the cold run (perf record -e cpu-clock, top entries by self time):"
  perf report -i "$dir/perf.data" --no-children --stdio --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9]' \
    | sed -E 's/ +$//' | cut -c1-110 | head -15
  rm -f "$dir/perf.data"
fi
[ -n "${BENCH_KEEP:-}" ] || rm -rf "$takeout" "$takeout-tgz"
