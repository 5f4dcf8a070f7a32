# jlink-style builds and build comforts (sourced by integration.sh).

t_jdk_jlink_and_build_cache() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    local c=$W/jlc
    local out; out=$(HPACK_JLINK_CACHE=$c "$HPACK" build --jdk "$J25" --cp "$SAMPLES/http.jar" --main-class demo.http.Server -o "$W/art/jl1" 2>&1)
    grep -q 'modules: java.base,jdk.httpserver,jdk.zipfs$' <<<"$out" || fail "jdeps modules: $out"
    grep -q 'jlink: done' <<<"$out" || fail "jlink did not run: $out"
    "$HPACK" inspect --json "$W/art/jl1" | grep -q '"runtime_version"' || fail "inspect"
    local json; json=$("$HPACK" inspect --json "$W/art/jl1")
    [ "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["modules"])' "$json")" = java.base,jdk.httpserver,jdk.zipfs ] ||
        fail "modules not recorded in the artifact"
    local t0; t0=$(date +%s.%N)
    out=$(HPACK_JLINK_CACHE=$c "$HPACK" build --jdk "$J25" --cp "$SAMPLES/http.jar" --main-class demo.http.Server -o "$W/art/jl2" 2>&1)
    echo "INFO: rebuild with a warm jlink cache: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f s", b-a}')"
    grep -q 'jlink: reusing' <<<"$out" || fail "jlink cache not used: $out"
    cmp "$W/art/jl1" "$W/art/jl2" || fail "rebuild differs"
    # --add-modules adds to what jdeps found
    out=$(HPACK_JLINK_CACHE=$c "$HPACK" build --jdk "$J25" --add-modules java.sql --jar "$SAMPLES/hello.jar" -o "$W/art/jl3" 2>&1)
    grep -q 'modules: java.base,java.logging,java.sql,jdk.zipfs$' <<<"$out" || fail "--add-modules: $out"
    HPACK_CACHE_DIR=$W/jlr run_clean "$W/art/jl3" | grep -q 'Hello from hpack' || fail "jlinked artifact does not run"
    # default JDK: $JAVA_HOME, said so
    out=$(JAVA_HOME=$J25 HPACK_JLINK_CACHE=$c "$HPACK" build --jar "$SAMPLES/hello.jar" -o "$W/art/jl4" 2>&1)
    grep -q "using the JDK in \$JAVA_HOME: $J25" <<<"$out" || fail "default JDK: $out"
    out=$(env -u JAVA_HOME HPACK_JLINK_CACHE=$c "$HPACK" build --jar "$SAMPLES/hello.jar" -o "$W/art/jl5" 2>&1)
    grep -q "using the newest JDK in /usr/lib/jvm" <<<"$out" || fail "default JDK without JAVA_HOME: $out"
}
# jlink's output is the same from one run to the next (JDK 19 on): two
# builds, each with its own empty jlink cache, give the same artifact. On
# JDK 17 the default CDS archive differs every run (JDK-8253495), which
# the build says when it links. The two builds run under other locales and
# a JAVA_TOOL_OPTIONS: hpack runs jdeps and jlink under LC_ALL=C.UTF-8 and
# without the JVM option variables (an archive dumped under C differs).
t_jlink_fresh_caches_same_artifact() {
    need_jdks
    local out i loc
    for i in 1 2; do
        loc=LANG=C.UTF-8; [ $i = 1 ] || loc=LC_ALL=C
        out=$(env -u LANG -u LC_ALL "$loc" JAVA_TOOL_OPTIONS=-Duser.language=fr HPACK_JLINK_CACHE=$W/jlf$i \
            "$HPACK" build --jdk "$J25" --jar "$SAMPLES/hello.jar" -o "$W/art/jlf$i" 2>&1) || fail "build $i: $out"
        grep -q 'jlink: done' <<<"$out" || fail "jlink did not run: $out"
        ! grep -q 'different default CDS archive' <<<"$out" || fail "JDK 25 said its CDS archive differs: $out"
    done
    cmp "$W/art/jlf1" "$W/art/jlf2" || fail "two fresh jlink caches gave different artifacts: $("$HPACK" diff "$W/art/jlf1" "$W/art/jlf2" 2>&1 | head -5)"
    out=$(HPACK_JLINK_CACHE=$W/jlf17 "$HPACK" build --jdk "$J17" --jar "$SAMPLES/hello.jar" -o "$W/art/jlf17" 2>&1) ||
        fail "JDK 17 build: $out"
    grep -q "jlink: JDK 17 writes a different default CDS archive .*--runtime $W/jlf17/" <<<"$out" || fail "JDK 17: no word of it: $out"
    rm -rf "$W/jlf1" "$W/jlf2" "$W/jlf17"
}
# A linked runtime's lib/modules is deflated resource by resource (jlink
# --compress=zip-6 from JDK 21, =2 before): it halves, and a first start
# writes a quarter fewer bytes (docs/results.md). A --jlink-opt=--compress=... comes after the
# default and wins. On JDK 17 the dynamic archive trains on such an image.
t_jdk_modules_deflated() {
    need_jdks
    local o=$W/jlz out mod; mkdir -p "$o"
    mod() { rm -rf "$o/x"; "$1" --hpack-extract "$o/x" >/dev/null || fail "$1: --hpack-extract"; stat -c %s "$o/x/runtime/lib/modules"; }
    out=$(HPACK_JLINK_CACHE=$o/c "$HPACK" build --jdk "$J25" --jar "$SAMPLES/hello.jar" -o "$o/d25" 2>&1) || fail "default build: $out"
    grep -q 'jlink: done' <<<"$out" && ! grep -q 'jlink: Warning' <<<"$out" || fail "the default options made jlink warn: $out"
    HPACK_JLINK_CACHE=$o/c "$HPACK" build -q --jdk "$J25" --jar "$SAMPLES/hello.jar" --jlink-opt=--compress=zip-0 -o "$o/z25" ||
        fail "--jlink-opt=--compress=zip-0 build"
    # jlink's own warnings are said (a deprecated value of the user's)
    out=$(HPACK_JLINK_CACHE=$o/c "$HPACK" build --jdk "$J25" --jar "$SAMPLES/hello.jar" --jlink-opt=--compress=2 -o "$o/c25" 2>&1) ||
        fail "--jlink-opt=--compress=2: $out"
    grep -q '^hpack: warning: jlink: Warning: The 2 argument for --compress is deprecated' <<<"$out" ||
        fail "jlink's warning not said: $out"
    local d z; d=$(mod "$o/d25"); z=$(mod "$o/z25")
    echo "INFO: JDK 25 lib/modules $d bytes deflated, $z with --compress=zip-0"
    [ $((d * 10)) -lt $((z * 6)) ] || fail "JDK 25: lib/modules $d bytes by default, $z with zip-0: not deflated"
    # which options made the runtime is said (the two differ only by them)
    "$HPACK" inspect "$o/d25" | grep -qx 'jlink options:  --strip-debug --no-header-files --no-man-pages --generate-cds-archive --compress=zip-6' ||
        fail "inspect: $("$HPACK" inspect "$o/d25" | grep jlink)"
    [ "$("$HPACK" inspect --json "$o/z25" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jlink_options"][-2:])')" = \
      "['--compress=zip-6', '--compress=zip-0']" ] || fail "inspect --json: no jlink_options"
    for a in d25 z25; do
        HPACK_CACHE_DIR=$o/r run_clean "$o/$a" | grep -q 'Hello from hpack' || fail "$a does not run"
    done
    out=$(HPACK_JLINK_CACHE=$o/c "$HPACK" build --jdk "$J17" --jar "$SAMPLES/hello.jar" --train -o "$o/d17" 2>&1) ||
        fail "JDK 17 --train: $out"
    HPACK_JLINK_CACHE=$o/c "$HPACK" build -q --jdk "$J17" --jar "$SAMPLES/hello.jar" --jlink-opt=--compress=0 -o "$o/z17" ||
        fail "JDK 17 --jlink-opt=--compress=0 build"
    d=$(mod "$o/d17"); z=$(mod "$o/z17")
    echo "INFO: JDK 17 lib/modules $d bytes deflated, $z with --compress=0"
    [ $((d * 10)) -lt $((z * 7)) ] || fail "JDK 17: lib/modules $d bytes by default, $z with --compress=0: not deflated"
    out=$(HPACK_CACHE_DIR=$o/r HPACK_DEBUG=1 "$o/d17" 2>&1) || fail "JDK 17 DA1: $out"
    grep -q 'Hello from hpack' <<<"$out" && grep -q "startup cache .* applies" <<<"$out" || fail "JDK 17 DA1 without its cache: $out"
    rm -rf "$o"
}
t_jdk_provider_modules() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    [ -n "$J17" ] || fail "OpenJDK 17 not found under /usr/lib/jvm: this test needs it (and its jmods)"
    # The providers sample uses six services whose providers no class names:
    # jdeps finds java.base, java.compiler, java.management and java.naming. What the
    # JDK itself gives it is the reference.
    local p=$SAMPLES/providers.jar want; want=$(printf 'ec: ok\nzipfs: ok\ndns: ok\ncompiler: ok\nmanagement: ok\ncharset: ok')
    [ "$("$J17/bin/java" -jar "$p")" = "$want" ] || fail "premise: the sample fails on the JDK itself"
    local out got
    out=$(HPACK_JLINK_CACHE=$W/jlc-pm "$HPACK" build --jdk "$J17" --jar "$p" -o "$W/art/pm17" 2>&1) || fail "build: $out"
    grep -q '^hpack: modules: java.base,java.compiler,java.management,java.naming,jdk.crypto.ec,jdk.management,jdk.naming.dns,jdk.zipfs$' <<<"$out" ||
        fail "JDK 17 modules: $out"
    grep -q '^hpack: modules: jdk.crypto.ec (elliptic-curve keys, .*), jdk.zipfs (.*), jdk.naming.dns (.*), jdk.management (.*) added: service providers' <<<"$out" ||
        fail "the additions are not said: $out"
    # the large providers are said, not linked: the system compiler here
    grep -q '^hpack: modules: jdk.compiler not linked (15 MB on Java 17, 19 MB on 25: ToolProvider.getSystemJavaCompiler() returns null without it); --add-modules jdk.compiler links it$' <<<"$out" ||
        fail "jdk.compiler not said: $out"
    grep -q '^hpack: modules: jdk.localedata not linked' <<<"$out" || fail "locale data not said: $out"
    grep -q '^hpack: modules: jdk.charsets not linked (1.1 MB: about 110 more charsets, ISO-2022-JP .*); --add-modules jdk.charsets links it$' \
        <<<"$out" || fail "charsets not said: $out"
    got=$(HPACK_CACHE_DIR=$W/pm run_clean "$W/art/pm17") || fail "JDK 17 artifact failed: $got"
    [ "$got" = "$(printf 'ec: ok\nzipfs: ok\ndns: ok\ncompiler: none\nmanagement: ok\ncharset: %s' \
        'java.nio.charset.UnsupportedCharsetException: ISO-2022-JP')" ] || fail "JDK 17 artifact: $got"
    # JDK 22 and later have the EC provider in java.base; --add-modules links what is said
    out=$(HPACK_JLINK_CACHE=$W/jlc-pm "$HPACK" build --jdk "$J25" --add-modules jdk.compiler,jdk.charsets --jar "$p" \
        -o "$W/art/pm25" 2>&1) || fail "build: $out"
    # (jdk.compiler requires jdk.zipfs: linked, not added)
    grep -q '^hpack: modules: java.base,java.compiler,java.management,java.naming,jdk.charsets,jdk.compiler,jdk.management,jdk.naming.dns$' <<<"$out" ||
        fail "JDK 25 modules: $out"
    ! grep -q 'jdk.compiler not linked\|jdk.charsets not linked' <<<"$out" || fail "a module said, and linked: $out"
    got=$(HPACK_CACHE_DIR=$W/pm run_clean "$W/art/pm25") || fail "JDK 25 artifact failed: $got"
    [ "$got" = "$want" ] || fail "JDK 25 artifact: $got"
    # jdeps lists no module another listed one requires: java.sql.rowset
    # brings java.naming, which the DNS provider goes with
    out=$(HPACK_JLINK_CACHE=$W/jlc-pm "$HPACK" build --jdk "$J25" --add-modules java.sql.rowset --jar "$SAMPLES/hello.jar" \
        -o "$W/art/pmrs" 2>&1) || fail "build: $out"
    grep -q '^hpack: modules: java.base,java.logging,java.sql.rowset,jdk.naming.dns,jdk.zipfs$' <<<"$out" ||
        fail "java.sql.rowset: $out"
    # none: what jdeps finds, and the app loses them all (what the rules are for)
    out=$(HPACK_JLINK_CACHE=$W/jlc-pm "$HPACK" build -q --jdk "$J17" --provider-modules none --jar "$p" -o "$W/art/pm17n" 2>&1) ||
        fail "build: $out"
    [ "$("$HPACK" inspect --json "$W/art/pm17n" | python3 -c 'import json,sys; print(json.load(sys.stdin)["modules"])')" = \
        java.base,java.compiler,java.management,java.naming ] || fail "--provider-modules none still added some"
    got=$(HPACK_CACHE_DIR=$W/pm run_clean "$W/art/pm17n")
    grep -q '^ec: java.security.NoSuchAlgorithmException' <<<"$got" && grep -q '^zipfs: java.nio.file.ProviderNotFoundException' <<<"$got" &&
        grep -q '^dns: javax.naming.NoInitialContextException' <<<"$got" && grep -qx 'compiler: none' <<<"$got" &&
        grep -q '^management: java.lang.ClassNotFoundException' <<<"$got" &&
        grep -q '^charset: java.nio.charset.UnsupportedCharsetException' <<<"$got" ||
        fail "without the providers: $got"
    # a failed training run says again, next to its error, what was said and not linked
    local rc=0
    out=$(HPACK_JLINK_CACHE=$W/jlc-pm "$HPACK" build -q --jdk "$J25" --jar "$SAMPLES/hello.jar" --train \
        --train-arg=--exit --train-arg=3 -o "$W/art/pmt" 2>&1) || rc=$?
    [ $rc = 7 ] && grep -qx 'hpack: not linked, if the app needs one: jdk.charsets, jdk.localedata (--add-modules M links M)' \
        <<<"$out" && grep -q '^hpack: the training run failed: the app exited with status 3' <<<"$(tail -1 <<<"$out")" ||
        fail "failed training: $rc: $out"
    rc=0; out=$("$HPACK" build -q --runtime "$J25" --jar "$SAMPLES/hello.jar" --train --train-arg=--exit --train-arg=3 \
        -o "$W/art/pmt" 2>&1) || rc=$?
    [ $rc = 7 ] && ! grep -q 'not linked' <<<"$out" || fail "failed training with --runtime: $rc: $out"
    # a bad value, and --provider-modules with --runtime, are usage errors
    rc=0; out=$("$HPACK" build --jdk "$J25" --provider-modules some --jar "$p" -o "$W/art/pmx" 2>&1) || rc=$?
    [ $rc = 2 ] && [ "$out" = "hpack build: --provider-modules some: expected auto or none" ] || fail "bad value: $rc: $out"
    rc=0; out=$("$HPACK" build --runtime "$J25" --provider-modules none --jar "$p" -o "$W/art/pmx" 2>&1) || rc=$?
    [ $rc = 2 ] && grep -q -- '--runtime excludes .*--provider-modules' <<<"$out" || fail "--runtime with it: $rc: $out"
    [ ! -e "$W/art/pmx" ] || fail "an artifact was written"
}
t_jdk_class_path_not_named_jar() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    # app.zip is a jar to the JVM: jdeps must see it too (it reads only *.jar)
    cp "$SAMPLES/http.jar" "$W/app.zip"
    local out; out=$(HPACK_JLINK_CACHE=$W/jlc-zip "$HPACK" build --jdk "$J25" --cp "$W/app.zip" --main-class demo.http.Server -o "$W/art/jz" 2>&1) ||
        fail "build: $out"
    grep -q '^hpack: modules: java.base,jdk.httpserver,jdk.zipfs$' <<<"$out" || fail "jdk.httpserver not found in app.zip: $out"
}
t_jlink_cache_must_be_ours() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    mkdir -p "$W/foreign-jlc"; chown 65534 "$W/foreign-jlc"
    expect_status 6 "owned by uid 65534" env HPACK_JLINK_CACHE="$W/foreign-jlc" "$HPACK" build --jdk "$J25" --jar "$SAMPLES/hello.jar" -o "$W/art/fj"
}
t_jdk_without_jmods() {
    # a Java 17 JDK without jmods/ (Debian's without openjdk-17-jmods)
    local j=$W/jdk17-nojmods
    mkdir -p "$j/bin" "$j/lib"
    printf '#!/bin/sh\nexit 1\n' >"$j/bin/jlink"; printf '#!/bin/sh\necho java.base\n' >"$j/bin/jdeps"
    chmod +x "$j/bin/jlink" "$j/bin/jdeps"; printf 'JAVA_VERSION="17.0.15"\n' >"$j/release"
    expect_status 3 "apt-get install openjdk-17-jmods" "$HPACK" build --jdk "$j" --jar "$SAMPLES/hello.jar" -o "$W/art/nojm"
    [ ! -e "$W/art/nojm" ] || fail "output written"
}
t_jdeps_fails_only_over_the_whole() {
    # a jdeps (fake) that fails over two jars together but not over each
    # alone: the parts' modules are used, and hpack says why it split
    local j=$W/jdk-splitdeps
    mkdir -p "$j/bin" "$j/jmods"
    cat >"$j/bin/jdeps" <<'SH'
#!/bin/sh
n=0; skip=0
for a; do [ $skip = 1 ] && { skip=0; continue; }; case $a in --class-path) skip=1;; *.jar) n=$((n+1));; esac; done
[ "$n" -gt 1 ] && { echo "Error: split package: demo"; exit 1; }
echo java.base
SH
    printf '#!/bin/sh
echo "jlink: no thanks"; exit 1
' >"$j/bin/jlink"
    chmod +x "$j/bin/jdeps" "$j/bin/jlink"; printf 'JAVA_VERSION="25.0.1"
' >"$j/release"
    cp "$SAMPLES/hello.jar" "$W/h2.jar"
    local out rc=0; out=$(HPACK_JLINK_CACHE=$W/jlc-split "$HPACK" build --jdk "$j" --cp "$SAMPLES/hello.jar:$W/h2.jar" \
        --main-class demo.Main -o "$W/art/sp" 2>&1) || rc=$?
    grep -q '^hpack: jdeps failed over the whole class path (split package: demo) but not over each jar; their modules are used$' <<<"$out" ||
        fail "no note on the split: $out"
    grep -q '^hpack: modules: java.base$' <<<"$out" || fail "modules: $out"
    [ $rc = 3 ] && grep -q 'jlink failed' <<<"$out" || fail "the fake jlink was not reached: $rc: $out"
}
t_argfile_and_conf() {
    local rt; rt=$(rt25)
    mkdir -p "$W/proj/lib"; cp "$SAMPLES/hello.jar" "$W/proj/lib/"
    printf -- '--runtime\n%s\n# the app\n--jar\nlib/hello.jar\n--arg\nwith  spaces\n--jvm-opt=-Dfrom=argfile\n-o\nout/app\n' "$rt" >"$W/proj/build.args"
    mkdir -p "$W/proj/out"
    (cd / && "$HPACK" build -q @"$W/proj/build.args") || fail "@file build"
    local out; out=$(HPACK_CACHE_DIR=$W/pc "$W/proj/out/app" --prop from)
    grep -qx 'arg\[with  spaces\]' <<<"$out" && grep -qx 'from=argfile' <<<"$out" || fail "@file arguments: $out"
    printf 'runtime = %s\njar = lib/hello.jar\narg = from conf\noutput = out/app2\n' "$rt" >"$W/proj/hpack.conf"
    (cd "$W/proj" && "$HPACK" build -q) || fail "hpack.conf build"
    HPACK_CACHE_DIR=$W/pc "$W/proj/out/app2" | grep -qx 'arg\[from conf\]' || fail "hpack.conf arguments"
    # the command line comes after hpack.conf: a repeated option adds, -o overrides
    (cd "$W/proj" && "$HPACK" build -q --arg more -o out/app3) || fail "conf + command line"
    [ -x "$W/proj/out/app3" ] && [ "$(HPACK_CACHE_DIR=$W/pc "$W/proj/out/app3" | grep -c '^arg')" = 2 ] || fail "conf + command line args"
    # ... and a single-valued one (--jar) overrides the file's
    (cd "$W/proj" && "$HPACK" build -q --jar "$SAMPLES/http.jar" -o out/app6) || fail "conf + --jar"
    "$HPACK" inspect --json "$W/proj/out/app6" | python3 -c 'import json,sys; assert json.load(sys.stdin)["class_path"] == ["app/http.jar"]' || fail "--jar did not override hpack.conf's"
    # with app-dist, the jar and class path name files inside the distribution
    mkdir -p "$W/proj/dist/lib"; cp "$SAMPLES/hello.jar" "$W/proj/dist/lib/"
    printf 'runtime = %s\ncp = lib/*\napp-dist = dist\nmain-class = demo.Main\noutput = out/app4\n' "$rt" >"$W/proj/hpack.conf"
    (cd "$W/proj" && "$HPACK" build -q) || fail "hpack.conf with app-dist"
    [ "$("$HPACK" inspect --json "$W/proj/out/app4" | python3 -c 'import json,sys; print(json.load(sys.stdin)["class_path"])')" = \
        "['app/lib/hello.jar']" ] || fail "hpack.conf with app-dist: other class path"
    printf -- '--jar\nlib/hello.jar\n--app-dist=dist\n' >"$W/proj/dist.args"
    (cd / && "$HPACK" build -q --runtime "$rt" @"$W/proj/dist.args" -o "$W/proj/out/app5") || fail "@file with --app-dist"
    HPACK_CACHE_DIR=$W/pc "$W/proj/out/app5" | grep -q 'Hello from hpack' || fail "@file with --app-dist: does not run"
    printf 'bogus line\n' >"$W/proj/hpack.conf"
    expect_status 2 "hpack.conf:1: expected 'key = value'" sh -c "cd '$W/proj' && '$HPACK' build"
}
t_progress_and_quiet() {
    local rt; rt=$(rt25)
    local out; out=$("$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/pq" 2>&1 </dev/null)
    grep -q '^hpack: compressing .* entries: done in' <<<"$out" || fail "no plain progress lines: $out"
    out=$("$HPACK" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/pq" 2>&1)
    [ -z "$out" ] || fail "-q printed: $out"
    # on a terminal: a spinner (script(1) gives us a pty)
    out=$(script -qec "'$HPACK' build --runtime '$rt' --jar '$SAMPLES/hello.jar' -o '$W/art/pq'" /dev/null 2>&1)
    grep -q $'\r' <<<"$out" || fail "no spinner on a terminal"
    "$HPACK" help build | grep -q -- '--jdk' || fail "hpack help build"
    groff -man -Tutf8 -ww "$ROOT/docs/hpack.1" >/dev/null 2>"$W/groff.err" && [ ! -s "$W/groff.err" ] || fail "man page: $(cat "$W/groff.err")"
}
t_progress_of_training() {
    local rt; rt=$(rt25); local port; port=$(free_port)
    # off a terminal: plain lines; the server's and the workload's output go to
    # the log, which --train-ready log: still reads, and which success removes
    local out; out=$("$HPACK" build --train --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server --arg "$port" \
        --train-ready 'log:^listening on [0-9]+$' --train-workload 'curl -fsS "http://127.0.0.1:'"$port"'/"' -o "$W/art/tp1" 2>&1 </dev/null) ||
        fail "log-ready training: $out"
    grep -q '^hpack: training: running DA0, waiting for log:.* \.\.\.$' <<<"$out" || fail "no plain training line: $out"
    grep -q '^hpack: training: ready after .*; running the workload \.\.\.$' <<<"$out" || fail "no workload line: $out"
    grep -q '^hpack: trained in [0-9.]* s$' <<<"$out" || fail "no 'trained in' line: $out"
    grep -q "^listening on $port\\|hello from hpack http" <<<"$out" && fail "the app's or the workload's output reached stderr: $out"
    [ ! -e "$W/art/tp1.train.log" ] || fail "training log left after success"
    # on a terminal: a spinner names the training step; the app's output stays out
    out=$(script -qfc "'$HPACK' build --train --runtime '$rt' --jar '$SAMPLES/hello.jar' -o '$W/art/tp2'" /dev/null 2>&1)
    grep -qF $'\r\e[K| training: running DA0' <<<"$out" || fail "no training spinner on a terminal: $out"
    grep -q 'hpack: trained in' <<<"$out" || fail "no 'trained in' line on a terminal: $out"
    grep -q 'Hello from hpack' <<<"$out" && fail "the app's output reached the terminal without -v: $out"
    [ -x "$W/art/tp2" ] || fail "no artifact"
    # -v: the app's output live, and plain lines instead of a spinner
    out=$(script -qfc "'$HPACK' build -v --train --runtime '$rt' --jar '$SAMPLES/hello.jar' -o '$W/art/tp3'" /dev/null 2>&1)
    grep -q 'Hello from hpack' <<<"$out" || fail "-v: the app's output not shown: $out"
    grep -qF $'\e[K' <<<"$out" && fail "-v: spinner drawn over the app's output"
    grep -q 'hpack: training: running DA0' <<<"$out" || fail "-v: no training line: $out"
}
t_jdeps_app_modules() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    # a modular jar requiring a module another jar of the app declares (as
    # Debian's jaxb-api requires java.activation, which javax.activation.jar
    # names in its Automatic-Module-Name): jdeps fails over the class path
    # unless that jar is on --module-path; hpack reads the declared names
    local d=$W/appmod; mkdir -p "$d/src/needs/n" "$d/act/a"
    printf 'package a;\npublic class Act { public static String s() { return "act"; } }\n' >"$d/act/a/Act.java"
    "$J25/bin/javac" --release 17 -d "$d/act.classes" "$d/act/a/Act.java"
    printf 'Automatic-Module-Name: my.act\n' >"$d/mf"
    "$J25/bin/jar" --create --file "$d/act.jar" --manifest "$d/mf" -C "$d/act.classes" .
    echo 'module needs { requires my.act; requires java.sql; exports n; }' >"$d/src/needs/module-info.java"
    printf 'package n;\npublic class N { public static Object t() { return java.sql.Types.class; } }\n' >"$d/src/needs/n/N.java"
    "$J25/bin/javac" --module-path "$d/act.jar" -d "$d/needs.classes" "$d/src/needs/module-info.java" "$d/src/needs/n/N.java"
    "$J25/bin/jar" --create --file "$d/needs.jar" -C "$d/needs.classes" .
    ! "$J25/bin/jdeps" --print-module-deps --ignore-missing-deps "$d/act.jar" "$d/needs.jar" >/dev/null 2>&1 || fail "premise: jdeps fails"
    local out; out=$(HPACK_JLINK_CACHE=$W/jlc "$HPACK" build --jdk "$J25" --cp "$SAMPLES/hello.jar:$d/needs.jar:$d/act.jar" \
        --main-class demo.Main -o "$W/art/appmod" 2>&1) || fail "build: $out"
    grep -q warning <<<"$out" && fail "warned: $out"
    # java.sql (needs.jar's; it brings java.logging) is linked; my.act (the app's own) is not a runtime module
    grep -q '^hpack: modules: java.base,java.sql,jdk.zipfs$' <<<"$out" || fail "modules: $out"
    HPACK_CACHE_DIR=$W/appmod run_clean "$W/art/appmod" | grep -qx 'Hello from hpack!' || fail "the artifact does not run hello"
}
t_jdeps_failing_jar() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    # a modular jar whose module-info requires a module nobody has (the stub
    # it was compiled against is left out): jdeps fails over any list with it
    local d=$W/badmod; mkdir -p "$d/src/bad" "$d/src/does.not.exist"
    echo 'module does.not.exist {}' >"$d/src/does.not.exist/module-info.java"
    echo 'module bad { requires does.not.exist; }' >"$d/src/bad/module-info.java"
    "$J25/bin/javac" --module-source-path "$d/src" -d "$d/out" --module bad
    "$J25/bin/jar" --create --file "$d/bad.jar" -C "$d/out/bad" .
    local out; out=$(HPACK_JLINK_CACHE=$W/jlc "$HPACK" build --jdk "$J25" --cp "$SAMPLES/hello.jar:$d/bad.jar" --main-class demo.Main -o "$W/art/jdb" 2>&1) ||
        fail "build: $out"
    grep -q "^hpack: warning: $d/bad.jar: jdeps cannot analyse it (Module does.not.exist not found, required by bad); the JDK modules its module-info requires are linked anyway$" <<<"$out" ||
        fail "no warning naming bad.jar: $out"
    [ "$(grep -c 'warning' <<<"$out")" = 1 ] || fail "more than one warning: $out"
    grep -q '^hpack: modules: java.base,java.logging,jdk.zipfs$' <<<"$out" || fail "hello.jar's modules lost: $out"
    HPACK_CACHE_DIR=$W/jdb run_clean "$W/art/jdb" | grep -qx 'Hello from hpack!' || fail "the artifact does not run hello"
    # one that also requires a JDK module nothing else needs: hpack links it
    # (its module-info says what it requires) and says so
    mkdir -p "$d/src2/bad2"
    echo 'module bad2 { requires does.not.exist; requires java.sql; }' >"$d/src2/bad2/module-info.java"
    "$J25/bin/javac" --module-source-path "$d/src2:$d/src" -d "$d/out2" --module bad2
    "$J25/bin/jar" --create --file "$d/bad2m.jar" -C "$d/out2/bad2" .
    out=$(HPACK_JLINK_CACHE=$W/jlc "$HPACK" build --jdk "$J25" --cp "$SAMPLES/hello.jar:$d/bad2m.jar" --main-class demo.Main -o "$W/art/jdb3" 2>&1) ||
        fail "build: $out"
    grep -q "^hpack: warning: $d/bad2m.jar: jdeps cannot analyse it (.*); the JDK modules its module-info requires are linked: java.sql$" <<<"$out" ||
        fail "java.sql not said linked: $out"
    grep -q '^hpack: modules: java.base,java.logging,java.sql,jdk.zipfs$' <<<"$out" || fail "java.sql not linked: $out"
    "$HPACK" inspect --json "$W/art/jdb3" | python3 -c 'import json,sys; m=json.load(sys.stdin)["modules"]; assert "java.sql" in m.split(","), m' ||
        fail "the artifact's modules lack java.sql"
    # every jar failing: an error naming the first one and jdeps' reason
    cp "$d/bad.jar" "$d/bad2.jar"
    expect_status 3 "$d/bad.jar: jdeps cannot analyse it (Module does.not.exist not found, required by bad), nor any other" \
        env HPACK_JLINK_CACHE="$W/jlc" "$HPACK" build --jdk "$J25" --cp "$d/bad.jar:$d/bad2.jar" --main-class demo.Main -o "$W/art/jdb2"
    [ ! -e "$W/art/jdb2" ] || fail "output written"
}
t_build_errors_early_and_short() {
    local rt; rt=$(rt25)
    # a typo in -o or --lock is found before any long step
    local out rc=0; out=$("$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/nodir/app" 2>&1) || rc=$?
    [ $rc = 6 ] && [ "$(tail -1 <<<"$out")" = "hpack: $W/nodir/app: output directory $W/nodir does not exist" ] || fail "-o: $rc: $out"
    ! grep -q 'reading\|compressing' <<<"$out" || fail "-o checked only after reading: $out"
    expect_status 6 "$W: is a directory; give the output file's path" "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W"
    expect_status 6 "lock directory $W/nodir does not exist" \
        "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ee" --lock "$W/nodir/l"
    expect_status 7 "$W/nocache.aot: cannot read the startup cache (--with-cache): No such file or directory" \
        "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ee" --with-cache "$W/nocache.aot"
    [ ! -e "$W/art/ee" ] || fail "output written"
    # jlink's own error is one line, without its stack trace
    [ -n "$J25" ] || fail "JDK 25 not found"
    rc=0; out=$(HPACK_JLINK_CACHE=$W/jlc-ee "$HPACK" build -q --jdk "$J25" --add-modules java.nope --jar "$SAMPLES/hello.jar" -o "$W/art/ee" 2>&1) || rc=$?
    [ $rc = 3 ] && [ "$out" = "hpack: jlink failed (status 1): Error: Module java.nope not found; check --add-modules and --jlink-opt" ] ||
        fail "jlink error: $rc: $out"
    [ -z "$(ls -A "$W/jlc-ee")" ] || fail "jlink left: $(ls -A "$W/jlc-ee")"
}
