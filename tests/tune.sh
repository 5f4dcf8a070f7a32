# hpack build --tune (issue 17; sourced by integration.sh): the search's
# mechanics, never its timing. Who wins is decided with the test build's
# HPACK_TEST_TUNE_SCALE hook (a candidate's measured times multiplied by a
# factor far beyond any machine's noise), so a loaded machine cannot change
# a verdict; the candidates are the user's own (--tune-candidates-only),
# few, and measured twice, to keep the tests short.

# tune_json ARTIFACT EXPR: a Python expression over inspect --json (as j).
tune_json() {
    "$HPACK" inspect --json "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}

t_tune_usage() {
    local rt o=$W/tune/usage; rt=$(rt25); mkdir -p "$o"
    local a=(--runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/a")
    expect_status 2 "--tune needs --train" "$HPACK" build --tune "${a[@]}"
    expect_status 2 "--tune=fast: expected startup or server" "$HPACK" build --train --tune=fast "${a[@]}"
    expect_status 2 "'nope' is not a JVM option" "$HPACK" build --train --tune --tune-candidate 'nope' "${a[@]}"
    expect_status 2 "no options" "$HPACK" build --train --tune --tune-candidate ' ' "${a[@]}"
    expect_status 2 "--tune-candidate '-Dx='a': a single quote is not closed" "$HPACK" build --train --tune \
        --tune-candidate "-Dx='a" "${a[@]}"
    expect_status 2 "--tune-rounds 0: expected a whole number" "$HPACK" build --train --tune --tune-rounds 0 "${a[@]}"
    expect_status 2 "--tune-time -1: expected a positive number" "$HPACK" build --train --tune --tune-time -1 "${a[@]}"
    expect_status 2 "need --tune (or --train-runs N, or several --with-cache with --pick best)" "$HPACK" build --train --tune-rounds 3 "${a[@]}"
    expect_status 2 "--tune=server needs --train-ready" "$HPACK" build --train --tune=server "${a[@]}"
    expect_status 2 "--tuned $o/none: No such file" "$HPACK" build --tuned "$o/none" "${a[@]}"
    printf 'x=1\n' >"$o/bad.tuned"
    expect_status 2 "not a table written by hpack build --tune" "$HPACK" build --tuned "$o/bad.tuned" "${a[@]}"
    [ ! -e "$o/a" ] || fail "output written"
}

# A candidate that wins: the table, the choice in OUT.tuned, in the
# provenance (inspect, text and JSON) and in the DA1's own options, the
# user's --jvm-opt after the candidate's; a candidate setting the user's
# flag is not tried. The winner holds an option with a blank, quoted as in
# a shell (--tune-candidate "... '-Dk=a b'"): one option all the way, in
# OUT.tuned and the provenance quoted the same way, read back by --tuned.
# The default's first run measures its peak heap use (xms-peak).
t_tune_chooses_a_winner() {
    local rt o=$W/tune/win; rt=$(rt25); mkdir -p "$o"
    local q="-XX:+UseSerialGC '-Dhpack.words=a b'"
    HPACK_TEST_TUNE_SCALE=user-1=0.01 "$HPACK_T" build --runtime "$rt" --jar "$SAMPLES/hello.jar" --jvm-opt=-Xss1m \
        --train --tune --tune-candidates-only --tune-candidate "$q" --tune-candidate '-XX:+UseSerialGC -Xss2m' \
        --tune-rounds 2 -o "$o/a" >"$o/out" 2>"$o/err" || fail "build: $(tail -5 "$o/err")"
    grep -q '^tune (startup: the whole run, 2 rounds' "$o/out" || fail "no table: $(cat "$o/out")"
    grep -qF -- " chosen        $q" "$o/out" && grep -q '^  user-1 .* chosen ' "$o/out" || fail "user-1 not chosen: $(cat "$o/out")"
    grep -q '^  user-2 .* out ' "$o/out" && grep -q 'not tried: your --jvm-opt -Xss1m sets the same flag' "$o/out" ||
        fail "user-2 tried: $(cat "$o/out")"
    grep -qF "chosen: user-1 ($q): " "$o/out" || fail "no choice line: $(cat "$o/out")"
    grep -q 'tune: round 2/2, medians: default .* s, user-1 .* s' "$o/err" || fail "no progress: $(cat "$o/err")"
    grep -q "tune: the default's peak heap use [0-9.]* MB (its GC log): xms-peak is -Xms[0-9]*m$" "$o/err" ||
        fail "no peak heap use: $(cat "$o/err")"
    grep -qx 'tune.choice=user-1' "$o/a.tuned" && grep -qxF "tune.choice.jvm=$q" "$o/a.tuned" ||
        fail "OUT.tuned: $(cat "$o/a.tuned")"
    [ "$(tune_json "$o/a" 'j["jvm_options"]')" = "['-XX:+UseSerialGC', '-Dhpack.words=a b', '-Xss1m']" ] ||
        fail "options: $(tune_json "$o/a" 'j["jvm_options"]')"
    [ "$(tune_json "$o/a" 'j["cache"]["tune"]["choice"], j["cache"]["tune"]["goal"], j["cache"]["tune"]["rounds"]')" = "user-1 startup 2" ] ||
        fail "inspect --json: $(tune_json "$o/a" 'j["cache"]["tune"]')"
    [ "$(tune_json "$o/a" 'j["cache"]["tune"]["choice_jvm"], j["cache"]["tune"]["candidates"][1]["jvm"]')" = \
        "['-XX:+UseSerialGC', '-Dhpack.words=a b'] ['-XX:+UseSerialGC', '-Dhpack.words=a b']" ] ||
        fail "inspect --json options: $(tune_json "$o/a" 'j["cache"]["tune"]')"
    [ "$(tune_json "$o/a" '[c["verdict"] for c in j["cache"]["tune"]["candidates"]]')" = "['default', 'chosen', 'out']" ] ||
        fail "verdicts: $(tune_json "$o/a" 'j["cache"]["tune"]')"
    "$HPACK" inspect "$o/a" | grep -qF "chosen: user-1 ($q)" || fail "inspect text: $("$HPACK" inspect "$o/a")"
    # it is a sound DA1: its own cache applies under its own options, and
    # the quoted option arrives whole
    local out; out=$(HPACK_CACHE_DIR=$W/tune/c HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load run_clean "$o/a" --prop hpack.words)
    grep -q 'demo.Main source: shared objects file' <<<"$out" || fail "cache not used: $out"
    grep -qx 'Hello from hpack!' <<<"$out" || fail "no greeting"
    grep -qx 'hpack.words=a b' <<<"$out" || fail "the quoted option: $out"
    "$HPACK" verify "$o/a" >/dev/null || fail "verify"
    ls "$o" | grep -q hpack- && fail "temporary left: $(ls "$o")"
    # rebuilt bit for bit from the recorded choice and the DA1's own cache
    # (docs/reproducibility.md): --tuned FILE, or the same --jvm-opts by hand;
    # by the same hpack (the test build embeds the test launcher)
    "$HPACK" extract "$o/a" -o "$o/x" >/dev/null
    local c; c=$(ls "$o"/x/cache/*.aot)
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --jvm-opt=-Xss1m --tuned "$o/a.tuned" --with-cache "$c" \
        -o "$o/replay" || fail "replay"
    cmp "$o/replay" "$o/a" || fail "--tuned replay differs"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --jvm-opt=-XX:+UseSerialGC --jvm-opt='-Dhpack.words=a b' \
        --jvm-opt=-Xss1m --with-cache "$c" -o "$o/replay2" || fail "replay by hand"
    cmp "$o/replay2" "$o/a" || fail "--jvm-opt replay differs"
}

# A winner's options go where --jvm-opt would, before --env's records too:
# the DA1 of an app with --env and no --jvm-opt or --arg is rebuilt from its
# choice and its own cache, bit for bit.
t_tune_with_env_replays() {
    local rt o=$W/tune/env; rt=$(rt25); mkdir -p "$o"
    HPACK_TEST_TUNE_SCALE=user-1=0.01 "$HPACK_T" build --runtime "$rt" --jar "$SAMPLES/hello.jar" --env X=1 \
        --train --tune --tune-candidates-only --tune-candidate -XX:+UseSerialGC --tune-rounds 2 -o "$o/a" \
        >"$o/out" 2>"$o/err" || fail "build: $(tail -5 "$o/err")"
    grep -qx 'tune.choice=user-1' "$o/a.tuned" || fail "OUT.tuned: $(cat "$o/a.tuned")"
    "$HPACK" extract "$o/a" -o "$o/x" >/dev/null
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --env X=1 --jvm-opt=-XX:+UseSerialGC \
        --with-cache "$(ls "$o"/x/cache/*.aot)" -o "$o/replay" || fail "replay by hand"
    cmp "$o/replay" "$o/a" || fail "replay differs"
}

# No candidate beats the default: the default's bytes (its base hash is a
# plain build's), the verdicts say why; a candidate whose JVM cannot start
# is left out with the reason, and the search goes on.
t_tune_keeps_the_default() {
    local rt o=$W/tune/keep; rt=$(rt25); mkdir -p "$o"
    HPACK_TEST_TUNE_SCALE=user-1=100 "$HPACK_T" build --runtime "$rt" --jar "$SAMPLES/hello.jar" \
        --train --tune --tune-candidates-only --tune-candidate '-XX:+UseSerialGC' --tune-candidate '-XX:+NoSuchFlagForHpack' \
        --tune-rounds 2 -o "$o/a" >"$o/out" 2>"$o/err" || fail "build: $(tail -5 "$o/err")"
    grep -q '^chosen: the default (no candidate beat it' "$o/out" || fail "choice: $(cat "$o/out")"
    grep -q '^  user-1 .* slower .*-XX:+UseSerialGC$' "$o/out" || fail "user-1: $(cat "$o/out")"
    grep -q '^  user-2 .* out ' "$o/out" && grep -q 'failed: ' "$o/out" || fail "user-2: $(cat "$o/out")"
    grep -qx 'tune.choice=default' "$o/a.tuned" && grep -qx 'tune.choice.jvm=' "$o/a.tuned" || fail "OUT.tuned: $(cat "$o/a.tuned")"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/plain"
    [ "$("$HPACK" hash "$o/a")" = "$("$HPACK" hash "$o/plain")" ] || fail "the default's DA0 is not a plain build's"
    [ "$(tune_json "$o/a" 'j["jvm_options"], j["cache"]["tune"]["choice_jvm"]')" = "[] []" ] || fail "options changed"
}

# The search's winner is measured again against the default (the
# confirmation): a candidate that won the search but not the confirmation
# (its confirmation runs scaled up by the test hook) is not chosen.
t_tune_confirmation() {
    local rt o=$W/tune/confirm; rt=$(rt25); mkdir -p "$o"
    HPACK_TEST_TUNE_SCALE=user-1=0.01 HPACK_TEST_TUNE_CONFIRM_SCALE=user-1=100 "$HPACK_T" build --runtime "$rt" \
        --jar "$SAMPLES/hello.jar" --train --tune --tune-candidates-only --tune-candidate '-XX:+UseSerialGC' \
        --tune-rounds 2 -o "$o/a" >"$o/out" 2>"$o/err" || fail "build: $(tail -5 "$o/err")"
    grep -q '^chosen: the default (user-1 won the search, not the confirmation)$' "$o/out" || fail "choice: $(cat "$o/out")"
    grep -q '^confirmation: user-1 .* 2 more rounds each: .*, not confirmed$' "$o/out" || fail "confirmation line: $(cat "$o/out")"
    grep -q '^  user-1 .* not confirmed .*-XX:+UseSerialGC$' "$o/out" || fail "verdict: $(cat "$o/out")"
    grep -qx 'tune.choice=default' "$o/a.tuned" || fail "OUT.tuned: $(cat "$o/a.tuned")"
    grep -q 'tune: user-1 not confirmed, the default is kept' "$o/err" || fail "progress: $(cat "$o/err")"
}

# --tune=server (the default with --train-ready): the run to ready plus the
# workload is what is timed, the server stopped after each. The workload's
# time lasts until its output ends, not only until it exits: here a process
# it leaves behind writes one more line a second later, so every measured
# run of the default takes a second at least (a lower bound: a loaded
# machine only makes it longer). The server's GC log, written as it is
# stopped, gives the peak heap use.
t_tune_server() {
    local rt o=$W/tune/server; rt=$(rt25); mkdir -p "$o"
    local port; port=$(free_port)
    HPACK_TEST_TUNE_SCALE=user-1=0.01 "$HPACK_T" build --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server \
        --arg "$port" --train --train-ready "tcp:$port" \
        --train-workload 'curl -fsS "http://127.0.0.1:$HPACK_TRAIN_PORT/" >/dev/null; (sleep 1; echo late) &' \
        --tune --tune-candidates-only --tune-candidate '-XX:+UseSerialGC' --tune-rounds 2 -o "$o/a" >"$o/out" 2>"$o/err" ||
        fail "build: $(tail -5 "$o/err")"
    grep -q '^tune (server: time to ready plus the workload, 2 rounds' "$o/out" || fail "table: $(cat "$o/out")"
    local lo; lo=$(awk '$1 == "default" { split($4, r, "-"); print r[1] }' "$o/out")
    awk -v lo="$lo" 'BEGIN { exit !(lo + 0 >= 1.0) }' || fail "the default's fastest run ($lo s) ended before its workload's output: $(cat "$o/out")"
    grep -q "tune: the default's peak heap use [0-9.]* MB (its GC log): xms-peak is -Xms" "$o/err" || fail "no peak heap use: $(cat "$o/err")"
    grep -q '^chosen: user-1' "$o/out" || fail "choice: $(cat "$o/out")"
    [ "$(tune_json "$o/a" 'j["cache"]["tune"]["goal"], j["jvm_options"]')" = "server ['-XX:+UseSerialGC']" ] ||
        fail "inspect: $(tune_json "$o/a" 'j["cache"]["tune"]')"
    # every measured server was stopped (each build reaps its JVMs before it exits)
    no_process "demo.http.Server $port" || fail "a server left running"
}

# --tune-time bounds the search: past it, no candidate is trained, and the
# default (trained, measured) is written.
t_tune_time_bound() {
    local rt o=$W/tune/time; rt=$(rt25); mkdir -p "$o"
    "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" --train --tune --tune-candidates-only \
        --tune-candidate '-XX:+UseSerialGC' --tune-time 0.001 --tune-rounds 2 -o "$o/a" >"$o/out" 2>"$o/err" ||
        fail "build: $(tail -5 "$o/err")"
    grep -q 'not tried: --tune-time 0.001 s reached' "$o/out" || fail "table: $(cat "$o/out")"
    grep -q '^chosen: the default' "$o/out" || fail "choice: $(cat "$o/out")"
    grep -q 'training user-1' "$o/err" && fail "user-1 trained past the bound"
    [ -x "$o/a" ] && [ -s "$o/a.tuned" ] || fail "no output"
}

# An interrupt in the middle of the search (a candidate's training) leaves
# nothing: no output, no OUT.tuned, no log, no work directory, no JVM.
t_tune_interrupt_leaves_nothing() {
    local rt o=$W/tune/intr tmp=$W/tune/intr-tmp p; rt=$(rt25); mkdir -p "$o" "$tmp"
    TMPDIR=$tmp "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" --train --tune --tune-candidates-only \
        --tune-candidate "-XX:+UseSerialGC -Dhpack.tunetest=intr$$" --tune-rounds 2 -o "$o/a" >"$o/log" 2>&1 &
    p=$!
    WAIT_LOG=$o/log wait_for 300 "the candidate's training JVM to start" pgrep -f "bin/java .*hpack.tunetest=intr$$"
    kill -INT $p; wait $p && fail "interrupted tuning succeeded"
    wait_for 30 "the candidate's JVM to die with the interrupted build" no_process "bin/java .*hpack.tunetest=intr$$"
    [ -z "$(ls -A "$tmp")" ] || fail "left in TMPDIR: $(ls -A "$tmp")"
    [ "$(ls -A "$o")" = log ] || fail "left beside the output: $(ls -A "$o")"
}

# The max operator over trainings (--train-runs N) and over given caches
# (several --with-cache with --pick best): the same measurement, the best
# kept; --pick first takes the first without measuring. Without --pick,
# several --with-cache are one DA1's default cache and variants (anyhost.sh).
t_tune_train_runs() {
    local rt o=$W/tune/runs; rt=$(rt25); mkdir -p "$o"
    HPACK_TEST_TUNE_SCALE='default#2=0.01' "$HPACK_T" build --runtime "$rt" --jar "$SAMPLES/hello.jar" --train --train-runs 2 \
        --tune-rounds 2 -o "$o/a" >"$o/out" 2>"$o/err" || fail "build: $(tail -5 "$o/err")"
    grep -q '^  default#2 .* chosen ' "$o/out" || fail "table: $(cat "$o/out")"
    grep -q '^training spread: default: medians .* s over 2 trainings' "$o/out" || fail "no spread: $(cat "$o/out")"
    grep -qx 'tune.choice=default#2' "$o/a.tuned" || fail "OUT.tuned: $(cat "$o/a.tuned")"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/plain"
    [ "$("$HPACK" hash "$o/a")" = "$("$HPACK" hash "$o/plain")" ] || fail "not the default options' DA0"
    expect_status 2 "--train-runs 0: expected a whole number from 1 to 8" "$HPACK" build --train --train-runs 0 \
        --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/b"
    expect_status 2 "--train-runs needs --train" "$HPACK" build --train-runs 2 --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/b"
}

t_tune_with_caches_measured_or_first() {
    local rt o=$W/tune/caches; rt=$(rt25); mkdir -p "$o"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/da0"
    HPACK_CACHE_DIR=$o/u HPACK_TRAIN=$o/A.aot "$o/da0" >/dev/null 2>&1
    HPACK_CACHE_DIR=$o/u HPACK_TRAIN=$o/B.aot "$o/da0" >/dev/null 2>&1
    [ -s "$o/A.aot" ] && [ -s "$o/B.aot" ] || fail "HPACK_TRAIN wrote no caches"
    HPACK_TEST_TUNE_SCALE=cache-2=0.01 "$HPACK_T" build --runtime "$rt" --jar "$SAMPLES/hello.jar" \
        --with-cache "$o/A.aot" --with-cache "$o/B.aot" --pick best --tune-rounds 2 -o "$o/m" >"$o/out" 2>"$o/err" ||
        fail "build: $(tail -5 "$o/err")"
    grep -q "^  cache-2 .* chosen .*(--with-cache $o/B.aot)" "$o/out" || fail "table: $(cat "$o/out")"
    "$HPACK" extract "$o/m" -o "$o/x" >/dev/null
    cmp "$o"/x/cache/*.aot "$o/B.aot" || fail "DA1 does not carry the chosen cache"
    # --pick first: no measuring, the same file as a build with the first alone
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --with-cache "$o/A.aot" --with-cache "$o/B.aot" \
        --pick first -o "$o/f" >"$o/fout" || fail "--pick first"
    [ ! -s "$o/fout" ] && [ ! -e "$o/f.tuned" ] || fail "--pick first measured"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --with-cache "$o/A.aot" -o "$o/one"
    cmp "$o/f" "$o/one" || fail "--pick first is not the first cache's DA1"
    expect_status 2 "--pick last: expected first or best" "$HPACK" build --with-cache "$o/A.aot" --pick last \
        --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/z"
}
