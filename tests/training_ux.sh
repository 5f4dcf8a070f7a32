# Training as a new user meets it (issue 14; sourced by integration.sh):
# --train-ready forms, --train-dir, and what a failed training shows.
# A stand-in runtime whose bin/java is a shell script plays the app: these
# tests are about hpack's side of the run, and take no JVM.

# ux_runtime DIR SCRIPT: a fake Java 25 home whose java runs SCRIPT (sh).
ux_runtime() {
    fake_runtime "$1" 25.0.0
    printf '#!/bin/sh\n%s\n' "$2" >"$1/bin/java"
    chmod 755 "$1/bin/java"
}

t_ready_spec_forms() {
    local o=$W/ux/ready; mkdir -p "$o"
    ux_runtime "$o/rt" 'exit 0'
    # refused: the error shows an example of each form
    expect_status 2 "e.g. tcp:8080, tcp:127.0.0.1:8080, http:http://127.0.0.1:8080/health, log:'Started in'" \
        "$HPACK" build --train --train-ready bogus:1 --runtime "$o/rt" --jar "$SAMPLES/hello.jar" -o "$o/a"
    for bad in tcp: tcp:host: tcp:0 tcp::80 http: http:http:// https://x/; do
        expect_status 2 "expected tcp:PORT, tcp:HOST:PORT" "$HPACK" build --train --train-ready "$bad" --runtime "$o/rt" \
            --jar "$SAMPLES/hello.jar" -o "$o/a"
    done
    # accepted (the stand-in app exits at once: never ready, status 7, the
    # spec named as given)
    for spec in tcp:8080 tcp:127.0.0.1:8080 tcp:localhost:8080 http:http://127.0.0.1:8080/health \
        http://127.0.0.1:8080/health http:127.0.0.1:8080/ 'log:Started in'; do
        expect_status 7 "before it was ready (--train-ready $spec)" "$HPACK" build --train --train-ready "$spec" \
            --runtime "$o/rt" --jar "$SAMPLES/hello.jar" -o "$o/a"
    done
}

t_work_dir_of_training() {
    local o=$W/ux/dir; mkdir -p "$o/work" "$o/out"
    ux_runtime "$o/rt" 'echo "cwd=$(pwd)"; exit 3'
    # by default the training run works in hpack's own directory ...
    local err; err=$(cd "$o/out" && "$HPACK" build -q --train --runtime "$o/rt" --jar "$SAMPLES/hello.jar" -o a 2>&1) && fail "built"
    grep -qx "    cwd=$o/out" <<<"$err" || fail "default working directory: $err"
    # ... and in --train-dir's when given
    err=$(cd "$o/out" && "$HPACK" build -q --train --train-dir "$o/work" --runtime "$o/rt" --jar "$SAMPLES/hello.jar" -o a 2>&1) &&
        fail "built"
    grep -qx "    cwd=$o/work" <<<"$err" || fail "--train-dir: $err"
    # a real training there, -o and --train-dir relative: DA1's check run
    # (in the training directory) finds the artifact beside -o
    local rt; rt=$(rt25) || fail "no JDK 25 runtime"
    err=$(cd "$o/out" && "$HPACK" build -q --train --train-dir ../work --runtime "$rt" --jar "$SAMPLES/hello.jar" \
        -o da1 2>&1) || fail "--train-dir with a relative -o: $err"
    [ -x "$o/out/da1" ] && "$HPACK" inspect "$o/out/da1" | grep -q '^startup cache:  cache/' || fail "no DA1 at $o/out/da1"
    [ -z "$(ls -A "$o/work")" ] || fail "the training left files in --train-dir: $(ls -A "$o/work")"
    expect_status 2 "--train-dir $o/nope: No such file" "$HPACK" build --train --train-dir "$o/nope" --runtime "$o/rt" \
        --jar "$SAMPLES/hello.jar" -o "$o/out/a"
    expect_status 2 "--train-dir needs --train" "$HPACK" build --train-dir "$o/work" --runtime "$o/rt" --jar "$SAMPLES/hello.jar" -o "$o/out/a"
}

t_failed_training_shows_the_app() {
    local o=$W/ux/tail; mkdir -p "$o"
    # the app's exception, then the JVM's cache noise that used to fill the tail
    ux_runtime "$o/rt" 'echo "Exception in thread \"main\" java.lang.IllegalStateException: boom"; echo "    at demo.App.main(App.java:3)"
for i in $(seq 40); do echo "[0.5${i}s][warning][aot] Skipping demo/Gen$i: Old class has been linked"; done; exit 1'
    local err; err=$("$HPACK" build -q --train --runtime "$o/rt" --jar "$SAMPLES/hello.jar" -o "$o/a" 2>&1) && fail "built"
    grep -qx '    Exception in thread "main" java.lang.IllegalStateException: boom' <<<"$err" || fail "no exception: $err"
    grep -q 'Skipping' <<<"$err" | grep -v 'not shown' && fail "noise shown: $err"
    grep -qx "hpack: the training run's last output (40 lines of the JVM's \"\[warning\]\[aot\] Skipping ...\" not shown):" <<<"$err" ||
        fail "header: $err"
    [ "$(grep -c Skipping "$o/a.train.log")" = 40 ] || fail "the log lost lines"
    # a failing workload: its own lines and the app's last ones, both
    ux_runtime "$o/rt2" 'echo ready-now; echo "java.lang.NoClassDefFoundError: org/xml/Schema"; exec sleep 60'
    err=$("$HPACK" build -q --train --train-ready log:ready-now --train-workload 'echo "GET / -> 500"; exit 4' \
        --runtime "$o/rt2" --jar "$SAMPLES/hello.jar" -o "$o/b" 2>&1) && fail "built"
    grep -q "the training run's workload failed (exit status 4)" <<<"$err" || fail "error: $err"
    grep -qx "hpack: the training run's last output:" <<<"$err" || fail "app header: $err"
    grep -qx '    java.lang.NoClassDefFoundError: org/xml/Schema' <<<"$err" || fail "app's line: $err"
    grep -qx "hpack: the workload's last output:" <<<"$err" || fail "workload header: $err"
    grep -qx '    GET / -> 500' <<<"$err" || fail "workload's line: $err"
    grep -q 'GET / -> 500' "$o/b.train.log" && grep -q NoClassDefFoundError "$o/b.train.log" || fail "log incomplete"
}

# A manifest's Main-Class written with slashes (jing's says
# com/thaiopensource/relaxng/util/Driver): the JVM takes it, and DA1's
# check finds the class loaded from the cache under its dotted name. A class
# path entry with a trailing slash (Debian's antlr4 wrapper has one) is the
# jar, as to the JVM.
t_main_class_slashed_and_cp_slash() {
    need_jdks
    local o=$W/slashed rt out; rt=$(rt25) || fail "no JDK 25 runtime"
    mkdir -p "$o/x"
    (cd "$o/x" && "$J25/bin/jar" xf "$SAMPLES/hello.jar" && rm -f META-INF/MANIFEST.MF) || fail "unjar"
    printf 'Main-Class: demo/Main\n' >"$o/m.txt"
    "$J25/bin/jar" cfm "$o/slash.jar" "$o/m.txt" -C "$o/x" . || fail "jar"
    out=$("$HPACK" build -q --train --runtime "$rt" --jar "$o/slash.jar" -o "$o/da1" 2>&1) || fail "build: $out"
    out=$(HPACK_CACHE_DIR=$o/c HPACK_AOT=require "$o/da1" 2>&1) && grep -q '^Hello from hpack' <<<"$out" || fail "DA1: $out"
    out=$("$HPACK" build -q --runtime "$rt" --cp "$SAMPLES/hello.jar/" --main-class demo.Main -o "$o/cp" 2>&1) ||
        fail "a class path entry with a trailing slash: $out"
    "$HPACK" inspect "$o/cp" | grep -q ' app/hello.jar$' || fail "the jar is not app/hello.jar"
    out=$(HPACK_CACHE_DIR=$o/c "$o/cp" 2>&1) && grep -q '^Hello from hpack' <<<"$out" || fail "run: $out"
}
