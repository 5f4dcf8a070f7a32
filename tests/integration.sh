#!/bin/bash
# Integration tests: pack the samples with this machine's JDKs, run the
# artifacts as a user would (env -i, another directory), break things on
# purpose. Prints "ok"/"FAIL" per test and "N passed, N failed" at the end.
#
#   bash tests/integration.sh [NAME-PATTERN]
set -u
. "$(dirname "$0")/lib.sh"

W=$(mktemp -d /tmp/hpack-it.XXXXXX)
[ -n "${HPACK_KEEP_TEST_DIR:-}" ] || trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
PASS=0 FAILED=0 FAILS=""
ONLY=${1:-}

# A failed assertion ends the test (each test runs in its own subshell).
fail() { echo "    $*" >&2; exit 1; }
# wait_for SECS WHAT CMD...: poll CMD until it succeeds; after SECS, fail
# saying what never happened (and the tail of $WAIT_LOG, if set). The bound
# is generous: CI machines are shared, and a test waits for the event it
# means, however long it takes to come.
wait_for() {
    local secs=$1 what=$2; shift 2
    local end=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $end ] || fail "waited ${secs}s for $what${WAIT_LOG:+: $(tail -5 "$WAIT_LOG" 2>/dev/null)}"
        sleep 0.05
    done
}
# no_process [--] PATTERN: no process's command line matches PATTERN.
no_process() { [ "$1" != -- ] || shift; ! pgrep -f -- "$1" >/dev/null; }
# http_up PORT: the server on PORT answers.
http_up() { curl -fs "http://127.0.0.1:$1/" >/dev/null; }
run_test() {
    local name=$1
    [ -n "$ONLY" ] && [[ $name != build_* && ! $name =~ $ONLY ]] && return 0
    local t0=$(date +%s.%N) rc=0
    # Not inside an `if`: errexit must stay in force within the test, so any
    # failing command (not only `fail`) fails it.
    ( set -e; "$name" ) >"$W/log.$name" 2>&1 || rc=$?
    local out; out=$(cat "$W/log.$name")
    if [ $rc = 0 ]; then
        PASS=$((PASS + 1)); printf 'ok   %-45s %5.1fs\n' "$name" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')"
        grep '^INFO: ' <<<"$out" | sed 's/^INFO: /     /' || true
    else
        FAILED=$((FAILED + 1)); FAILS="$FAILS $name"
        printf 'FAIL %s (status %s)\n' "$name" "$rc"; echo "$out" | tail -25 | sed 's/^/    | /'
    fi
}
# run ARTIFACT ARGS...: as on a host without Java: empty environment, a PATH
# without java, another working directory.
run_clean() {
    local a=$1; shift
    local keep=()
    [ -n "${HPACK_CACHE_DIR:-}" ] && keep+=("HPACK_CACHE_DIR=$HPACK_CACHE_DIR")
    [ -n "${HPACK_AOT:-}" ] && keep+=("HPACK_AOT=$HPACK_AOT")
    [ -n "${HPACK_JAVA_OPTS:-}" ] && keep+=("HPACK_JAVA_OPTS=$HPACK_JAVA_OPTS")
    (cd "$W/elsewhere" && env -i HOME="$W/home" PATH=/usr/bin:/bin JAVA_HOME=/nonexistent "${keep[@]}" "$a" "$@")
}
mkdir -p "$W/elsewhere" "$W/home" "$W/art"

# ---- shared artifacts, built once ----
need_jdks() {
    [ -n "$J25" ] || fail "JDK 25 (Temurin) not found under /usr/lib/jvm: these tests need it"
    [ -n "$J17" ] || fail "OpenJDK 17 not found under /usr/lib/jvm: these tests need it"
}
H25=$W/art/hello25 H17=$W/art/hello17
build_shared() {
    need_jdks
    local rt; rt=$(rt25)
    "$HPACK" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$H25"
    "$HPACK" build -q --runtime "$J17" --jar "$SAMPLES/hello.jar" -o "$H17" 2>/dev/null
    [ -x "$H25" ] && [ -x "$H17" ]
}

# ---- issue 2: foundation ----
t_hello_temurin25() {
    local out; out=$(HPACK_CACHE_DIR=$W/c25 run_clean "$H25" one "two words")
    grep -qx 'Hello from hpack!' <<<"$out" || fail "no greeting: $out"
    grep -qx 'arg\[two words\]' <<<"$out" || fail "argument lost: $out"
    HPACK_CACHE_DIR=$W/c25 run_clean "$H25" --exit 42 >/dev/null && fail "exit status 0, expected 42"
    local rc=0; HPACK_CACHE_DIR=$W/c25 run_clean "$H25" --exit 42 >/dev/null || rc=$?
    [ $rc = 42 ] || fail "exit status $rc, expected 42"
}
t_hello_openjdk17() {
    local out; out=$(HPACK_CACHE_DIR=$W/c17 run_clean "$H17" x)
    grep -qx 'Hello from hpack!' <<<"$out" || fail "no greeting: $out"
    grep -qx 'arg\[x\]' <<<"$out" || fail "argument lost"
    # Debian's absolute symlinks into /etc were materialised as files.
    local f=$W/c17/$("$HPACK" hash "$H17")/runtime/conf/security/java.security
    [ -f "$f" ] && [ ! -L "$f" ] || fail "conf/security/java.security not materialised"
}
t_exit_status_and_signals() {
    local rc
    for want in 0 1 42 255; do
        rc=0; HPACK_CACHE_DIR=$W/c25 run_clean "$H25" --exit $want >/dev/null || rc=$?
        [ $rc = $want ] || fail "exit status $rc, expected $want"
    done
    # death by signal is the caller's to see: the JVM is our process (exec)
    local rt; rt=$(rt25)
    "$HPACK" build -q --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server -o "$W/art/sig"
    for sig in TERM KILL; do
        local port; port=$(free_port)
        HPACK_CACHE_DIR=$W/c25 "$W/art/sig" "$port" >/dev/null & local pid=$!
        wait_for 120 "the server on port $port to answer" http_up "$port"
        # the pid we started IS the JVM: no launcher process in between
        grep -q java "/proc/$pid/cmdline" || fail "pid $pid is not the JVM"
        kill -$sig $pid; rc=0; wait $pid || rc=$?
        local want=$((128 + $(kill -l $sig)))
        [ $rc = $want ] || fail "SIG$sig: status $rc, expected $want"
    done
    # stdin reaches the app
    local out; out=$(echo "from stdin" | HPACK_CACHE_DIR=$W/c25 "$H25" --stdin)
    grep -qx 'stdin=from stdin' <<<"$out" || fail "stdin not passed: $out"
}
t_args_with_spaces_and_quotes() {
    local rt; rt=$(rt25)
    "$HPACK" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --arg "built in" --arg "it's \"quoted\"" -o "$W/art/args"
    local out; out=$(HPACK_CACHE_DIR=$W/c25 run_clean "$W/art/args" "a  b" '$HOME' "*" "" 'x"y')
    local want='arg[built in]
arg[it'"'"'s "quoted"]
arg[a  b]
arg[$HOME]
arg[*]
arg[]
arg[x"y]'
    [ "$(grep '^arg' <<<"$out")" = "$want" ] || fail "arguments differ: $out"
}
t_working_directory_and_host_java_ignored() {
    local out; out=$(HPACK_CACHE_DIR=$W/c25 run_clean "$H25" --cwd --prop java.home)
    grep -qx "cwd=$W/elsewhere" <<<"$out" || fail "cwd wrong: $out"
    grep -q "^java.home=$W/c25/" <<<"$out" || fail "not our runtime: $out"
}
t_options_order_and_help() {
    local rt; rt=$(rt25)
    # options and operands in any order, '--' ends options
    "$HPACK" build -o "$W/art/order" --jar "$SAMPLES/hello.jar" -q --runtime "$rt"
    "$HPACK" --help | grep -q build
    "$HPACK" build --help | grep -q -- --runtime
    "$HPACK" help build | grep -q -- --main-class
    "$HPACK" --version | grep -q '^hpack '
    local rc=0; "$HPACK" build --runtime "$rt" -o "$W/art/x" -- --jar 2>/dev/null || rc=$?
    [ $rc = 2 ] || fail "operand after -- accepted (status $rc)"
    rc=0; "$HPACK" frobnicate 2>/dev/null || rc=$?; [ $rc = 2 ] || fail "unknown command status $rc"
    # a usage error is one line naming the option, not the whole usage
    local err a
    for a in "--bogus=1|unknown or ambiguous option --bogus " "--tra|unknown or ambiguous option --tra " \
             "-x|unknown option -x " "--cp|--cp needs a value" "-o|-o needs a value" \
             "--train=1|--train takes no value" "--quiet=1|--quiet takes no value" "--heal -xq|unknown option -x " \
             "--train-arg x|--train-arg needs --train" "--keep-da0 $W/k|--keep-da0 needs --train" \
             "--lock $W/art/u|-o and --lock name the same file" \
             "--train --keep-da0 $W/k --lock $W/k|--keep-da0 and --lock name the same file"; do
        rc=0; err=$("$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/u" ${a%%|*} 2>&1 >/dev/null) || rc=$?
        [ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -qF -- "${a#*|}" <<<"$err" ||
            fail "${a%%|*}: status $rc, not one line with '${a#*|}': $err"
    done
}
t_cp_and_main_class() {
    local rt; rt=$(rt25)
    mkdir -p "$W/lib"; cp "$SAMPLES/hello.jar" "$SAMPLES/http.jar" "$W/lib/"
    "$HPACK" build -q --runtime "$rt" --cp "$W/lib/*" --main-class demo.Main --jvm-opt=-Dhpack.test=yes -o "$W/art/cp"
    local out; out=$(HPACK_CACHE_DIR=$W/c25 run_clean "$W/art/cp" --prop hpack.test --prop java.class.path)
    grep -qx 'hpack.test=yes' <<<"$out" || fail "jvm option lost: $out"
    grep -qx 'java.class.path=/proc/self/fd/250/app/hello.jar:/proc/self/fd/250/app/http.jar' <<<"$out" ||
        fail "class path: $out"
    # a jar listed twice (by another name too) is packed once, where it came first
    ln -sf "$W/lib/hello.jar" "$W/lib2.jar"
    "$HPACK" build -q --runtime "$rt" --cp "$W/lib/hello.jar:$W/lib/*:$W/lib2.jar" --main-class demo.Main -o "$W/art/cp2"
    cmp <("$HPACK" inspect "$W/art/cp" | awk '$1 == "classpath"') <("$HPACK" inspect "$W/art/cp2" | awk '$1 == "classpath"') ||
        fail "a jar listed twice was packed twice: $("$HPACK" inspect "$W/art/cp2" | grep ' app/')"
}
t_elf_tools_accept_artifact() {
    readelf -S -W "$H25" 2>&1 | grep -q ' \.hpack ' || fail "readelf does not list .hpack"
    readelf -S -W "$H25" 2>&1 | grep -qi 'warning' && fail "readelf warns"
    # (with one file name objcopy would rewrite the artifact itself: give it an output)
    objcopy --dump-section .hpack="$W/p.bin" "$H25" "$W/objcopy.out" || fail "objcopy refused the file"
    local size; size=$(stat -c %s "$W/p.bin")
    local json; json=$("$HPACK" inspect --json "$H25")
    [ "$size" = "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["payload"]["size"])' <<<"$json")" ] ||
        fail "dumped section size differs"
    cp "$H25" "$W/stripped"; strip "$W/stripped" || fail "strip refused the file"
    HPACK_CACHE_DIR=$W/c25 run_clean "$W/stripped" | grep -q 'Hello from hpack' || fail "stripped artifact broken"
}
t_reproducible_build() {
    local rt; rt=$(rt25)
    # two copies of the inputs, made in different orders, mtimes and umasks
    (umask 022; mkdir -p "$W/r1"; cp -r "$rt" "$W/r1/rt"; cp "$SAMPLES/hello.jar" "$W/r1/")
    (umask 077; mkdir -p "$W/r2/x/y"; cp "$SAMPLES/hello.jar" "$W/r2/x/y/"; cp -r "$rt" "$W/r2/x/y/rt"
     find "$W/r2" -exec touch -h -d '2001-02-03 04:05:06' {} +)
    (cd "$W/r1" && umask 022 && TZ=UTC LANG=C "$HPACK" build -q --runtime rt --jar hello.jar -o "$W/art/rep1")
    (cd "$W/r2/x" && umask 077 && TZ=Asia/Tokyo LANG=fr_FR.UTF-8 LC_ALL=fr_FR.UTF-8 \
        "$HPACK" build -q --runtime y/rt --jar y/hello.jar -o "$W/art/rep2")
    local a b; a=$(sha256sum <"$W/art/rep1"); b=$(sha256sum <"$W/art/rep2")
    [ "$a" = "$b" ] || fail "different artifacts: $a vs $b"
}
# The launcher (in every artifact) is the same bytes wherever hpack's
# sources are built: two copies at different paths, one launcher.
t_launcher_same_from_any_source_dir() {
    local d
    for d in "$W/srcA" "$W/srcB/deeper/path"; do
        mkdir -p "$d"
        cp -r "$ROOT/Makefile" "$ROOT/launcher" "$ROOT/layout" "$ROOT/packer" "$d/"
        mkdir -p "$d/tests" && cp "$ROOT/tests/setup-deps.sh" "$d/tests/"
        # the shipped launcher's flags, whatever this make check's (SANITIZE=1
        # reaches a sub-make through MAKEFLAGS)
        env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$d" SANITIZE= B=build build/hpack-launcher.stripped \
            >"$W/srcbuild.log" 2>&1 || fail "launcher build in $d: $(tail -5 "$W/srcbuild.log")"
    done
    cmp "$W/srcA/build/hpack-launcher.stripped" "$W/srcB/deeper/path/build/hpack-launcher.stripped" ||
        fail "the launcher's bytes depend on the source directory"
}
t_launcher_options() {
    local out; out=$("$H25" --hpack-info)
    grep -q "^base hash: $("$HPACK" hash "$H25")" <<<"$out" || fail "--hpack-info: no base hash"
    grep -q '^exec: .*bin/java .*-cp /proc/self/fd/250/app/hello.jar demo.Main' <<<"$out" || fail "--hpack-info: no exec line"
    grep -q ' app/hello.jar$' <<<"$out" || fail "--hpack-info: no table"
    "$H25" --hpack-extract "$W/ex" >/dev/null
    cmp "$W/ex/app/hello.jar" "$SAMPLES/hello.jar" || fail "--hpack-extract: jar differs"
    [ -x "$W/ex/runtime/bin/java" ] || fail "--hpack-extract: no java"
    local rc=0; "$H25" --hpack-extract "$W/ex" 2>/dev/null || rc=$?
    [ $rc = 125 ] || fail "--hpack-extract onto an existing dir: status $rc"
    out=$(HPACK_CACHE_DIR=$W/c25 HPACK_DEBUG=1 "$H25" 2>&1 >/dev/null)
    grep -q '^hpack: exec .*/runtime/bin/java' <<<"$out" || fail "HPACK_DEBUG: $out"
    out=$(HPACK_CACHE_DIR=$W/c25 HPACK_JAVA_OPTS="-Dfoo=bar -Dbaz=qux" "$H25" --prop foo --prop baz)
    grep -qx 'foo=bar' <<<"$out" && grep -qx 'baz=qux' <<<"$out" || fail "HPACK_JAVA_OPTS: $out"
    rc=0; "$H25" --hpack-frob 2>/dev/null || rc=$?
    [ $rc = 125 ] || fail "unknown --hpack- option: status $rc"
    HPACK_CACHE_DIR=$W/c25 "$H25" --hpack-verify | grep -q 'match the payload' || fail "--hpack-verify"
}
t_tampered_tree_is_reunpacked() {
    local d=$W/tamper; HPACK_CACHE_DIR=$d "$H25" >/dev/null
    local tree=$d/$("$HPACK" hash "$H25")
    cp "$SAMPLES/http.jar" "$tree/app/hello.jar"     # replaced jar: other size
    local out; out=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 "$H25" 2>&1)
    grep -q 'class path changed; unpacking again' <<<"$out" || fail "not detected: $out"
    cmp "$tree/app/hello.jar" "$SAMPLES/hello.jar" || fail "jar not restored"
    # same size, other content: --hpack-verify finds it
    printf 'X' | dd of="$tree/runtime/lib/server/libjvm.so" bs=1 seek=1000 conv=notrunc 2>/dev/null
    local rc=0; HPACK_CACHE_DIR=$d "$H25" --hpack-verify 2>"$W/err" >/dev/null || rc=$?
    [ $rc = 124 ] && grep -q 'libjvm.so' "$W/err" || fail "--hpack-verify: status $rc $(cat "$W/err")"
    # a link pointing elsewhere, a file or directory others may write: each
    # found, and the tree verifies once it is put back
    d=$W/tamper2; HPACK_CACHE_DIR=$d "$H25" >/dev/null
    tree=$d/${tree##*/}
    local l=$tree/runtime/legal/java.logging/LICENSE was
    was=$(readlink "$l") || fail "no link at $l"
    ln -sfn ../java.base/ASSEMBLY_EXCEPTION "$l"
    rc=0; HPACK_CACHE_DIR=$d "$H25" --hpack-verify 2>"$W/err" >/dev/null || rc=$?
    [ $rc = 124 ] && grep -q 'legal/java.logging/LICENSE: points elsewhere' "$W/err" ||
        fail "--hpack-verify, link retargeted: status $rc $(cat "$W/err")"
    ln -sfn "$was" "$l"
    chmod 664 "$tree/runtime/lib/modules"
    rc=0; HPACK_CACHE_DIR=$d "$H25" --hpack-verify 2>"$W/err" >/dev/null || rc=$?
    [ $rc = 124 ] && grep -q 'lib/modules: mode 0664, expected 0644' "$W/err" ||
        fail "--hpack-verify, file group-writable: status $rc $(cat "$W/err")"
    chmod 644 "$tree/runtime/lib/modules"; chmod 757 "$tree/runtime/lib"
    rc=0; HPACK_CACHE_DIR=$d "$H25" --hpack-verify 2>"$W/err" >/dev/null || rc=$?
    [ $rc = 124 ] && grep -q 'runtime/lib: mode 0757, expected 0755' "$W/err" ||
        fail "--hpack-verify, directory writable by others: status $rc $(cat "$W/err")"
    chmod 755 "$tree/runtime/lib"
    # tighter than its entries is fine (a tree copied under a umask, or made
    # read-only), not without its owner's execute
    chmod 440 "$tree/runtime/lib/modules"
    HPACK_CACHE_DIR=$d "$H25" --hpack-verify >/dev/null || fail "--hpack-verify of a 0440 file whose entry is 0644"
    chmod 644 "$tree/runtime/lib/modules"; chmod 644 "$tree/runtime/bin/java"
    rc=0; HPACK_CACHE_DIR=$d "$H25" --hpack-verify 2>"$W/err" >/dev/null || rc=$?
    [ $rc = 124 ] && grep -q 'bin/java: mode 0644, expected 0755' "$W/err" ||
        fail "--hpack-verify, java not executable: status $rc $(cat "$W/err")"
    chmod 755 "$tree/runtime/bin/java"
    HPACK_CACHE_DIR=$d "$H25" --hpack-verify >/dev/null || fail "--hpack-verify of the tree put back"
}

# ---- bad input: one clear line, a distinct status, nothing left behind ----
expect_status() { # STATUS PATTERN CMD...: the error is the last line of stderr
    local want=$1 pat=$2; shift 2
    local rc=0 err; err=$("$@" 2>&1 >/dev/null) || rc=$?
    [ "$rc" = "$want" ] || fail "status $rc, expected $want: $*: $err"
    local last; last=$(tail -n 1 <<<"$err")
    grep -q -- "$pat" <<<"$last" || fail "error line '$last' lacks '$pat'"
    [[ $last == hpack* ]] || fail "error line does not start with hpack: '$last'"
}
no_leftovers() { [ -z "$(ls -A "$1")" ] || fail "left behind in $1: $(ls -A "$1")"; }
t_bad_inputs() {
    local rt; rt=$(rt25); local o=$W/out; mkdir -p "$o" "$W/notrt"
    echo 'not a zip' >"$W/bad.jar"; echo x >"$W/notrt/release"
    expect_status 3 "no such directory" "$HPACK" build --runtime "$W/nope" --jar "$SAMPLES/hello.jar" -o "$o/a"
    expect_status 3 "not a Java runtime" "$HPACK" build --runtime "$W/notrt" --jar "$SAMPLES/hello.jar" -o "$o/a"
    expect_status 4 "does not exist" "$HPACK" build --runtime "$rt" --cp "$W/missing.jar" --main-class a.B -o "$o/a"
    expect_status 4 "not a jar" "$HPACK" build --runtime "$rt" --cp "$W/bad.jar" --main-class a.B -o "$o/a"
    expect_status 4 "is a directory" "$HPACK" build --runtime "$rt" --cp "$W" --main-class a.B -o "$o/a"
    expect_status 5 "no main class" "$HPACK" build --runtime "$rt" --cp "$SAMPLES/hello.jar" -o "$o/a"
    # a main class in none of the jars: built (the runtime may have it), said
    local w; w=$("$HPACK" build -q --runtime "$rt" --cp "$SAMPLES/hello.jar" --main-class demo.Nope -o "$o/nomain" 2>&1) ||
        fail "main class in no jar: $w"
    grep -q '^hpack: warning: main class demo.Nope is in none of the jars packed' <<<"$w" || fail "no warning: $w"
    w=$("$HPACK" build -q --runtime "$rt" --cp "$SAMPLES/hello.jar" --main-class demo.Main -o "$o/nomain" 2>&1) &&
        [ -z "$w" ] || fail "a main class that is there: $w"
    rm -f "$o/nomain"
    expect_status 6 "does not exist" "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/nodir/a"
    expect_status 2 "missing -o" "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar"
    no_leftovers "$o"
    # unreadable input and read-only output directory: as an unprivileged user
    mkdir -p "$W/ro"; chmod 555 "$W/ro"; cp "$SAMPLES/hello.jar" "$W/secret.jar"; chmod 000 "$W/secret.jar"
    chmod 755 "$W"; chmod 777 "$o"
    # inputs the unprivileged user can reach, wherever the checkout lives
    fake_runtime "$W/pubrt"; cp "$SAMPLES/hello.jar" "$W/pub.jar"; chmod -R a+rX "$W/pubrt" "$W/pub.jar"
    local as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    expect_status 4 "cannot read" "${as[@]}" "$HPACK" build --runtime "$W/pubrt" --cp "$W/secret.jar" --main-class a.B -o "$o/a"
    expect_status 6 "cannot write" "${as[@]}" "$HPACK" build --runtime "$W/pubrt" --jar "$W/pub.jar" -o "$W/ro/a"
    no_leftovers "$o"; no_leftovers "$W/ro"
    # an output that is an input (-o app.jar after --jar app.jar), by its
    # name, by another name (a hard link) or through a wildcard: refused,
    # the input intact
    mkdir -p "$W/oi/lib"; cp "$SAMPLES/hello.jar" "$W/oi/app.jar"; ln "$W/oi/app.jar" "$W/oi/same"
    cp "$SAMPLES/hello.jar" "$W/oi/lib/x.jar"; tar -C "$W" -czf "$W/oi/rt.tgz" pubrt
    expect_status 6 "app.jar: the output is an input ($W/oi/app.jar); give another name" \
        "$HPACK" build --runtime "$W/pubrt" --jar "$W/oi/app.jar" -o "$W/oi/app.jar"
    expect_status 6 "same: the output is an input" "$HPACK" build --runtime "$W/pubrt" --jar "$W/oi/app.jar" -o "$W/oi/same"
    expect_status 6 "x.jar: the output is an input" \
        "$HPACK" build --runtime "$W/pubrt" --cp "$W/oi/lib/*" --main-class demo.Main -o "$W/oi/lib/x.jar"
    expect_status 6 "rt.tgz: the output is an input ($W/oi/rt.tgz)" \
        "$HPACK" build --runtime "$W/oi/rt.tgz" --jar "$W/oi/app.jar" -o "$W/oi/rt.tgz"
    expect_status 6 "app.jar: the --keep-da0 file is an input" \
        "$HPACK" build --train --keep-da0 "$W/oi/app.jar" --runtime "$W/pubrt" --jar "$W/oi/app.jar" -o "$W/oi/da1"
    cmp "$W/oi/app.jar" "$SAMPLES/hello.jar" && cmp "$W/oi/lib/x.jar" "$SAMPLES/hello.jar" || fail "an input was changed"
    [ "$(ls -A "$W/oi")" = "$(printf 'app.jar\nlib\nrt.tgz\nsame')" ] || fail "left in $W/oi: $(ls -A "$W/oi")"
}
t_corrupt_artifact_refused() {
    local size; size=$(stat -c %s "$H25")
    # truncated: the section header table is gone
    head -c $((size / 2)) "$H25" >"$W/trunc"; chmod +x "$W/trunc"
    expect_status 121 "corrupt payload" env HPACK_CACHE_DIR="$W/cc" "$W/trunc"
    # one byte flipped in the middle of the payload (entry data): caught while unpacking
    cp "$H25" "$W/flip"
    local off; off=$("$HPACK" inspect --json "$H25" | python3 -c '
import json,sys; j=json.load(sys.stdin); e=[x for x in j["entries"] if x["path"]=="runtime/lib/modules"][0]
print(j["payload"]["offset"] + e["offset"] + e["stored_size"]//2)')
    printf '\x5a' | dd of="$W/flip" bs=1 seek="$off" conv=notrunc 2>/dev/null
    expect_status 121 "runtime/lib/modules" env HPACK_CACHE_DIR="$W/cc" "$W/flip"
    [ -z "$(ls "$W/cc" | grep -v '\.lock$')" ] || fail "partial tree left: $(ls "$W/cc")"
    # the footer
    cp "$H25" "$W/flipf"
    local fo; fo=$("$HPACK" inspect --json "$H25" | python3 -c '
import json,sys; j=json.load(sys.stdin); print(j["payload"]["offset"] + j["payload"]["size"] - 40)')
    printf '\x01' | dd of="$W/flipf" bs=1 seek="$fo" conv=notrunc 2>/dev/null
    expect_status 121 "corrupt payload" env HPACK_CACHE_DIR="$W/cc" "$W/flipf"
}
t_unwritable_cache_dir() {
    mkdir -p "$W/rocache"; chmod 755 "$W/rocache"; chmod 755 "$W"
    expect_status 122 "hpack" setpriv --reuid=65534 --regid=65534 --clear-groups env HPACK_CACHE_DIR="$W/rocache/x" "$H25"
    # a cache root writable by others is refused
    mkdir -p "$W/open"; chmod 777 "$W/open"
    expect_status 122 "writable by group or others" env HPACK_CACHE_DIR="$W/open" "$H25"
}

# ---- issue 3: training ----
H25T=$W/art/hello25.da1 H25T0=$W/art/hello25.da0 H17T=$W/art/hello17.da1
build_trained() {
    need_jdks
    local rt; rt=$(rt25)
    "$HPACK" build -q --train --runtime "$rt" --jar "$SAMPLES/hello.jar" --keep-da0 "$H25T0" -o "$H25T" >/dev/null
    "$HPACK" build -q --train --runtime "$J17" --jar "$SAMPLES/hello.jar" -o "$H17T" >/dev/null 2>&1
}
cache_used() { # ARTIFACT CACHEDIR: runs with the cache required and class-load logging
    local out
    out=$(HPACK_CACHE_DIR=$2 HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load run_clean "$1") ||
        fail "$1 with HPACK_AOT=require failed: $(tail -3 <<<"$out")"
    grep -q 'demo.Main source: shared objects file' <<<"$out" || fail "main class not from the cache"
}
t_train_temurin25() {
    cache_used "$H25T" "$W/t25"
    "$HPACK" inspect "$H25T" | grep -q 'bound to this payload' || fail "inspect: cache not bound"
    "$H25T" --hpack-info | grep -q '^startup cache: cache/.*\.aot (aot, .*bound to base' || fail "--hpack-info"
}
t_train_openjdk17() {
    cache_used "$H17T" "$W/t17"
}
t_train_relocation() {
    # trained under /tmp/hpack-train.*, run under two other, deeper roots
    cache_used "$H25T" "$W/home/other user/.cache/deep/er/hpack"
    cache_used "$H17T" "$W/home/other user/.cache/deep/er/hpack"
    cache_used "$H17T" "$W/x"
}
# A jar on the module path named with ${HPACK_APP} (JRuby's launcher puts
# its own jar there): a JDK 25 AOT cache is refused when the module path
# differs from the training run's, and DA0's tree, DA1's and other hosts'
# lie in other directories; the exec line names it through the descriptor.
t_module_path_cache_relocates() {
    need_jdks
    local rt; rt=$(rt25); local d=$W/modp o=$W/modp/out root out
    mkdir -p "$d/src/greet/g" "$d/src/main/demo" "$d/dist/mods" "$d/dist/lib" "$o"
    printf 'module greet { exports g; }\n' >"$d/src/greet/module-info.java"
    printf 'package g;\npublic class G { public static String who() { return "in module " + G.class.getModule().getName(); } }\n' \
        >"$d/src/greet/g/G.java"
    "$J25/bin/javac" -d "$d/greet.classes" "$d/src/greet/module-info.java" "$d/src/greet/g/G.java"
    "$J25/bin/jar" --create --file "$d/dist/mods/greet.jar" -C "$d/greet.classes" .
    printf 'package demo;\npublic class Main { public static void main(String[] a) { System.out.println(g.G.who()); } }\n' \
        >"$d/src/main/demo/Main.java"
    "$J25/bin/javac" --module-path "$d/dist/mods" --add-modules greet -d "$d/main.classes" "$d/src/main/demo/Main.java"
    "$J25/bin/jar" --create --file "$d/dist/lib/main.jar" -C "$d/main.classes" .
    out=$("$HPACK" build -q --train --runtime "$rt" --app-dist "$d/dist" --cp lib/main.jar --main-class demo.Main \
        --jvm-opt='--module-path=${HPACK_APP}/mods/greet.jar' --jvm-opt=--add-modules=greet -o "$o/a" 2>&1) || fail "build: $out"
    "$HPACK" inspect "$o/a" | grep -q -- ' --module-path=/proc/self/fd/250/app/mods/greet.jar ' ||
        fail "exec line: $("$HPACK" inspect "$o/a" | grep '^exec')"
    for root in "$W/modp/c1" "$W/home/other user/.cache/modp"; do
        out=$(HPACK_CACHE_DIR=$root HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load run_clean "$o/a") ||
            fail "under $root with HPACK_AOT=require: $(tail -3 <<<"$out")"
        grep -qx 'in module greet' <<<"$out" || fail "output: $(tail -3 <<<"$out")"
        grep -q 'demo.Main source: shared objects file' <<<"$out" || fail "main class not from the cache under $root"
    done
}

t_da0_da1_share_bytes() {
    [ "$("$HPACK" hash "$H25T0")" = "$("$HPACK" hash "$H25T")" ] || fail "base hashes differ"
    objcopy --dump-section .hpack="$W/p0" "$H25T0" "$W/objcopy.out"
    objcopy --dump-section .hpack="$W/p1" "$H25T" "$W/objcopy.out"
    local end; end=$("$HPACK" inspect --json "$H25T0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload"]["data_end"])')
    cmp -n "$end" "$W/p0" "$W/p1" || fail "DA0's entry bytes differ in DA1"
    # (what hpack diff says of them: t_da0_da1_diff_is_the_cache)
    # the launcher's bytes and its section header table (before the payload,
    # docs/format.md section 1) are the same too, but for the .hpack
    # header's sh_size: DA1's payload is longer
    local off; off=$("$HPACK" inspect --json "$H25T0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["payload"]["offset"])')
    local at; at=$(python3 - "$H25T0" <<'EOS'
import struct, sys
d = open(sys.argv[1], "rb").read()
shoff, = struct.unpack_from("<Q", d, 40)
shnum, shstrndx = struct.unpack_from("<HH", d, 60)
sec = lambda i: struct.unpack_from("<IIQQQQIIQQ", d, shoff + 64 * i)
strtab = sec(shstrndx)
name = lambda i: d[strtab[4] + sec(i)[0]:].split(b"\0")[0]
print(next(shoff + 64 * i + 32 for i in range(1, shnum) if name(i) == b".hpack"))
EOS
)
    [ "$at" -lt "$off" ] || fail "the section header table is not before the payload"
    cmp -n "$at" "$H25T0" "$H25T" || fail "bytes before the .hpack section size differ"
    cmp -i $((at + 8)) -n $((off + end - at - 8)) "$H25T0" "$H25T" || fail "file bytes before the cache differ"
}
t_train_http_server() {
    local rt; rt=$(rt25); local port; port=$(free_port)
    "$HPACK" build -q --train --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server --arg "$port" \
        --train-ready "tcp:$port" --train-workload 'for i in 1 2 3 4 5; do curl -fsS "http://127.0.0.1:$HPACK_TRAIN_PORT/" >/dev/null; done' \
        -o "$W/art/http.da1" >/dev/null 2>"$W/http.err" || fail "build: $(cat "$W/http.err")"
    HPACK_CACHE_DIR=$W/th HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load "$W/art/http.da1" >"$W/http.out" 2>&1 &
    local pid=$!
    WAIT_LOG=$W/http.out wait_for 120 "the trained server on port $port to answer" http_up "$port"
    local body; body=$(curl -fs "http://127.0.0.1:$port/")
    kill $pid; wait $pid || true
    [ "$body" = "hello from hpack http" ] || fail "no answer: $(tail -3 "$W/http.out")"
    grep -q 'demo.http.Server source: shared objects file' "$W/http.out" || fail "server class not from cache"
}
t_stale_cache_refused() {
    local rt; rt=$(rt25)
    # v2 of the app: same code, another jar (an extra file)
    mkdir -p "$W/v2"; cp "$SAMPLES/hello.jar" "$W/v2/hello.jar"
    (cd "$W/v2" && echo v2 >VERSION && "$J25/bin/jar" --update --file hello.jar VERSION)
    # record a cache for v1 with HPACK_TRAIN, then offer it to a v2 build
    HPACK_CACHE_DIR=$W/st HPACK_TRAIN=$W/v1.aot "$H25T0" >/dev/null 2>&1
    [ -s "$W/v1.aot" ] && [ -s "$W/v1.aot.prov" ] || fail "HPACK_TRAIN wrote no cache"
    "$HPACK" build -q --with-cache "$W/v1.aot" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/v1" ||
        fail "--with-cache refused the matching cache"
    cache_used "$W/art/v1" "$W/st"
    expect_status 7 "recorded for other inputs" "$HPACK" build --with-cache "$W/v1.aot" --runtime "$rt" --jar "$W/v2/hello.jar" -o "$W/art/v2"
    [ ! -e "$W/art/v2" ] || fail "output written"
    # force such an artifact (test hook) and show the launcher refuses its cache
    HPACK_TEST_UNBOUND_CACHE=1 "$HPACK_T" build -q --with-cache "$W/v1.aot" --runtime "$rt" --jar "$W/v2/hello.jar" -o "$W/art/v2" 2>/dev/null
    expect_status 124 "startup cache is refused" env HPACK_CACHE_DIR="$W/st" HPACK_AOT=require "$W/art/v2"
    local out; out=$(HPACK_CACHE_DIR=$W/st HPACK_JAVA_OPTS=-Xlog:class+load "$W/art/v2" 2>&1) || fail "auto mode should run"
    grep -q 'warning: startup cache not used' <<<"$out" || fail "no warning"
    grep -q 'demo.Main source: shared objects file' <<<"$out" && fail "stale cache used"
    return 0
}
# HPACK_TRAIN=PATH on a run whose standard output is data: the output is
# the app's alone, the VM's lines about the cache (record and create mode's,
# the unified log's warnings) go to stderr; JDK 25 (AOT) and 17 (CDS, with
# a signed jar, whose classes the dynamic archive skips with a warning).
t_hpack_train_keeps_stdout() {
    local a want got n s=$W/tso.signed
    mkdir -p "$s"; cp "$SAMPLES/hello.jar" "$s/hello.jar"
    "$J17/bin/keytool" -genkeypair -keystore "$s/ks" -storepass secret1 -keypass secret1 -alias a -dname CN=hpack \
        -keyalg EC -validity 2 >/dev/null 2>&1 || fail "keytool"
    "$J17/bin/jarsigner" -keystore "$s/ks" -storepass secret1 "$s/hello.jar" a >/dev/null 2>&1 || fail "jarsigner"
    "$HPACK" build -q --runtime "$J17" --jar "$s/hello.jar" -o "$s/hello17s" 2>/dev/null || fail "build (signed jar)"
    for a in "$H25" "$s/hello17s"; do
        n=$(basename "$a")
        want=$(HPACK_CACHE_DIR=$W/tso "$a" 'x y' 2>/dev/null) || fail "$n: plain run"
        got=$(HPACK_CACHE_DIR=$W/tso HPACK_TRAIN=$W/tso.$n.cache "$a" 'x y' 2>"$W/tso.$n.err") ||
            fail "$n: training run: $(cat "$W/tso.$n.err")"
        [ "$got" = "$want" ] || fail "$n: stdout of the training run differs: $(diff <(echo "$want") <(echo "$got"))"
        [ -s "$W/tso.$n.cache" ] && [ -s "$W/tso.$n.cache.prov" ] || fail "$n: no cache recorded"
    done
    grep -q 'AOTCache creation is complete' "$W/tso.hello25.err" || fail "JDK 25: the VM's lines are not on stderr"
    grep -q 'warning.*cds.*Skipping demo/Main: Signed JAR' "$W/tso.hello17s.err" ||
        fail "JDK 17: the dynamic archive's warnings are not on stderr: $(cat "$W/tso.hello17s.err")"
}
t_with_cache_reproduces_da1() {
    local rt; rt=$(rt25)
    HPACK_CACHE_DIR=$W/wc HPACK_TRAIN=$W/c.aot "$H25T0" >/dev/null 2>&1
    "$HPACK" build -q --with-cache "$W/c.aot" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/wc1"
    "$HPACK" build -q --with-cache "$W/c.aot" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/wc2"
    cmp "$W/art/wc1" "$W/art/wc2" || fail "two --with-cache builds differ"
    # the release workflow: take the cache out of a shipped DA1, rebuild it
    "$HPACK" extract "$H25T" -o "$W/shipped"
    local c; c=$(ls "$W"/shipped/cache/*.aot)
    "$HPACK" build -q --with-cache "$c" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/rebuilt"
    cmp "$W/art/rebuilt" "$H25T" || fail "DA1 not reproduced from its own cache"
    [ "$("$HPACK" hash --full "$W/art/rebuilt")" = "$("$HPACK" hash --full "$H25T")" ] || fail "full hash"
}
t_input_changed_during_training() {
    local rt; rt=$(rt25); local port; port=$(free_port)
    cp "$SAMPLES/http.jar" "$W/changing.jar"
    expect_status 8 "changed during the build" "$HPACK" build --train --runtime "$rt" --cp "$W/changing.jar" \
        --main-class demo.http.Server --arg "$port" --train-ready "tcp:$port" \
        --train-workload "printf x >>'$W/changing.jar'" -o "$W/art/changed"
    [ ! -e "$W/art/changed" ] || fail "output written"
}
t_failing_training() {
    local rt; rt=$(rt25); local o=$W/tf; mkdir -p "$o"
    # -q: only the error, after the tail of the app's output; the log is kept
    local rc=0 err; err=$("$HPACK" build -q --train --train-arg --exit --train-arg 3 --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/a" 2>&1 >/dev/null) || rc=$?
    [ $rc = 7 ] || fail "status $rc, expected 7: $err"
    [ "$(tail -n 1 <<<"$err")" = "hpack: the training run failed: the app exited with status 3; its output is in $o/a.train.log" ] ||
        fail "error line: $err"
    [ "$(head -n 1 <<<"$err")" = "hpack: the training run's last output:" ] || fail "no tail before the error: $err"
    grep -qx '    Hello from hpack!' <<<"$err" && grep -qx '    arg\[3\]' <<<"$err" || fail "the app's output not in the error: $err"
    [ "$(grep -c '^hpack' <<<"$err")" = 2 ] || fail "-q printed more than the error: $err"
    grep -qx 'Hello from hpack!' "$o/a.train.log" || fail "log lacks the app's output"
    local port; port=$(free_port)
    expect_status 7 "timed out" "$HPACK" build --train --train-timeout 4 --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server --arg "$port" -o "$o/b"
    expect_status 7 "never became ready" "$HPACK" build --train --train-timeout 6 --train-ready "tcp:$(free_port)" --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server --arg "$port" -o "$o/c"
    # Ready on its line (not an HTTP probe, which the server answers just
    # before it prints it): the workload fails at once, and the log must hold it.
    expect_status 7 "workload failed" "$HPACK" build --train --train-ready "log:^listening on $port" --train-workload 'exit 9' --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server --arg "$port" -o "$o/d"
    # each failure kept the server's output as OUT.train.log, and nothing else
    for x in b c d; do grep -q "^listening on $port" "$o/$x.train.log" || fail "$x.train.log lacks the server's output"; done
    rm "$o"/*.train.log
    no_leftovers "$o"
    # no stray JVM left from the killed trainings
    # (each build has reaped its JVM before it exits: no wait needed)
    no_process "demo.http.Server $port" || fail "training JVM left running"
}

# An app whose normal run exits with a status of its own (checkstyle exits
# 20 when it finds problems; packing it, a good cache was thrown away):
# --train-exit N takes that status as the training's success, and only it.
t_train_exit_status() {
    local rt; rt=$(rt25); local o=$W/tex; mkdir -p "$o"
    "$HPACK" build -q --train --train-arg --exit --train-arg 20 --train-exit 20 --runtime "$rt" --jar "$SAMPLES/hello.jar" \
        -o "$o/a" || fail "--train-exit 20: the training of a run that exits 20 failed"
    local out rc=0; out=$(HPACK_CACHE_DIR=$o/c HPACK_DEBUG=1 "$o/a" --exit 20 2>&1) || rc=$?
    [ $rc = 20 ] && grep -q 'Hello from hpack!' <<<"$out" || fail "DA1: status $rc: $out"
    grep -q "startup cache .* applies" <<<"$out" || fail "DA1 does not use its cache: $out"
    # The measured runs of --train-runs (startup tuning) take the same status as the run's success.
    "$HPACK" build -q --train --train-runs 2 --tune-rounds 1 --train-arg --exit --train-arg 20 --train-exit 20 \
        --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/r" || fail "--train-runs 2 --train-exit 20 failed"
    expect_status 7 "the training run failed: the app exited with status 0, not the --train-exit status" \
        "$HPACK" build --train --train-exit 20 --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/b"
    expect_status 2 "--train-exit x: expected an exit status, 0 to 255" \
        "$HPACK" build --train --train-exit x --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/b"
    [ ! -e "$o/b" ] || fail "a failed build left its output"
}

# DA1 is kept only if it runs its training run to the same end as DA0 did:
# a run the cache changes (here: one that cannot be repeated, as JRuby on
# --module-path under JDK 25 fails every run with its cache) fails the build.
t_train_check_run() {
    local rt; rt=$(rt25); local o=$W/tcheck; mkdir -p "$o"
    local cmd=("$HPACK" build --train --train-dir "$o" --train-arg --mark --train-arg "$o/marker" --runtime "$rt"
               --jar "$SAMPLES/hello.jar" -o "$o/a")
    expect_status 7 "DA1's check run failed: the app exited with status 3 (.*--train-check start.*); its output is in $o/a.check.log" "${cmd[@]}"
    [ ! -e "$o/a" ] || fail "a DA1 that failed its check run was kept"
    ! ls "$o" | grep -q 'hpack-da1' || fail "a temporary DA1 was left: $(ls "$o")"
    grep -q "marker exists: ran here before" "$o/a.check.log" || fail "the check run's log lacks the app's output"
    grep -q "\[class,load\] demo.Main source: shared objects file" "$o/a.check.log" ||
        fail "the check run did not run DA1 with its cache: $(grep demo.Main "$o/a.check.log")"
    rm -f "$o/marker"
    "${cmd[@]}" -q --train-check start || fail "--train-check start: the build failed"
    local out; out=$(HPACK_CACHE_DIR=$o/c HPACK_DEBUG=1 "$o/a" 2>&1) || fail "DA1: $out"
    grep -q "startup cache .* applies" <<<"$out" || fail "DA1 does not use its cache: $out"
    [ ! -e "$o/a.check.log" ] || fail "the failed check's log outlived the DA1 that replaced it"
    expect_status 2 "--train-check all: expected full or start" "${cmd[@]}" --train-check all
    expect_status 2 "--train-check needs --train" "$HPACK" build --train-check start --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$o/b"
}
# The check run logs class loading for its proof; a --train-ready log:REGEX
# is matched against the app's own lines only (here 'Server' would match
# the main class's loading, a second before the server listens), however
# the JVM pads its log fields (after a debug line: "[info ][class,load   ]").
t_train_check_ready_log() {
    local rt; rt=$(rt25); local port; port=$(free_port)
    "$HPACK" build -q --train --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server --arg "$port" --arg 1000 \
        --jvm-opt='-Xlog:gc*=debug' \
        --train-ready 'log:(Server|listening)' --train-workload "curl -fsS http://127.0.0.1:$port/ >/dev/null" \
        -o "$W/art/http-log.da1" 2>"$W/http-log.err" || fail "build: $(cat "$W/http-log.err")"
}

. "$ROOT/tests/reliability.sh"
. "$ROOT/tests/security.sh"
. "$ROOT/tests/repro.sh"
. "$ROOT/tests/tooling.sh"
. "$ROOT/tests/apps.sh"
. "$ROOT/tests/closure.sh"
. "$ROOT/tests/training_ux.sh"
. "$ROOT/tests/image.sh"
. "$ROOT/tests/anyhost.sh"
. "$ROOT/tests/heal.sh"
. "$ROOT/tests/tune.sh"

cd "$ROOT"
echo "hpack integration tests (JDK 25: ${J25:-MISSING}; JDK 17: ${J17:-MISSING})"
run_test build_shared
for t in $(declare -F | awk '{print $3}' | grep '^t_' | grep -v '^t_train\|^t_da0\|^t_stale\|^t_with_cache\|^t_input_changed\|^t_failing\|^t_inspect_json\|^t_verify_names\|^t_extract_corrupt\|^t_stale_cache_temp\|^t_image_\|^t_store_\|^t_anyhost_'); do run_test "$t"; done
run_test build_trained
for t in t_train_temurin25 t_train_openjdk17 t_train_relocation t_da0_da1_share_bytes t_da0_da1_diff_is_the_cache t_train_http_server \
         t_train_exit_status t_train_check_run t_train_check_ready_log t_inspect_json_and_hash t_verify_names_the_entry t_extract_corrupt_cache_leaves_nothing t_stale_cache_temporaries t_stale_cache_refused t_with_cache_reproduces_da1 t_input_changed_during_training t_failing_training \
         t_image_reproducible t_image_skopeo_umoci_read_only_run t_image_podman t_image_on_a_base t_image_errors \
         t_image_host_paths_from_elf_headers t_image_fonts \
         t_store_install_trust_uninstall; do
    run_test "$t"
done
run_test build_anyhost
run_test build_anyhost_variants
for t in $(declare -F | awk '{print $3}' | grep '^t_anyhost_'); do run_test "$t"; done
echo "$PASS passed, $FAILED failed"
[ "$FAILED" = 0 ] || { echo "failed:$FAILS"; exit 1; }
