#!/bin/bash
# make bench-apps (make bench runs it too): start-up of real applications
# packed by hpack (tests/apps.sh says how), against the distribution's own
# way of starting them. Each round runs every contender once, in turn, so
# the noise of a shared machine falls on all alike; medians of BENCH_RUNS
# rounds (default 11), after one untimed warm-up round. Numbers, not tests.
#
# Contenders, each a real use (the training workload), output discarded,
# under env -i HOME=... PATH=/usr/bin:/bin:
#   script17  Debian's launcher script as shipped (its Java: OpenJDK 17)
#   same-jdk  the same start on Temurin 25, the artifacts' JDK: the script
#             with JAVA_HOME (Maven) or PATH (Jython) pointing at it; for
#             Ant, whose script adds -Djava.security.manager=allow, which
#             JDK 25 refuses, the script's exec line run by hand
#   da0 da1   the artifacts (runtime jlinked from Temurin 25; DA1 with its
#             AOT cache)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/bench-lib.sh"
export LC_ALL=C
bench_apps bench-apps 11

build() { # NAME DIR OPTIONS...: DA0 and DA1, trained in DIR
    local n=$1 d=$2; shift 2
    bench_build "$d" "$@" --train --keep-da0 "$B/art/$n-da0" -o "$B/art/$n"
}
build maven "$B/mvn" "${APP_MAVEN[@]}" --train-arg=-o --train-arg=-q --train-arg=validate
build ant "$B/ant" "${APP_ANT[@]}" --train-arg=-q
build jython "$B/jy" "${APP_JYTHON[@]}" --train-arg="$B/jy/x.py"


# measure APP DIR: the four contenders of APP, run in DIR
measure() {
    local app=$1 dir=$2 i name t0 t1
    local -a names=(script17 same-jdk da0 da1)
    for name in "${names[@]}"; do : >"$B/t.$app.$name"; done
    for ((i = -1; i < RUNS; i++)); do
        for name in "${names[@]}"; do
            t0=$(us)
            (cd "$dir" && run_"$app" "$name") || fail "$app $name failed"
            t1=$(us)
            [ $i -ge 0 ] && echo $(((t1 - t0) / 1000)) >>"$B/t.$app.$name"
        done
    done
    local s17 sj d0 d1
    s17=$(median <"$B/t.$app.script17"); sj=$(median <"$B/t.$app.same-jdk")
    d0=$(median <"$B/t.$app.da0"); d1=$(median <"$B/t.$app.da1")
    printf '| %-7s | %5s ms | %5s ms | %5s ms | %5s ms | %.2f | %.2f | %.2f |\n' "$app" "$s17" "$sj" "$d0" "$d1" \
        "$(awk -v a="$d0" -v b="$sj" 'BEGIN{print a/b}')" "$(awk -v a="$d1" -v b="$sj" 'BEGIN{print a/b}')" \
        "$(awk -v a="$d1" -v b="$d0" 'BEGIN{print a/b}')"
}
run_maven() {
    case $1 in
    script17) clean mvn -o -q validate ;;
    same-jdk) clean JAVA_HOME="$J25" mvn -o -q validate ;;
    da0) clean "$B/art/maven-da0" -o -q validate ;;
    da1) clean "$B/art/maven" -o -q validate ;;
    esac
}
run_ant() {
    case $1 in
    script17) clean ant -q ;;
    same-jdk) clean "$J25/bin/java" -classpath /usr/share/ant/lib/ant-launcher.jar -Dant.home=/usr/share/ant \
        -Dant.library.dir=/usr/share/ant/lib org.apache.tools.ant.launch.Launcher -q ;;
    da0) clean "$B/art/ant-da0" -q ;;
    da1) clean "$B/art/ant" -q ;;
    esac
}
run_jython() {
    case $1 in
    script17) clean jython x.py ;;
    same-jdk) env -i HOME="$B/home" PATH="$J25/bin:/usr/bin:/bin" jython x.py >/dev/null 2>&1 ;;
    da0) clean "$B/art/jython-da0" x.py ;;
    da1) clean "$B/art/jython" x.py ;;
    esac
}

echo "hpack bench-apps: $RUNS alternating rounds, medians (host: $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg))"
echo "| app     | script (JDK 17) | script (JDK 25) | DA0 | DA1 | DA0/script25 | DA1/script25 | DA1/DA0 |"
echo "|---|---|---|---|---|---|---|---|"
measure maven "$B/mvn"
measure ant "$B/ant"
measure jython "$B/jy"
for a in maven ant jython; do
    echo "$a raw ms: $(for n in script17 same-jdk da0 da1; do printf '%s=[%s] ' $n "$(paste -sd' ' "$B/t.$a.$n")"; done)"
done
