#!/bin/bash
# make bench, part 2: first start and build speed (the table of docs/results.md,
# "First start and build"). Every figure is measured side by side with what it
# is compared to (plain java -cp, tar -xf, tar -cf, tar -czf), ALTERNATED in one
# loop (A, B, C, A, B, C, ...) so that the load of a shared machine falls on
# all of them alike; medians, and paired ratios (the median of the per-round
# ratios). Numbers, not tests: exit 0 even when a goal is missed.
#
#   BENCH_RUNS       rounds per figure (default 7)
#   BENCH_DIR        scratch directory (default build/bench-first; wiped first)
#
# The application: Debian's Clojure 1.11 (apt-get install clojure; tests/setup-deps.sh
# apps installs it), packed with --jdk (jlink of Temurin 25) and --train,
# running `clojure.main -e EXPR`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/bench-lib.sh"
export LC_ALL=C

bench_init bench-first 7

CLJ=/usr/share/java/clojure-1.11.1.jar
EXPR='(println (reduce + (map inc (range 100000))))'
[ -n "$J25" ] || { echo "no Temurin 25 under /usr/lib/jvm" >&2; exit 1; }
[ -f "$CLJ" ] || { echo "missing $CLJ: apt-get install clojure (sh tests/setup-deps.sh apps)" >&2; exit 1; }
[ -x "$HPACK" ] || { echo "missing $HPACK: make" >&2; exit 1; }

# (bench: tests/bench-lib.sh; here medians in seconds, ratios to 2 places)
med() { median <"$T/$1" | awk '{printf "%.3f", $1 / 1e6}'; } # seconds
pratio() { paste "$T/$1" "$T/$2" | awk '{print $1 / $2}' | median | awk '{printf "%.2f", $1}'; }
# unpack part of a first start, round by round: (first - warm) / tar -xf
uratio() { paste "$T/$1" "$T/$2" "$T/$3" | awk '{print ($1 - $2) / $3}' | median | awk '{printf "%.2f", $1}'; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
fsz() { stat -c %s "$1"; }
ROWS=()
row() { ROWS+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")"); }

echo "first start and build: $RUNS rounds per figure, alternated; $(nproc) CPUs, $(uname -r)"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
q() { "$@" >>"$B/build.log" 2>&1 || { tail -20 "$B/build.log" >&2; echo "failed: $*" >&2; exit 1; }; }

# ---- artifacts (untimed) ----
echo "== building Clojure DA1 (--jdk, --train), default codec and --compress zlib:4 (the old default)"
TRAIN=(--train --train-arg -e --train-arg "$EXPR")
q "$HPACK" build -q --jdk "$J25" --jar "$CLJ" "${TRAIN[@]}" -o "$B/clj"
q "$HPACK" build -q --jdk "$J25" --jar "$CLJ" "${TRAIN[@]}" --compress zlib:4 -o "$B/clj.zlib"
# lib/modules as jlink writes it without --compress (hpack deflates it by default)
q "$HPACK" build -q --jdk "$J25" --jar "$CLJ" "${TRAIN[@]}" --jlink-opt=--compress=zip-0 -o "$B/clj.raw"
export HPACK_CACHE_DIR=$B/warm
unset HPACK_DEBUG HPACK_JAVA_OPTS HPACK_AOT HPACK_TRAIN HPACK_THREADS
want=$("$B/clj" -e "$EXPR")
[ "$want" = 5000050000 ] || { echo "clojure artifact prints '$want'" >&2; exit 1; }
"$B/clj" --hpack-extract "$B/tree" >/dev/null
tar -C "$B/tree" -cf "$B/tree.tar" .
TREE_MB=$(du -sm --apparent-size "$B/tree" | cut -f1)
CP=$(HPACK_DEBUG=1 "$B/clj" -e 1 2>&1 >/dev/null | sed -n 's/^hpack: exec .* -cp \([^ ]*\) .*/\1/p' | tail -1)
# plain java -cp: the same jars from the host, on the same JDK
HOSTCP=$CLJ:/usr/share/maven-repo/org/clojure/spec.alpha/debian/spec.alpha-debian.jar:/usr/share/maven-repo/org/clojure/core.specs.alpha/debian/core.specs.alpha-debian.jar
[ "$("$J25/bin/java" -cp "$HOSTCP" clojure.main -e "$EXPR")" = "$want" ] || { echo "plain java -cp differs" >&2; exit 1; }
echo "  artifact $(mb "$(fsz "$B/clj")") (zlib:4 $(mb "$(fsz "$B/clj.zlib")"), lib/modules not deflated $(mb "$(fsz "$B/clj.raw")")); unpacked tree $TREE_MB MB ($(find "$B/tree" | wc -l) paths); class path in the artifact: $CP"

# ---- 1-3: first start, warm start, plain java, tar -xf ----
echo "== first start (empty cache dir) vs warm start vs plain java -cp vs tar -xf of the tree"
fresh() { rm -rf "$B/out"; sync; }
pre_first() { fresh; }
run_first() { HPACK_CACHE_DIR=$B/out "$B/clj" -e "$EXPR" >/dev/null; }
pre_firstz() { fresh; }
run_firstz() { HPACK_CACHE_DIR=$B/out "$B/clj.zlib" -e "$EXPR" >/dev/null; }
run_warm() { "$B/clj" -e "$EXPR" >/dev/null; }
run_warmr() { "$B/clj.raw" -e "$EXPR" >/dev/null; }
run_plain() { "$J25/bin/java" -cp "$HOSTCP" clojure.main -e "$EXPR" >/dev/null; }
pre_untar() { fresh; mkdir "$B/out"; }
run_untar() { tar -xf "$B/tree.tar" -C "$B/out"; }
pre_firstr() { fresh; }
run_firstr() { HPACK_CACHE_DIR=$B/out "$B/clj.raw" -e "$EXPR" >/dev/null; }
pre_first1() { fresh; }
run_first1() { HPACK_THREADS=1 HPACK_CACHE_DIR=$B/out "$B/clj" -e "$EXPR" >/dev/null; }
"$B/clj" -e 1 >/dev/null # the warm tree
"$B/clj.raw" -e 1 >/dev/null
WARMUP=1 bench "$RUNS" first warm plain untar firstz first1 firstr warmr
rm -rf "$B/out"

# ---- 4: hpack extract -o x.tar vs tar -cf of the unpacked tree ----
echo "== hpack extract -o x.tar vs tar -cf of the same tree"
pre_xtar() { rm -f "$B/x.tar"; sync; }
run_xtar() { "$HPACK" extract "$B/clj" -o "$B/x.tar"; }
pre_ctar() { rm -f "$B/c.tar"; sync; }
run_ctar() { tar -C "$B/tree" -cf "$B/c.tar" .; }
WARMUP=1 bench "$RUNS" xtar ctar

# ---- 5: build of a whole JDK (no jlink, no training) vs tar -cf / tar -czf ----
JDKMB=$(du -sm --apparent-size "$J25" | cut -f1)
echo "== hpack build --runtime $J25 ($JDKMB MB) --jar hello.jar vs tar -cf / tar -czf of it"
# Each build and tar starts on a quiet disk (sync untimed): tar -cf leaves
# 302 MB dirty for the kernel to write back later, and the next command's
# fsync (a build ends with one: the artifact is on disk before it is
# renamed into place) would otherwise wait behind that writeback.
# --fonts none: the artifact holds the files of the tar it is compared with
# (a JDK has java.desktop, which gets fallback fonts by default, 1.6 MB).
pre_build() { rm -f "$B/jdk.art"; sync; }
run_build() { "$HPACK" build -q --fonts none --runtime "$J25" --jar "$SAMPLES/hello.jar" -o "$B/jdk.art"; }
pre_build1() { rm -f "$B/jdk1.art"; sync; }
run_build1() { "$HPACK" build -q --fonts none --compress zstd:1 --runtime "$J25" --jar "$SAMPLES/hello.jar" -o "$B/jdk1.art"; }
pre_jtar() { rm -f "$B/jdk.tar"; sync; }
run_jtar() { tar -C "$J25" -cf "$B/jdk.tar" .; }
pre_jtgz() { rm -f "$B/jdk.tgz"; sync; }
run_jtgz() { tar -C "$J25" -czf "$B/jdk.tgz" .; }
# tar -czf takes ten times a build: fewer rounds of it, its own loop, and
# a ratio of medians (not paired) against the builds'.
SLOW=$(((RUNS + 1) / 2))
bench "$RUNS" build jtar build1
bench "$SLOW" jtgz
# --compress zstd:19, the smallest setting (8 MiB frames, docs/format.md
# 10.5): a size figure; one build, about a minute on two CPUs.
rm -f "$B/jdk19.art"; sync
T19=$(date +%s%N)
"$HPACK" build -q --fonts none --compress zstd:19 --runtime "$J25" --jar "$SAMPLES/hello.jar" -o "$B/jdk19.art"
T19=$(awk -v a="$T19" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')

# ---- 6: build from that JDK as a .tar.gz (one top directory, as shipped),
# decoded once, vs tar -xzf of the same archive (one inflate, no compression) ----
echo "== hpack build --runtime JDK.tar.gz vs tar -xzf of it"
tar -C "$J25" --transform 's,^\.,jdk,' -czf "$B/jdk-top.tgz" .
pre_buildtgz() { rm -f "$B/jdktgz.art"; sync; }
run_buildtgz() { "$HPACK" build -q --fonts none --runtime "$B/jdk-top.tgz" --jar "$SAMPLES/hello.jar" -o "$B/jdktgz.art" 2>/dev/null; }
pre_untgz() { rm -rf "$B/untgz"; mkdir "$B/untgz"; sync; }
run_untgz() { tar -C "$B/untgz" -xzf "$B/jdk-top.tgz"; }
bench "$SLOW" buildtgz untgz
TGZ_CLJ=$B/tree.tgz
tar -C "$B/tree" -czf "$TGZ_CLJ" .

# ---- the table ----
row "first start (unpack + run) / warm start, Clojure" "$(pratio first warm)" "$(med first) s / $(med warm) s" "--compress zlib:4: $(pratio firstz warm) ($(med firstz) s); HPACK_THREADS=1: $(pratio first1 warm) ($(med first1) s); lib/modules not deflated (--jlink-opt=--compress=zip-0): $(pratio firstr warm) ($(med firstr) s; its warm start $(med warmr) s)"
row "first start / plain java -cp, Clojure" "$(pratio first plain)" "$(med first) s / $(med plain) s" "zlib:4: $(pratio firstz plain); not deflated: $(pratio firstr plain)"
row "unpack (first - warm) / tar -xf of the tree" "$(uratio first warm untar)" \
    "$(awk -v a="$(median <"$T/first")" -v b="$(median <"$T/warm")" 'BEGIN {printf "%.3f", (a - b) / 1e6}') s / $(med untar) s" \
    "zlib:4: $(uratio firstz warm untar); 1 thread: $(uratio first1 warm untar)"
row "hpack extract -o x.tar (tar -cf of the tree)" "$(med xtar) s" "$(pratio xtar ctar) x tar -cf ($(med ctar) s)" ""
row "hpack build --runtime JDK ($JDKMB MB)" "$(med build) s" "$(pratio build jtar) x tar -cf ($(med jtar) s)" \
    "$(awk -v a="$(median <"$T/build")" -v b="$(median <"$T/jtgz")" 'BEGIN {printf "%.2f", a / b}') x tar -czf ($(med jtgz) s, ratio of medians); --compress zstd:1: $(med build1) s, $(pratio build1 jtar) x tar -cf"
row "hpack build --runtime JDK .tar.gz" "$(med buildtgz) s" "$(pratio buildtgz untgz) x tar -xzf of it ($(med untgz) s)" ""
row "artifact / tar.gz, that JDK" "$(awk -v a="$(fsz "$B/jdk.art")" -v b="$(fsz "$B/jdk.tgz")" 'BEGIN {printf "%.2f", a / b}')" \
    "$(mb "$(fsz "$B/jdk.art")") / $(mb "$(fsz "$B/jdk.tgz")")" \
    "zstd:1: $(awk -v a="$(fsz "$B/jdk1.art")" -v b="$(fsz "$B/jdk.tgz")" 'BEGIN {printf "%.2f", a / b}')"
row "artifact at --compress zstd:19 / tar.gz, that JDK" "$(awk -v a="$(fsz "$B/jdk19.art")" -v b="$(fsz "$B/jdk.tgz")" 'BEGIN {printf "%.3f", a / b}')" \
    "$(mb "$(fsz "$B/jdk19.art")") / $(mb "$(fsz "$B/jdk.tgz")")" "one build: $T19 s"
row "artifact / tar.gz of its tree, Clojure" "$(awk -v a="$(fsz "$B/clj")" -v b="$(fsz "$TGZ_CLJ")" 'BEGIN {printf "%.2f", a / b}')" \
    "$(mb "$(fsz "$B/clj")") / $(mb "$(fsz "$TGZ_CLJ")")" "zlib:4 artifact: $(mb "$(fsz "$B/clj.zlib")"); lib/modules not deflated: $(mb "$(fsz "$B/clj.raw")")"
echo
echo "| figure | measured | medians | also |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "raw times (us, round order) in $T; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v n="$(nproc)" '$1 > n {exit 0} {exit 1}' /proc/loadavg &&
    echo "note: the machine is busier than it has CPUs: expect noise; rerun with a larger BENCH_RUNS"
exit 0
