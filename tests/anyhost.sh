# Issue 13: the startup cache applies on every host the binary is shipped
# to, or the binary says why (sourced by integration.sh, whose helpers it
# uses). The host is simulated through HPACK_JAVA_OPTS, and the CPU's
# features through the test build's HPACK_TEST_CPU_FEATURES.

# A DA1 made by the test build: its launcher has the test hooks.
AH=$W/art/anyhost.da1
build_anyhost() {
    need_jdks
    local rt; rt=$(rt25)
    "$HPACK_T" build -q --train --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$AH" >/dev/null
}

# The provenance names the conditions, and inspect shows them.
t_anyhost_conditions_recorded() {
    local txt json; txt=$("$HPACK" inspect "$AH"); json=$("$HPACK" inspect --json "$AH")
    grep -q '^cache applies:  GC G1, UseCompressedOops true, UseCompressedClassPointers true, ObjectAlignmentInBytes 8, UseCompactObjectHeaders false; JVM build 25\.[0-9.+A-Za-z-]*; CPU x86_64:[0-9a-f,]*$' <<<"$txt" ||
        fail "inspect lacks the conditions: $(grep -i 'cache' <<<"$txt")"
    python3 - "$json" <<'PY' || fail "inspect --json: conditions wrong"
import json, sys
c = json.loads(sys.argv[1])["cache"]["conditions"]
assert c["gc"] == "G1" and c["UseCompressedOops"] is True and c["UseCompressedClassPointers"] is True, c
assert c["ObjectAlignmentInBytes"] == 8 and c["UseCompactObjectHeaders"] is False, c
assert c["jvm_build"].startswith("25.") and c["cpu_features"].startswith("x86_64:"), c
PY
    # JDK 17 (CDS): recorded too, without compact headers (no such flag)
    "$HPACK" inspect "$H17T" | grep -q '^cache applies:  GC [A-Za-z0-9]*, UseCompressedOops true, .*UseCompactObjectHeaders n/a; JVM build 17\.' ||
        fail "JDK 17 conditions: $("$HPACK" inspect "$H17T" | grep '^cache applies')"
}

# Each host condition of the issue's table: the launcher's prediction
# (HPACK_AOT=require: it runs, or exits 120) matches the JVM's own verdict
# (the cache passed by hand with -XX:AOTMode=on, the launcher's rule out
# of the way with HPACK_AOT=off), and both match the table.
t_anyhost_prediction_matches_jvm() {
    local d=$W/ahp cache; cache=$("$HPACK" inspect --json "$AH" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["path"])')
    HPACK_CACHE_DIR=$d run_clean "$AH" >/dev/null # unpacks the tree with the cache
    local o want pred jvm rc
    while IFS='|' read -r o want; do
        rc=0; HPACK_CACHE_DIR=$d HPACK_AOT=require HPACK_JAVA_OPTS="$o" run_clean "$AH" >"$W/ahp.out" 2>&1 || rc=$?
        case $rc in 0) pred=applies ;; 120) pred=refused ;; *) fail "$o: require exited $rc: $(tail -2 "$W/ahp.out")" ;; esac
        [ $pred = applies ] || grep -q "HPACK_AOT=require: the startup cache does not apply on this host: " "$W/ahp.out" ||
            fail "$o: no reason given: $(cat "$W/ahp.out")"
        rc=0; HPACK_CACHE_DIR=$d HPACK_AOT=off HPACK_JAVA_OPTS="-XX:AOTCache=/proc/self/fd/250/$cache -XX:AOTMode=on $o" \
            run_clean "$AH" >"$W/ahj.out" 2>&1 || rc=$?
        if [ $rc = 0 ]; then jvm=applies; else jvm=refused; grep -q "Unable to use AOT cache" "$W/ahj.out" || fail "$o: JVM failed otherwise: $(tail -3 "$W/ahj.out")"; fi
        echo "INFO: ${o:-(none)}: predicted $pred, JVM $jvm"
        [ $pred = $jvm ] || fail "$o: predicted $pred, the JVM says $jvm"
        [ $pred = "$want" ] || fail "$o: $pred, the issue's table says $want"
    done <<'TABLE'
|applies
-XX:ActiveProcessorCount=1|applies
-XX:MaxRAM=1g|applies
-XX:+UseParallelGC|applies
-XX:MaxRAM=256g|refused
-Xmx40g|refused
-XX:+UseZGC|refused
-XX:+UseCompactObjectHeaders|refused
TABLE
}

# The JVM also takes options from JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and
# _JAVA_OPTIONS: the prediction sees them, in the JVM's order (the tool
# options first, _JAVA_OPTIONS last), so it still matches the JVM.
t_anyhost_prediction_sees_jvm_env() {
    local d=$W/ahe rc v o want got jvm cache
    cache=$("$HPACK" inspect --json "$AH" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["path"])')
    HPACK_CACHE_DIR=$d run_clean "$AH" >/dev/null
    while IFS='|' read -r v o want; do
        rc=0; (cd "$W/elsewhere" && env -i HOME="$W/home" PATH=/usr/bin:/bin HPACK_CACHE_DIR=$d HPACK_AOT=require \
            ${o:+HPACK_JAVA_OPTS="$o"} "$v" "$AH") >"$W/ahe.out" 2>&1 || rc=$?
        case $rc in 0) got=applies ;; 120) got=refused ;; *) fail "$v $o: require exited $rc: $(tail -2 "$W/ahe.out")" ;; esac
        # the JVM's own verdict: the cache passed by hand, the launcher's rule off
        rc=0; (cd "$W/elsewhere" && env -i HOME="$W/home" PATH=/usr/bin:/bin HPACK_CACHE_DIR=$d HPACK_AOT=off \
            HPACK_JAVA_OPTS="-XX:AOTCache=/proc/self/fd/250/$cache -XX:AOTMode=on $o" "$v" "$AH") >"$W/ahe.out" 2>&1 || rc=$?
        if [ $rc = 0 ]; then jvm=applies; else jvm=refused; grep -q "Unable to use AOT cache" "$W/ahe.out" || fail "$v $o: JVM failed otherwise: $(tail -3 "$W/ahe.out")"; fi
        echo "INFO: $v${o:+ HPACK_JAVA_OPTS=$o}: predicted $got, JVM $jvm"
        [ $got = $jvm ] || fail "$v${o:+ with HPACK_JAVA_OPTS=$o}: predicted $got, the JVM says $jvm"
        [ $got = "$want" ] || fail "$v${o:+ with HPACK_JAVA_OPTS=$o}: $got, the JVM's order says $want: $(tail -2 "$W/ahe.out")"
    done <<'TABLE'
JAVA_TOOL_OPTIONS=-XX:+UseZGC||refused
JDK_JAVA_OPTIONS=-Xmx40g||refused
_JAVA_OPTIONS=-XX:+UseCompactObjectHeaders||refused
JAVA_TOOL_OPTIONS=-Xmx40g|-Xmx1g|applies
_JAVA_OPTIONS=-Xmx1g|-Xmx40g|applies
_JAVA_OPTIONS=-Xmx40g|-Xmx1g|refused
TABLE
}

# Under auto a cache predicted not to apply is not passed, and a warning
# says why; HPACK_DEBUG=1 names the chosen cache.
t_anyhost_auto_warns_and_skips() {
    local d=$W/aha err
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 HPACK_JAVA_OPTS=-Xmx40g "$AH" 2>&1 >/dev/null)
    grep -qx "hpack: $AH: warning: startup cache not used: it does not apply on this host: compressed oops are off here (max heap 40.0 GB), on in training" <<<"$err" ||
        fail "no warning: $err"
    ! grep '^hpack: exec' <<<"$err" | grep -q AOTCache || fail "the cache was passed: $err"
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 "$AH" 2>&1 >/dev/null)
    grep -q "^hpack: startup cache cache/[0-9a-f]*\.aot applies: compressed oops on (default heap)" <<<"$err" || fail "debug names no cache: $err"
    grep '^hpack: exec' <<<"$err" | grep -q AOTCache || fail "the cache was not passed: $err"
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 HPACK_AOT=off "$AH" 2>&1 >/dev/null)
    grep -qx "hpack: no startup cache used: HPACK_AOT=off" <<<"$err" || fail "debug with off: $err"
}

# A CPU lacking a feature of the training CPU never gets the cache (the
# features faked through the test build's hook; the shipped one has none).
t_anyhost_cpu_lacking_feature() {
    ! grep -a -q HPACK_TEST_CPU_FEATURES "$HPACK" || fail "the shipped hpack has the CPU hook"
    local feat fake d=$W/ahc rc err
    feat=$("$HPACK" inspect --json "$AH" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["conditions"]["cpu_features"])')
    # the training CPU less one feature: avx2 if it had it, else its lowest one
    fake=$(python3 - "$feat" <<'PY'
import sys
arch, ws = sys.argv[1].split(":"); w = [int(x, 16) for x in ws.split(",")]
if w[2] & 32: w[2] &= ~32
else:
    i = next(i for i, x in enumerate(w) if x); w[i] &= w[i] - 1
print(arch + ":" + ",".join("%x" % x for x in w))
PY
)
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 HPACK_TEST_CPU_FEATURES=$fake "$AH" 2>&1 >/dev/null)
    grep -q "warning: startup cache not used: it does not apply on this host: this CPU lacks .*, which the training CPU had" <<<"$err" || fail "no warning: $err"
    ! grep '^hpack: exec' <<<"$err" | grep -q AOTCache || fail "the cache was passed to a CPU lacking a feature"
    rc=0; HPACK_CACHE_DIR=$d HPACK_AOT=require HPACK_TEST_CPU_FEATURES=$fake "$AH" >/dev/null 2>&1 || rc=$?
    [ $rc = 120 ] || fail "require: status $rc, not 120"
    rc=0; HPACK_CACHE_DIR=$d HPACK_TEST_CPU_FEATURES=$fake "$AH" --hpack-check >"$W/ahc.out" 2>&1 || rc=$?
    [ $rc = 120 ] && grep -qx "jvm check: not run (the cache's machine code must not meet this CPU)" "$W/ahc.out" ||
        fail "--hpack-check: status $rc: $(cat "$W/ahc.out")"
    # the same CPU with one more feature: applies
    HPACK_CACHE_DIR=$d HPACK_AOT=require HPACK_TEST_CPU_FEATURES=$feat "$AH" >/dev/null
}

# --hpack-check: the prediction and the JVM's own check, exit 0 or 120.
t_anyhost_check() {
    local d=$W/ahk out rc=0
    out=$(HPACK_CACHE_DIR=$d run_clean "$AH" --hpack-check) || fail "--hpack-check failed on the build host: $out"
    grep -qx 'predicted: applies: compressed oops on (default heap), GC Serial or G1, compact headers off' <<<"$out" &&
        grep -qx 'jvm check: the JVM maps the cache' <<<"$out" && grep -qx 'verdict: applies' <<<"$out" || fail "output: $out"
    out=$(HPACK_CACHE_DIR=$d HPACK_JAVA_OPTS=-XX:+UseZGC run_clean "$AH" --hpack-check) || rc=$?
    [ $rc = 120 ] || fail "ZGC: status $rc"
    grep -qx 'predicted: does not apply: the GC is Z here, G1 in training: ZGC cannot load the archived heap' <<<"$out" &&
        grep -qx 'jvm check: refused: Unable to use AOT cache.' <<<"$out" && grep -qx 'verdict: does not apply' <<<"$out" ||
        fail "ZGC output: $out"
    # --hpack-info: the prediction only, and an exec line without the cache
    out=$(HPACK_JAVA_OPTS=-XX:+UseZGC "$AH" --hpack-info)
    grep -qx 'on this host: does not apply: the GC is Z here, G1 in training: ZGC cannot load the archived heap' <<<"$out" ||
        fail "--hpack-info: $(grep '^on this host' <<<"$out")"
    ! grep '^exec:' <<<"$out" | grep -q AOTCache || fail "--hpack-info shows the cache passed"
    "$AH" --hpack-info | grep -q '^on this host: applies: ' || fail "--hpack-info on the build host"
    rc=0; out=$(HPACK_CACHE_DIR=$d run_clean "$H25" --hpack-check) || rc=$?
    [ $rc = 120 ] && [ "$out" = "startup cache: none; nothing to check" ] || fail "DA0: status $rc: $out"
}

# JDK 17 (dynamic CDS): the same agreement, the JVM's check being
# -XX:SharedArchiveFile=... -Xshare:on.
t_anyhost_cds_prediction_matches_jvm() {
    local d=$W/ahcds cache o want pred jvm rc
    cache=$("$HPACK" inspect --json "$H17T" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["path"])')
    HPACK_CACHE_DIR=$d run_clean "$H17T" >/dev/null
    while IFS='|' read -r o want; do
        rc=0; HPACK_CACHE_DIR=$d HPACK_AOT=require HPACK_JAVA_OPTS="$o" run_clean "$H17T" >"$W/ahcds.out" 2>&1 || rc=$?
        case $rc in 0) pred=applies ;; 120) pred=refused ;; *) fail "$o: require exited $rc: $(tail -2 "$W/ahcds.out")" ;; esac
        rc=0; HPACK_CACHE_DIR=$d HPACK_AOT=off HPACK_JAVA_OPTS="-XX:SharedArchiveFile=/proc/self/fd/250/$cache -Xshare:on $o" \
            run_clean "$H17T" >"$W/ahcdsj.out" 2>&1 || rc=$?
        if [ $rc = 0 ]; then jvm=applies; else jvm=refused; grep -q "shared archive file" "$W/ahcdsj.out" || fail "$o: JVM failed otherwise: $(tail -3 "$W/ahcdsj.out")"; fi
        echo "INFO: JDK 17 ${o:-(none)}: predicted $pred, JVM $jvm"
        [ $pred = $jvm ] && [ $pred = "$want" ] || fail "$o: predicted $pred, the JVM says $jvm, expected $want"
    done <<'TABLE'
|applies
-XX:ActiveProcessorCount=1|applies
-XX:+UseParallelGC|applies
-Xmx40g|refused
-XX:+UseZGC|refused
TABLE
}
