#!/bin/bash
# make bench: start-up, unpack, build and size numbers for hpack, each set of
# things being compared measured ALTERNATELY in one loop (A, B, A, B, ...) so
# that the noise of a shared machine falls on all of them alike. Prints
# medians, ratios and a summary of the targets; numbers, not tests: exit 0
# even when a target is missed.
#
#   BENCH_RUNS       runs per start-up timing (default 15)
#   BENCH_SLOW_RUNS  runs per unpack/build timing (default 5, at most BENCH_RUNS)
#   BENCH_DIR        scratch directory (default build/bench; wiped first)
#
# Clock: bash's $EPOCHREALTIME (microseconds, no fork), read right before and
# right after each run; a run is one fork+exec from this shell, the same for
# every contender. The HTTP probe uses bash's /dev/tcp (no curl process per
# try, which would cost several ms of CPU each on a 2-CPU machine).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/bench-lib.sh"
export LC_ALL=C

bench_init bench 15
SLOW=${BENCH_SLOW_RUNS:-$((RUNS < 5 ? RUNS : 5))}
case $SLOW in '' | *[!0-9]* | 0) echo "BENCH_SLOW_RUNS: a number >= 1 please" >&2; exit 2;; esac
SERVER_PID=
cleanup() { [ -z "$SERVER_PID" ] || { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; } || true; }
trap cleanup EXIT

RT=$(rt25)
JAVA=$RT/bin/java
HELLO=$SAMPLES/hello.jar
HTTPJ=$SAMPLES/http.jar
HAVE_PERF=0
perf stat -x, -e task-clock -o /dev/null true 2>/dev/null && HAVE_PERF=1
for f in "$HPACK" "$HELLO" "$HTTPJ"; do [ -e "$f" ] || { echo "missing $f: make && make samples" >&2; exit 1; }; done

# A fifo kept open read-write: `read -t S -u $SLEEPFD` sleeps S seconds without a fork.
mkfifo "$B/sleep.fifo"
exec {SLEEPFD}<>"$B/sleep.fifo"
nap() { read -r -t "$1" -u "$SLEEPFD" _ || true; }

# ---- the alternating loop: bench, med, pratio (tests/bench-lib.sh) ----
q() { sort -g "$T/$1" | awk -v p="$2" '{a[NR]=$1} END {i=int((NR-1)*p+0.5)+1; printf "%.1f", a[i]/1000}'; }
# Ratios of A to B: of the medians; "paired", the median of the per-round
# ratios (A and B of a round ran back to back, under the same load: the most
# robust of the three on a busy machine, used for the targets); of the minimums.
ratio() { awk -v a="$(median <"$T/$1")" -v b="$(median <"$T/$2")" 'BEGIN {printf "%.3f", a / b}'; }
mratio() { awk -v a="$(sort -g "$T/$1" | head -1)" -v b="$(sort -g "$T/$2" | head -1)" 'BEGIN {printf "%.3f", a / b}'; }
row() { # row LABEL NAME
    printf '  %-46s %9s ms   [min %s, p25 %s, p75 %s, max %s]\n' "$1" "$(med "$2")" \
        "$(q "$2" 0)" "$(q "$2" 0.25)" "$(q "$2" 0.75)" "$(q "$2" 1)"
}
rrow() { # rrow LABEL A B
    printf '  %-46s %9s paired   [of medians %s, of minimums %s]\n' "$1" "$(pratio "$2" "$3")" "$(ratio "$2" "$3")" "$(mratio "$2" "$3")"
}
SUMMARY=()
# target NAME VALUE OP LIMIT TEXT: OP is le or ge
target() {
    local ok
    ok=$(awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN {print ((op == "le" ? v <= l : v >= l) ? "PASS" : "MISS")}')
    SUMMARY+=("$(printf '%-4s  %-44s %-12s (target %s)' "$ok" "$1:" "$2" "$5")")
}
mb() { awk -v b="$1" 'BEGIN {printf "%.2f MB", b / 1048576}'; }
fsz() { stat -c %s "$1"; }

echo "hpack benchmarks: $RUNS runs per start-up timing, $SLOW per unpack/build timing, alternated"
echo "host: $(nproc) CPUs, $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scratch: $B (filesystem $(stat -f -c %T "$B") on $(df --output=source "$B" | tail -1))"
echo "runtime: $RT (jlinked Temurin $(sed -n 's/^JAVA_VERSION="\(.*\)"/\1/p' "$RT/release"), $(du -sm "$RT" | cut -f1) MB)"
echo

# ---- artifacts (not timed) ----
echo "== preparing artifacts (hpack build --train for hello and http)"
A=$B/art
mkdir -p "$A"
quietly() { "$@" >>"$B/build.log" 2>&1 || { cat "$B/build.log" >&2; echo "failed: $*" >&2; exit 1; }; }
quietly "$HPACK" build -q --train --runtime "$RT" --jar "$HELLO" --keep-da0 "$A/hello.da0" -o "$A/hello.da1"
TRAIN_PORT=$(free_port)
quietly "$HPACK" build -q --train --runtime "$RT" --cp "$HTTPJ" --main-class demo.http.Server --train-arg "$TRAIN_PORT" \
    --train-ready "tcp:$TRAIN_PORT" \
    --train-workload 'for i in 1 2 3 4 5; do curl -fsS "http://127.0.0.1:$HPACK_TRAIN_PORT/" >/dev/null; done' \
    --keep-da0 "$A/http.da0" -o "$A/http.da1"
# the launcher alone: a runtime whose bin/java is /bin/true
mkdir -p "$B/truert/bin"
cp /bin/true "$B/truert/bin/java"
printf 'JAVA_VERSION="25.0.0"\n' >"$B/truert/release"
quietly "$HPACK" build -q --runtime "$B/truert" --jar "$HELLO" -o "$A/true.art"

export HPACK_CACHE_DIR=$B/cache
unset HPACK_DEBUG HPACK_JAVA_OPTS HPACK_AOT HPACK_TRAIN
# the JVM command line an artifact execs, one word per line ($B/NAME.exec)
exec_line() { HPACK_DEBUG=1 "$1" 2>&1 >/dev/null | sed -n 's/^hpack: exec //p' | tail -1; }
for a in hello.da0 hello.da1 http.da0 http.da1 true.art; do "$A/$a" --hpack-verify >/dev/null; done
read -ra L0 <<<"$(exec_line "$A/hello.da0")"
read -ra L1 <<<"$(exec_line "$A/hello.da1")"
read -ra LT <<<"$(exec_line "$A/true.art")"
[[ ${L0[0]:-} == */runtime/bin/java && ${L1[0]:-} == */runtime/bin/java && ${LT[0]:-} == */runtime/bin/java ]] ||
    { echo "cannot read the exec line (HPACK_DEBUG=1)" >&2; exit 1; }
TREE=${L0[0]%/runtime/bin/java}
TREE1=${L1[0]%/runtime/bin/java}
TREET=${LT[0]%/runtime/bin/java}
# DA0's command with the real paths of the unpacked tree (/proc/self/fd/250 exists only under the launcher)
D0=("${L0[@]//\/proc\/self\/fd\/250/$TREE}")
DT=("${LT[@]//\/proc\/self\/fd\/250/$TREET}")
echo "  hello DA0 exec: ${L0[*]}"
echo "  direct run:     ${D0[*]}"
echo "  hello DA1 exec: ${L1[*]}"
[[ " ${L1[*]} " == *" -XX:AOTCache="* ]] || { echo "DA1 execs without -XX:AOTCache" >&2; exit 1; }
# sanity: the caches are used, by the artifact and by the by-hand run alike
from_cache() { grep -q 'demo.Main source: shared objects file' "$1"; }
HPACK_JAVA_OPTS=-Xlog:class+load "$A/hello.da1" >"$B/check1.out"
from_cache "$B/check1.out" || { echo "DA1 does not load demo.Main from its cache" >&2; exit 1; }
( exec 250<"$TREE1"; exec "${L1[0]}" -Xlog:class+load "${L1[@]:1}" ) >"$B/check2.out"
from_cache "$B/check2.out" || { echo "the by-hand AOT run does not load demo.Main from the cache" >&2; exit 1; }
[ "$("${D0[@]}")" = "$("$A/hello.da0")" ] || { echo "the direct run prints something else" >&2; exit 1; }
echo

# ---- 1. warm start overhead ----
echo "== 1. warm start, samples/hello DA0 (tree already unpacked) vs the same JVM command run directly"
run_da0() { "$A/hello.da0" >/dev/null; }
run_direct() { "${D0[@]}" >/dev/null; }
WARMUP=1 bench "$RUNS" da0 direct
row "DA0 artifact (launcher + JVM)" da0
row "java direct, same options, real paths" direct
rrow "ratio DA0 / direct" da0 direct
target "warm start DA0 / direct java" "$(pratio da0 direct)" le 1.02 "<= 1.02"
echo
echo "   the launcher alone: an artifact whose runtime's bin/java is /bin/true vs that /bin/true run directly"
run_trueart() { "$A/true.art" >/dev/null; }
run_truedirect() { "${DT[@]}" >/dev/null; }
WARMUP=1 bench "$RUNS" trueart truedirect
row "artifact with bin/java = /bin/true" trueart
row "/bin/true direct (same argv)" truedirect
LAUNCH_MS=$(awk -v a="$(median <"$T/trueart")" -v b="$(median <"$T/truedirect")" 'BEGIN {printf "%.2f", (a - b) / 1000}')
LAUNCH_R=$(awk -v l="$LAUNCH_MS" -v d="$(median <"$T/direct")" 'BEGIN {printf "%.4f", 1 + l * 1000 / d}')
printf '  %-46s %9s ms   (DA0 / direct implied by it: %s)\n' "launcher overhead (difference of medians)" "$LAUNCH_MS" "$LAUNCH_R"
target "warm start, implied by the launcher alone" "$LAUNCH_R" le 1.02 "<= 1.02; (direct + launcher) / direct"
if [ $HAVE_PERF = 1 ]; then
    cpu() { perf stat -x, -e task-clock -o "$B/perf.out" "$@" >/dev/null; ELAPSED_US=$(awk -F, '$3 == "task-clock" {printf "%d", $1 * 1000}' "$B/perf.out"); }
    run_cpu_trueart() { cpu "$A/true.art"; }
    run_cpu_truedirect() { cpu "${DT[@]}"; }
    WARMUP=1 bench "$RUNS" cpu_trueart cpu_truedirect
    row "CPU (perf task-clock), artifact /bin/true" cpu_trueart
    row "CPU (perf task-clock), /bin/true direct" cpu_truedirect
fi
if command -v strace >/dev/null; then
    strace -o "$B/strace.out" "$A/true.art" >/dev/null 2>&1 || true
    nsys=$(awk 'NR > 1 && /^execve\(/ {exit} NR > 1 {n++} END {print n + 0}' "$B/strace.out")
    printf '  %-46s %9s\n' "launcher system calls before its execve" "$nsys"
fi
echo

# ---- 2. first start (unpack) vs tar ----
echo "== 2. first start and unpack of the jlinked runtime artifact (hello DA0, $(mb "$(fsz "$A/hello.da0")"))"
"$A/hello.da0" --hpack-extract "$B/tree" >/dev/null
TREE_MB=$(du -sm --apparent-size "$B/tree" | cut -f1)
NFILES=$(find "$B/tree" | wc -l)
tar -C "$B/tree" -cf "$B/tree.tar" .
tar -C "$B/tree" -czf "$B/tree.tgz" .
ZPCT=$("$A/hello.da0" --hpack-info | awk '$5 == "zlib" || $5 == "zstd" {z += $3} $5 == "stored" || $5 == "zlib" || $5 == "zstd" {t += $3} END {printf "%.1f", 100 * z / t}')
ZINFO=$("$A/hello.da0" --hpack-info | awk '$2 ~ /^01/ {n++; if ($5 == "zlib" || $5 == "zstd") z++} END {printf "%d of %d files", z, n}')
echo "  payload: compressed (zstd) entries hold $ZPCT% of the file bytes ($ZINFO); the rest is stored"
echo "  same files as tar: $B/tree.tar ($(mb "$(fsz "$B/tree.tar")")), $B/tree.tgz ($(mb "$(fsz "$B/tree.tgz")")); $NFILES paths, $TREE_MB MB"
echo "  every run writes a fresh directory under $B (same filesystem); before each: rm -rf + sync (untimed)"
fresh() { rm -rf "$B/out"; sync; }
pre_first() { fresh; }
run_first() { HPACK_CACHE_DIR=$B/out "$A/hello.da0" >/dev/null; }
pre_extract() { fresh; }
run_extract() { "$A/hello.da0" --hpack-extract "$B/out" >/dev/null; }
pre_untar() { fresh; mkdir "$B/out"; }
run_untar() { tar -xf "$B/tree.tar" -C "$B/out"; }
pre_untgz() { fresh; mkdir "$B/out"; }
run_untgz() { tar -xzf "$B/tree.tgz" -C "$B/out"; }
bench "$SLOW" first extract untar untgz
rm -rf "$B/out"
row "first start: empty cache dir -> app exit" first
row "artifact --hpack-extract DIR" extract
row "tar -xf  (uncompressed tar)" untar
row "tar -xzf (gzip tar)" untgz
printf '  %-46s %9s ms   (first start - warm DA0 start, medians)\n' "first start, unpack part" \
    "$(awk -v a="$(median <"$T/first")" -v b="$(median <"$T/da0")" 'BEGIN {printf "%.1f", (a - b) / 1000}')"
rrow "ratio extract / tar -xzf" extract untgz
rrow "ratio extract / tar -xf" extract untar
rrow "ratio first start / tar -xzf" first untgz
target "unpack: --hpack-extract / tar -xzf" "$(pratio extract untgz)" le 1.2 "<= 1.2; the payload is mostly zstd"

echo

# ---- 3. build time and size ----
echo "== 3. hpack build (jlinked runtime + hello.jar, no training) and size"
pre_build() { rm -f "$B/built"; }
: >"$T/build_cpu"
run_build() {
    if [ $HAVE_PERF = 1 ]; then
        perf stat -x, -e task-clock -o "$B/perf.build" "$HPACK" build -q --runtime "$RT" --jar "$HELLO" -o "$B/built"
        awk -F, '$3 == "task-clock" {printf "%d\n", $1 * 1000}' "$B/perf.build" >>"$T/build_cpu"
    else
        "$HPACK" build -q --runtime "$RT" --jar "$HELLO" -o "$B/built"
    fi
}
pre_tgz() { rm -f "$B/built.tgz"; }
run_tgz() { tar -C "$B/tree" -czf "$B/built.tgz" .; }
bench "$SLOW" build tgz
row "hpack build (wall)" build
[ ! -s "$T/build_cpu" ] || row "hpack build (CPU, perf task-clock)" build_cpu
row "tar -czf of the same files (for scale)" tgz
if cmp -s "$B/built" "$A/hello.da0"; then
    echo "  (the built artifact is byte-identical to the DA0 of --train --keep-da0)"
else
    echo "  (the built artifact differs from the DA0 of --train --keep-da0: was build/hpack rebuilt during the run?)"
fi
objcopy --dump-section .hpack="$B/payload.bin" "$B/built" "$B/objcopy.out"
ART=$(fsz "$B/built")
PAY=$(fsz "$B/payload.bin")
TGZ=$(fsz "$B/tree.tgz")
printf '  %-46s %12s bytes  %s\n' "artifact" "$ART" "$(mb "$ART")" \
    "payload (.hpack section)" "$PAY" "$(mb "$PAY")" \
    "launcher and ELF overhead" "$((ART - PAY))" "$(mb $((ART - PAY)))" \
    "tar -czf of the unpacked tree" "$TGZ" "$(mb "$TGZ")" \
    "tar -cf of the unpacked tree" "$(fsz "$B/tree.tar")" "$(mb "$(fsz "$B/tree.tar")")"
SZR=$(awk -v a="$ART" -v b="$TGZ" 'BEGIN {printf "%.3f", a / b}')
PZR=$(awk -v a="$PAY" -v b="$TGZ" 'BEGIN {printf "%.3f", a / b}')
printf '  %-46s %9s\n' "ratio artifact / tar.gz" "$SZR" "ratio payload / tar.gz" "$PZR"
target "build time (s)" "$(awk -v a="$(median <"$T/build")" 'BEGIN {printf "%.2f", a / 1e6}')" le 2 "< 2 s"
target "size: artifact / tar.gz" "$SZR" le 1.10 "<= 1.10"
echo

# ---- 3b. --jdk builds: jlink each time vs the jlink build cache ----
if [ -n "$J25" ]; then
    echo "== 3b. hpack build --jdk (jdeps + jlink + pack, http.jar): empty jlink cache vs warm"
    pre_jcold() { rm -rf "$B/jlc-cold" "$B/jbuilt"; }
    run_jcold() { HPACK_JLINK_CACHE=$B/jlc-cold "$HPACK" build -q --jdk "$J25" --jar "$HTTPJ" -o "$B/jbuilt"; }
    pre_jwarm() { rm -f "$B/jbuilt"; }
    run_jwarm() { HPACK_JLINK_CACHE=$B/jlc-warm "$HPACK" build -q --jdk "$J25" --jar "$HTTPJ" -o "$B/jbuilt"; }
    HPACK_JLINK_CACHE=$B/jlc-warm "$HPACK" build -q --jdk "$J25" --jar "$HTTPJ" -o "$B/jbuilt"
    bench "$SLOW" jcold jwarm
    row "build --jdk, jlink runs (empty cache)" jcold
    row "build --jdk, jlink cache hit (rebuild)" jwarm
    rrow "ratio rebuild / first build" jwarm jcold
else
    echo "== 3b. skipped: no JDK 25 found for hpack build --jdk"
fi
echo

# ---- 3c. jdeps over a class path it fails on as a whole ----
# Maven's lib/ as is, and with Debian's jaxb-api.jar (whose module-info
# requires java.activation) and javax.activation.jar (which declares it):
# jdeps fails over that class path until the latter is on --module-path.
# Warm jlink cache: what differs is jdeps.
if [ -n "$J25" ] && [ -f /usr/share/java/jaxb-api.jar ] && [ -f /usr/share/java/javax.activation.jar ] && [ -d /usr/share/maven/lib ]; then
    echo "== 3c. hpack build --jdk over Maven's lib/ (jdeps + pack): as is vs plus jaxb-api.jar, which jdeps fails on as a whole"
    mkdir -p "$B/jdl1" "$B/jdl2"
    cp -L /usr/share/maven/lib/*.jar "$B/jdl1/"
    cp -L /usr/share/maven/lib/*.jar /usr/share/java/jaxb-api.jar /usr/share/java/javax.activation.jar "$B/jdl2/"
    run_jdok() { HPACK_JLINK_CACHE=$B/jlc-warm "$HPACK" build -q --jdk "$J25" --cp "$B/jdl1/*" --main-class x.Y -o "$B/jd1" 2>/dev/null; }
    run_jdfail() { HPACK_JLINK_CACHE=$B/jlc-warm "$HPACK" build -q --jdk "$J25" --cp "$B/jdl2/*" --main-class x.Y -o "$B/jd2" 2>/dev/null; }
    run_jdok; run_jdfail
    bench "$SLOW" jdok jdfail
    row "build --jdk, Maven's lib/" jdok
    row "build --jdk, plus jaxb-api + javax.activation" jdfail
    rrow "ratio failing-as-a-whole / passing" jdfail jdok
else
    echo "== 3c. skipped: needs JDK 25, Maven (/usr/share/maven) and Debian's libjaxb-api-java and libactivation-java"
fi
echo

# ---- 4. startup with training ----
echo "== 4a. start-up with training, samples/hello (Temurin 25 AOT cache)"
run_da1() { "$A/hello.da1" >/dev/null; }
run_hda0() { "$A/hello.da0" >/dev/null; }
run_plain() { "$JAVA" -cp "$HELLO" demo.Main >/dev/null; }
run_byhand() { ( exec 250<"$TREE1"; exec "${L1[@]}" ) >/dev/null; }
WARMUP=1 bench "$RUNS" da1 hda0 plain byhand
row "DA1 (trained)" da1
row "DA0" hda0
row "plain java -cp hello.jar demo.Main (rt25)" plain
row "by hand: DA1's exec line, fd 250 = tree" byhand
rrow "speed-up DA0 / DA1" hda0 da1
rrow "speed-up plain / DA1" plain da1
rrow "ratio DA1 / by hand" da1 byhand
target "hello: DA0 / DA1 (speed-up)" "$(pratio hda0 da1)" ge 2 ">= 2"
target "hello: DA1 / by-hand AOT java" "$(pratio da1 byhand)" le 1.02 "<= 1.02"
echo

echo "== 4b. samples/http: time from start to the first HTTP 200 on GET /"
# get200 PORT PID: poll every 2 ms until GET / answers 200 (true) or the process dies (false)
get200() {
    local line i
    for ((i = 0; i < 10000; i++)); do
        if { printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 && IFS= read -r -t 5 line <&3; } 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$1"; then
            [[ $line == HTTP/1.?" 200"* ]] && return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        nap 0.002
    done
    return 1
}
serve() { # serve CMD...: start it (its last argument is the port), time until 200, stop it
    local port=${!#} t0 t1
    t0=${EPOCHREALTIME/[.,]/}
    "$@" >"$B/server.out" 2>&1 </dev/null &
    SERVER_PID=$!
    get200 "$port" "$SERVER_PID" || { echo "no HTTP 200 from: $* ($(tail -2 "$B/server.out"))" >&2; exit 1; }
    t1=${EPOCHREALTIME/[.,]/}
    ELAPSED_US=$((t1 - t0))
    kill "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
}
pre_h1() { PORT=$(free_port); }
run_h1() { serve "$A/http.da1" "$PORT"; }
pre_h0() { PORT=$(free_port); }
run_h0() { serve "$A/http.da0" "$PORT"; }
pre_hp() { PORT=$(free_port); }
run_hp() { serve "$JAVA" -cp "$HTTPJ" demo.http.Server "$PORT"; }
WARMUP=1 bench "$RUNS" h1 h0 hp
row "DA1 (trained)" h1
row "DA0" h0
row "plain java -cp http.jar demo.http.Server" hp
rrow "ratio DA1 / DA0" h1 h0
rrow "ratio DA1 / plain" h1 hp
HSAVE=$(awk -v r="$(pratio h1 h0)" 'BEGIN {printf "%.1f", 100 * (1 - r)}')
printf '  %-46s %8s%%  (1 - paired ratio)\n' "DA1 saves vs DA0" "$HSAVE"
target "http: time to 200 saved by DA1 vs DA0 (%)" "$HSAVE" ge 40 ">= 40%"
echo

echo "== summary (ratios: paired medians; load average now $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs)"
awk -v n="$(nproc)" '$1 > n {exit 0} {exit 1}' /proc/loadavg &&
    echo "  note: the machine is busier than it has CPUs: expect noise; rerun with a larger BENCH_RUNS"
printf '  %s\n' "${SUMMARY[@]}"
printf '  %-4s  %-44s %-12s\n' "info" "launcher overhead, /bin/true runtime (ms):" "$LAUNCH_MS"
[ ! -s "$T/build_cpu" ] || printf '  %-4s  %-44s %-12s\n' "info" "build CPU time (s):" "$(awk -v a="$(median <"$T/build_cpu")" 'BEGIN {printf "%.2f", a / 1e6}')"
printf '  %-4s  %-44s %-12s\n' "info" "hello: DA1 / DA0 / plain (ms):" "$(med da1) / $(med hda0) / $(med plain)"
printf '  %-4s  %-44s %-12s\n' "info" "http to 200: DA1 / DA0 / plain (ms):" "$(med h1) / $(med h0) / $(med hp)"
printf '  %-4s  %-44s %-12s\n' "info" "first start / extract / tar -xzf (ms):" "$(med first) / $(med extract) / $(med untgz)"
printf '  %-4s  %-44s %-12s\n' "info" "unpack: --hpack-extract / tar -xf:" "$(pratio extract untar) (tar -xf decodes nothing; $ZPCT% of the payload is zstd)"
exit 0
