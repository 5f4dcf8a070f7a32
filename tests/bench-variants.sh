#!/bin/bash
# make bench (issue 13, cache variants): start-up with the startup cache
# variants of `hpack build --train-variant`, each comparison measured
# ALTERNATELY in one loop (A, B, A, B, ...) on the sample app (hello.jar),
# warm (the tree unpacked). Numbers, not tests: exit 0 even when a goal is
# missed.
#
#  1. A host whose heap is over 32 GB (simulated with -XX:MaxRAM=256g: no
#     compressed oops, so the default cache does not apply): DA1 built with
#     the large-heap variant (the launcher picks it) vs DA0 (no cache), and
#     vs a DA1 without variants (its cache is not passed there).
#     Goal: DA1(large-heap) >= 1.6x faster than DA0.
#     And healing: the DA1 without variants, HPACK_HEAL=on, after its first
#     (recording) start: its second start on passes the host-local cache.
#     Goal: >= 1.6x faster than DA0 too.
#  2. A normal host: the portable variant (no AOT adapters, forced with
#     HPACK_AOT_VARIANT=portable) vs the default cache: what portability costs.
#
#   BENCH_RUNS  runs per contender (default 15)
#   BENCH_DIR   scratch directory (default build/bench-variants; wiped first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/bench-lib.sh"
export LC_ALL=C

bench_init bench-variants 15
RT=$(rt25)
for f in "$HPACK" "$SAMPLES/hello.jar"; do [ -e "$f" ] || { echo "missing $f: make && make samples" >&2; exit 1; }; done

echo "== startup cache variants (hello.jar, Temurin 25, $RUNS alternated runs each, warm) =="
t0=$EPOCHREALTIME
"$HPACK" build -q --train --train-variant large-heap --train-variant portable --runtime "$RT" \
    --jar "$SAMPLES/hello.jar" --keep-da0 "$B/da0" -o "$B/da1v"
"$HPACK" build -q --train --runtime "$RT" --jar "$SAMPLES/hello.jar" -o "$B/da1"
printf '  built DA1 with both variants and a DA1 without, in %.0f s\n' "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {print b - a}')"

# Each contender: its own cache directory, its environment; output dropped.
BIG=-XX:MaxRAM=256g
cmd_lh=(env HPACK_CACHE_DIR="$B/c-lh" HPACK_JAVA_OPTS=$BIG "$B/da1v")
cmd_da0big=(env HPACK_CACHE_DIR="$B/c-da0" HPACK_JAVA_OPTS=$BIG "$B/da0")
cmd_novar=(env HPACK_CACHE_DIR="$B/c-nv" HPACK_JAVA_OPTS=$BIG "$B/da1")
cmd_healed=(env HPACK_CACHE_DIR="$B/c-heal" HPACK_HEAL=on HPACK_JAVA_OPTS=$BIG "$B/da1")
cmd_default=(env HPACK_CACHE_DIR="$B/c-def" "$B/da1v")
cmd_portable=(env HPACK_CACHE_DIR="$B/c-port" HPACK_AOT_VARIANT=portable "$B/da1v")
# CPU time too (perf's task-clock of the whole process tree): on a loaded
# machine it moves less than elapsed time.
HAVE_PERF=0
perf stat -x, -e task-clock -o /dev/null true 2>/dev/null && HAVE_PERF=1

# The cache each start uses must be the one meant (else the numbers lie).
check() { # check NAME WANT-PATTERN ENV...
    local name=$1 want=$2; shift 2
    local err; err=$(env HPACK_DEBUG=1 "$@" 2>&1 >/dev/null) || { echo "  $name: failed: $err" >&2; exit 1; }
    grep -q -- "$want" <<<"$err" || { echo "  $name: not '$want': $(grep '^hpack: startup\|warning' <<<"$err")" >&2; exit 1; }
}
check large-heap '(variant large-heap) applies' HPACK_CACHE_DIR="$B/c-lh" HPACK_JAVA_OPTS=$BIG HPACK_AOT=require "$B/da1v"
check default 'cache/[0-9a-f]*\.aot applies' HPACK_CACHE_DIR="$B/c-def" HPACK_AOT=require "$B/da1v"
check portable '(variant portable) applies' HPACK_CACHE_DIR="$B/c-port" HPACK_AOT_VARIANT=portable HPACK_AOT=require "$B/da1v"
check no-variant 'does not apply on this host' HPACK_CACHE_DIR="$B/c-nv" HPACK_JAVA_OPTS=$BIG "$B/da1"
"${cmd_da0big[@]}" >/dev/null # unpacks
# healing: the first start records; the creator is done when its lock is free
"${cmd_healed[@]}" >/dev/null 2>&1
flock "$B/c-heal/$("$HPACK" hash "$B/da1").heal/lock" true
check healed 'host-local startup cache .* applies' HPACK_CACHE_DIR="$B/c-heal" HPACK_HEAL=on HPACK_JAVA_OPTS=$BIG HPACK_AOT=require "$B/da1"

# run_NAME: the contender's command (cmd_NAME), timed alone (ELAPSED_US),
# then its CPU time (perf's task-clock) to $T/NAME.cpu when there is perf.
run_cmd() {
    local -n cmd=cmd_$1
    local t0=${EPOCHREALTIME/[.,]/}
    if ((HAVE_PERF)); then
        perf stat -x, -e task-clock -o "$B/perf.out" -- "${cmd[@]}" >/dev/null 2>&1
    else
        "${cmd[@]}" >/dev/null 2>&1
    fi
    ELAPSED_US=$((${EPOCHREALTIME/[.,]/} - t0))
    if ((HAVE_PERF)); then awk -F, '$3 == "task-clock" {printf "%d\n", $1 * 1000}' "$B/perf.out" >>"$T/$1.cpu"; fi
}
for name in lh da0big novar healed default portable; do
    eval "run_$name() { run_cmd $name; }"
    : >"$T/$name.cpu"
done
row() { # elapsed median, and CPU median with perf
    printf '  %-58s %8s ms' "$1" "$(med "$2")"
    ((HAVE_PERF)) && printf '  (CPU %s ms)' "$(med "$2.cpu")"
    echo
}
cpuratio() { ((HAVE_PERF)) && printf '; CPU time, paired: %sx' "$(pratio "$1.cpu" "$2.cpu")"; true; }

bench "$RUNS" lh da0big novar healed
echo "-- a 256 GB host (HPACK_JAVA_OPTS=$BIG: no compressed oops), medians --"
row "DA1 with --train-variant large-heap (large-heap cache)" lh
row "DA1 without variants (its cache does not apply: none)" novar
row "DA1 without variants, healed (HPACK_HEAL=on, 2nd start on)" healed
row "DA0 (no cache)" da0big
x=$(pratio da0big lh)
printf '  DA0 / DA1(large-heap), elapsed, paired: %sx  (goal >= 1.6x: %s)%s\n' "$x" \
    "$(awk -v x="$x" 'BEGIN {print (x >= 1.6 ? "met" : "MISSED")}')" "$(cpuratio da0big lh)"
printf '  DA1 without variants / DA1(large-heap), elapsed, paired: %sx%s\n' "$(pratio novar lh)" "$(cpuratio novar lh)"
x=$(pratio da0big healed)
printf '  DA0 / DA1 healed, elapsed, paired: %sx  (goal >= 1.6x: %s)%s\n' "$x" \
    "$(awk -v x="$x" 'BEGIN {print (x >= 1.6 ? "met" : "MISSED")}')" "$(cpuratio da0big healed)"

bench "$RUNS" default portable
echo "-- this host (compressed oops, the build CPU), medians --"
row "DA1, default cache (AOT adapters)" default
row "DA1, portable variant (no adapters: HPACK_AOT_VARIANT=portable)" portable
printf '  portable / default, elapsed, paired: %sx%s (the cost of portability)\n' "$(pratio portable default)" "$(cpuratio portable default)"
