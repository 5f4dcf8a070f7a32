# What the benchmarks (tests/bench*.sh) share; sourced after tests/lib.sh
# (ROOT, HPACK, SAMPLES, J25, median). Numbers, not tests.

# bench_init NAME DEFAULT-RUNS: RUNS (BENCH_RUNS, a number >= 1), the
# scratch directory B (BENCH_DIR, default build/NAME; wiped first) and the
# directory of the timings, T=$B/times.
bench_init() {
    RUNS=${BENCH_RUNS:-$2}
    B=${BENCH_DIR:-$ROOT/build/$1}
    case $RUNS in '' | *[!0-9]* | 0) echo "BENCH_RUNS: a number >= 1 please" >&2; exit 2;; esac
    rm -rf "$B"
    mkdir -p "$B/times"
    T=$B/times
}

us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

# ---- the alternated loop ----
# bench N name...: N rounds; in each round, for each name in turn: pre_NAME
# (untimed, if defined), then run_NAME timed, so that the load of a shared
# machine falls on every contender alike. A run_ function may time itself
# by setting ELAPSED_US (microseconds). Times go to $T/NAME, one per line
# (us). With WARMUP=1, one untimed round first.
#
# Clock: bash's $EPOCHREALTIME (microseconds, no fork), read right before
# and right after each run.
bench() {
    local n=$1 i name t0 t1
    shift
    for name; do : >"$T/$name"; done
    for ((i = ${WARMUP:-0} ? -1 : 0; i < n; i++)); do
        for name; do
            if declare -F "pre_$name" >/dev/null; then "pre_$name"; fi
            ELAPSED_US=
            t0=${EPOCHREALTIME/[.,]/}
            "run_$name"
            t1=${EPOCHREALTIME/[.,]/}
            ((i < 0)) || echo "${ELAPSED_US:-$((t1 - t0))}" >>"$T/$name"
        done
    done
}
# The median of a timings file, in ms.
med() { median <"$T/$1" | awk '{printf "%.1f", $1 / 1000}'; }
# Paired ratio of A to B: the median of the per-round ratios (A and B of a
# round ran back to back, under the same load).
pratio() { paste "$T/$1" "$T/$2" | awk '{print $1 / $2}' | median | awk '{printf "%.3f", $1}'; }

# ---- the real applications (tests/apps.sh) ----
# bench_apps NAME DEFAULT-RUNS: bench_init, then Maven, Ant and Jython
# present (else fail: "NAME: why"), their projects written under $B (mvn,
# ant, jy), a home and a shared jlink cache.
bench_apps() {
    BENCH_NAME=$1
    fail() { echo "$BENCH_NAME: $*" >&2; exit 1; }
    . "$ROOT/tests/apps.sh"
    bench_init "$@"
    [ -n "$J25" ] || fail "JDK 25 (Temurin) not found under /usr/lib/jvm"
    for c in mvn ant jython; do command -v $c >/dev/null || fail "$c is not installed (sh tests/setup-deps.sh apps)"; done
    mkdir -p "$B/home" "$B/art" -m 700 "$B/jlc"
    W=$B
    write_mvn_project "$B/mvn"; write_ant_project "$B/ant"; write_jython_script "$B/jy"
}
# bench_build DIR OPTIONS...: hpack build -q --jdk (Temurin 25) run in DIR.
bench_build() {
    local d=$1; shift
    (cd "$d" && HPACK_JLINK_CACHE=$B/jlc "$HPACK" build -q --jdk "$J25" "$@")
}
# clean CMD...: run as a user would, output dropped.
clean() { env -i HOME="$B/home" PATH=/usr/bin:/bin "$@" >/dev/null 2>&1; }
