#!/bin/bash
# make bench-tune (make bench runs it too): DA1 built with --train (the
# default options) against DA1 built with --train --tune (startup goal, the
# curated candidate sets, docs/tuning.md), for the sample app and for Maven,
# Ant and Jython packed as tests/apps.sh packs them, each on its training
# workload. Paired and alternated: each round runs both DA1s of an app once,
# in turn (which one first alternates), so the noise of a shared machine
# falls on both alike; medians of BENCH_RUNS rounds (default 11) after one
# untimed warm-up round. Numbers, not tests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/bench-lib.sh"
export LC_ALL=C
bench_apps bench-tune 11

# build NAME DIR OPTIONS...: NAME (default options) and NAME-tuned, both
# trained in DIR on the same workload; the tuning table kept in NAME.table
build() {
    local n=$1 d=$2; shift 2
    bench_build "$d" "$@" --train -o "$B/art/$n"
    bench_build "$d" "$@" --train --tune -o "$B/art/$n-tuned" >"$B/$n.table"
}
mkdir -p "$B/hello"
build hello "$B/hello" --jar "$SAMPLES/hello.jar"
build maven "$B/mvn" "${APP_MAVEN[@]}" --train-arg=-o --train-arg=-q --train-arg=validate
build ant "$B/ant" "${APP_ANT[@]}" --train-arg=-q
build jython "$B/jy" "${APP_JYTHON[@]}" --train-arg="$B/jy/x.py"

args_of() {
    case $1 in
    hello) ;;
    maven) echo "-o -q validate" ;;
    ant) echo "-q" ;;
    jython) echo "x.py" ;;
    esac
}

# measure APP DIR: its two DA1s, alternated, run in DIR
measure() {
    local app=$1 dir=$2 i k name t0 t1
    local -a names=(default tuned) args
    read -r -a args <<<"$(args_of "$app")"
    for name in "${names[@]}"; do : >"$B/t.$app.$name"; done
    for ((i = -1; i < RUNS; i++)); do
        for k in 0 1; do
            name=${names[$(((i + k + 2) % 2))]}
            local art=$B/art/$app
            [ "$name" = tuned ] && art=$B/art/$app-tuned
            t0=$(us)
            (cd "$dir" && clean "$art" ${args[@]+"${args[@]}"}) || fail "$app $name failed"
            t1=$(us)
            [ $i -ge 0 ] && echo $(((t1 - t0) / 1000)) >>"$B/t.$app.$name"
        done
    done
    local d t choice
    d=$(median <"$B/t.$app.default"); t=$(median <"$B/t.$app.tuned")
    choice=$(sed -n 's/^tune.choice.jvm=//p' "$B/art/$app-tuned.tuned")
    printf '| %-7s | %5s ms | %5s ms | %.2fx | %s |\n' "$app" "$d" "$t" "$(awk -v a="$d" -v b="$t" 'BEGIN{print a/b}')" \
        "${choice:-(default kept)}"
}

echo "hpack bench-tune: $RUNS alternating rounds, medians (host: $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
echo "| app     | DA1 default | DA1 tuned | speed-up | options chosen |"
echo "|---|---|---|---|---|"
measure hello "$B/hello"
measure maven "$B/mvn"
measure ant "$B/ant"
measure jython "$B/jy"
for a in hello maven ant jython; do
    echo "$a raw ms: $(for n in default tuned; do printf '%s=[%s] ' $n "$(paste -sd' ' "$B/t.$a.$n")"; done)"
done
for a in hello maven ant jython; do echo "--- $a: the search's own table"; cat "$B/$a.table"; done
