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
    [ $rc = 120 ] && [ "$out" = "startup cache: none carried
host-local cache: none (healing is off (hpack build --heal or HPACK_HEAL=on))
verdict: does not apply" ] || fail "DA0: status $rc: $out"
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

# ---- cache variants (hpack build --train-variant) ----
# A DA1 with the default cache and both variants, made by the test build
# (its launcher reads HPACK_TEST_CPU_FEATURES), and its DA0.
AHV=$W/art/anyhost-variants.da1 AHV0=$W/art/anyhost-variants.da0
build_anyhost_variants() {
    need_jdks
    local rt; rt=$(rt25)
    "$HPACK_T" build -q --train --train-variant large-heap --train-variant portable --runtime "$rt" \
        --jar "$SAMPLES/hello.jar" --keep-da0 "$AHV0" -o "$AHV" >/dev/null
}

# The caches' paths in table order: default, large-heap, portable.
ahv_caches() { "$HPACK" inspect --json "$1" | python3 -c 'import json,sys; print(" ".join(c["path"] for c in json.load(sys.stdin)["caches"]))'; }

# A 256 GB host (MaxRAM=256g: no compressed oops): the large-heap variant
# applies under require, the JVM's own check agrees; a DA1 without it
# exits 120 there.
t_anyhost_variant_large_heap() {
    local d=$W/ahvl err rc=0 c; read -r -a c <<<"$(ahv_caches "$AHV")"
    [ ${#c[@]} = 3 ] || fail "not three caches: ${c[*]}"
    # The variants, much like the default cache, are stored as their
    # differences from it (docs/format.md 5.3): this start decodes both.
    "$HPACK" inspect "$AHV" | awk -v a="${c[1]}" -v b="${c[2]}" '($NF == a || $NF == b) && $6 == "zstdref" {n++} END {exit n != 2}' ||
        fail "the variant caches are not stored against the default one: $("$HPACK" inspect "$AHV" | grep ' cache/.*aot$')"
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 HPACK_AOT=require HPACK_JAVA_OPTS="-XX:MaxRAM=256g -Xlog:class+load" "$AHV" 2>&1) ||
        fail "require with MaxRAM=256g failed: $(tail -3 <<<"$err")"
    grep -qx "hpack: startup cache ${c[1]} (variant large-heap) applies: compressed oops off (the options), GC Serial or G1, compact headers off" <<<"$err" ||
        fail "debug does not name the large-heap cache: $(grep '^hpack:' <<<"$err")"
    grep '^hpack: exec' <<<"$err" | grep -qF -- "-XX:AOTCache=/proc/self/fd/250/${c[1]} -XX:AOTMode=on -XX:-UseCompressedOops -XX:MaxRAM=256g -Xlog:class+load" ||
        fail "exec line: $(grep '^hpack: exec' <<<"$err")"
    grep -q 'demo.Main source: shared objects file' <<<"$err" || fail "main class not from the cache"
    # only the chosen cache was unpacked
    [ "$(cd "$d"/*/cache && ls)" = "$(basename "${c[1]}")" ] || fail "unpacked caches: $(ls "$d"/*/cache)"
    # the JVM's own check, the launcher's rule out of the way
    HPACK_CACHE_DIR=$d HPACK_AOT=off HPACK_JAVA_OPTS="-XX:AOTCache=/proc/self/fd/250/${c[1]} -XX:AOTMode=on -XX:-UseCompressedOops -XX:MaxRAM=256g" \
        run_clean "$AHV" >/dev/null 2>&1 || fail "the JVM refuses the large-heap cache on the simulated host"
    local out; out=$(HPACK_CACHE_DIR=$d HPACK_JAVA_OPTS=-XX:MaxRAM=256g run_clean "$AHV" --hpack-check) || fail "--hpack-check: $out"
    grep -qx "predicted: does not apply: compressed oops are off here (max heap 64.0 GB), on in training" <<<"$out" &&
        grep -qx "chosen: ${c[1]} (aot, variant large-heap; options -XX:-UseCompressedOops)" <<<"$out" &&
        grep -qx 'jvm check: the JVM maps the cache' <<<"$out" || fail "--hpack-check: $out"
    # without the variant: the documented status and the reason
    rc=0; err=$(HPACK_CACHE_DIR=$d HPACK_AOT=require HPACK_JAVA_OPTS=-XX:MaxRAM=256g run_clean "$AH" 2>&1) || rc=$?
    [ $rc = 120 ] && grep -q "HPACK_AOT=require: the startup cache does not apply on this host: compressed oops are off here" <<<"$err" ||
        fail "DA1 without variants: status $rc: $err"
    # where no cache applies, each one's reason, and 120
    rc=0; err=$(HPACK_CACHE_DIR=$d HPACK_AOT=require HPACK_JAVA_OPTS=-XX:+UseZGC run_clean "$AHV" 2>&1) || rc=$?
    [ $rc = 120 ] && grep -qx "hpack: $AHV: HPACK_AOT=require: none of the 3 startup caches applies on this host: default: the GC is Z here, G1 in training: ZGC cannot load the archived heap; large-heap: the GC is Z here, G1 in training: ZGC cannot load the archived heap; portable: the GC is Z here, G1 in training: ZGC cannot load the archived heap" <<<"$err" ||
        fail "ZGC: status $rc: $err"
}

# A CPU lacking a recorded feature: the portable variant (no machine code)
# is passed, the default cache never is; on the build CPU the default is.
t_anyhost_variant_portable() {
    local d=$W/ahvp err c fake; read -r -a c <<<"$(ahv_caches "$AHV")"
    fake=$("$HPACK" inspect --json "$AHV" | python3 -c '
import json, sys
f = json.load(sys.stdin)["caches"][0]["conditions"]["cpu_features"]
arch, ws = f.split(":"); w = [int(x, 16) for x in ws.split(",")]
if w[2] & 32: w[2] &= ~32
else:
    i = next(i for i, x in enumerate(w) if x); w[i] &= w[i] - 1
print(arch + ":" + ",".join("%x" % x for x in w))')
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 HPACK_AOT=require HPACK_TEST_CPU_FEATURES=$fake HPACK_JAVA_OPTS=-Xlog:class+load "$AHV" 2>&1) ||
        fail "require on a CPU lacking a feature: $(tail -3 <<<"$err")"
    grep -qx "hpack: startup cache ${c[2]} (variant portable) applies: compressed oops on (default heap), GC Serial or G1, compact headers off, no machine code (the CPU does not matter)" <<<"$err" ||
        fail "debug: $(grep '^hpack:' <<<"$err")"
    grep '^hpack: exec' <<<"$err" | grep -qF -- "-XX:AOTCache=/proc/self/fd/250/${c[2]} -XX:AOTMode=on -XX:+UnlockDiagnosticVMOptions -XX:-AOTAdapterCaching" ||
        fail "exec line: $(grep '^hpack: exec' <<<"$err")"
    ! grep -qF "${c[0]}" <<<"$(grep '^hpack: exec' <<<"$err")" || fail "the default cache was passed to a CPU lacking a feature"
    grep -q 'demo.Main source: shared objects file' <<<"$err" || fail "main class not from the portable cache"
    local out; out=$(HPACK_CACHE_DIR=$d HPACK_TEST_CPU_FEATURES=$fake "$AHV" --hpack-check) || fail "--hpack-check: $out"
    grep -q "^predicted: does not apply: this CPU lacks avx2, which the training CPU had" <<<"$out" &&
        grep -q "^chosen: ${c[2]} (aot, variant portable;" <<<"$out" && grep -qx 'verdict: applies' <<<"$out" ||
        fail "--hpack-check: $out"
    # the build CPU: the default, nothing else looked at
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 "$AHV" 2>&1 >/dev/null)
    grep -qx "hpack: startup cache ${c[0]} applies: compressed oops on (default heap), GC Serial or G1, compact headers off" <<<"$err" ||
        fail "build CPU: $(grep '^hpack:' <<<"$err")"
    # HPACK_AOT_VARIANT: one cache only
    err=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 HPACK_AOT_VARIANT=portable "$AHV" 2>&1 >/dev/null)
    grep -q "^hpack: startup cache ${c[2]} (variant portable) applies" <<<"$err" || fail "HPACK_AOT_VARIANT=portable: $err"
    local rc=0; err=$(HPACK_CACHE_DIR=$d HPACK_AOT=require HPACK_AOT_VARIANT=nosuch "$AHV" 2>&1 >/dev/null) || rc=$?
    [ $rc = 120 ] && grep -q "default: HPACK_AOT_VARIANT=nosuch names another cache" <<<"$err" || fail "HPACK_AOT_VARIANT=nosuch: status $rc: $err"
}

# The base is DA0's, each cache is shown, verified and diffed; DA1 is
# reproduced byte for byte from its caches (default first); bad variant
# requests are refused.
t_anyhost_variant_artifact() {
    [ "$("$HPACK" hash --base "$AHV")" = "$("$HPACK" hash --base "$AHV0")" ] || fail "the variants changed the base hash"
    python3 - "$AHV0" "$AHV" "$HPACK" <<'PY' || fail "DA0's entries are not DA1's first"
import json, subprocess, sys
da0, da1 = (json.loads(subprocess.check_output([sys.argv[3], "inspect", "--json", a])) for a in sys.argv[1:3])
assert da1["entries"][:len(da0["entries"])] == da0["entries"]
c = da1["caches"]
assert [x["variant"] for x in c] == [None, "large-heap", "portable"], c
assert c[0] == da1["cache"] and c[0]["options"] == [] and c[0]["conditions"]["machine_code"] is True
assert c[1]["options"] == ["-XX:-UseCompressedOops"] and c[1]["conditions"]["UseCompressedOops"] is False
assert c[2]["options"] == ["-XX:+UnlockDiagnosticVMOptions", "-XX:-AOTAdapterCaching"] and c[2]["conditions"]["machine_code"] is False
assert all(x["bound"] for x in c)
PY
    local txt; txt=$("$HPACK" inspect "$AHV")
    [ "$(grep -c '^startup cache:  cache/' <<<"$txt")" = 3 ] && grep -qx 'cache variant:  large-heap, tried after the default; run with -XX:-UseCompressedOops' <<<"$txt" ||
        fail "inspect: $(grep '^startup\|^cache' <<<"$txt")"
    "$HPACK" verify "$AHV" >/dev/null || fail "verify"
    local c; read -r -a c <<<"$(ahv_caches "$AHV")"
    local out; out=$("$HPACK" diff "$AHV0" "$AHV") || true
    [ "$(grep -c '^added    cache     cache/[0-9a-f]*\.aot  (startup cache, aot, [0-9]* bytes; with .*provenance cache/[0-9a-f]*\.prov)$' <<<"$out")" = 1 ] &&
        grep -q "^added    cache     ${c[1]}  (startup cache, aot, variant large-heap, [0-9]* bytes; with .*provenance" <<<"$out" &&
        grep -q "^added    cache     ${c[2]}  (startup cache, aot, variant portable, [0-9]* bytes; with .*provenance" <<<"$out" &&
        grep -q '^3 added, 0 removed, 0 changed; base same' <<<"$out" || fail "diff: $out"
    "$HPACK" diff --json "$AHV0" "$AHV" | python3 -c '
import json, sys
assert sorted(str(x["variant"]) for x in json.load(sys.stdin)["changes"]) == ["None", "large-heap", "portable"]' ||
        fail "diff --json: variants"
    # reproducible: the same caches, in the same order, give the same bytes
    local rt; rt=$(rt25)
    rm -rf "$W/ahvx"; "$HPACK" extract "$AHV" -o "$W/ahvx"
    local wc=(); for x in "${c[@]}"; do wc+=(--with-cache "$W/ahvx/$x"); done
    "$HPACK" build -q "${wc[@]}" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ahv-r1" || fail "rebuild"
    "$HPACK" build -q "${wc[@]}" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ahv-r2" || fail "rebuild 2"
    cmp "$W/art/ahv-r1" "$W/art/ahv-r2" || fail "two builds with variants differ"
    [ "$("$HPACK" hash --full "$W/art/ahv-r1")" = "$("$HPACK" hash --full "$AHV")" ] || fail "full hash differs from the trained DA1"
    expect_status 7 "the first --with-cache is the variant large-heap" "$HPACK" build --with-cache "$W/ahvx/${c[1]}" \
        --with-cache "$W/ahvx/${c[0]}" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ahv-bad"
    expect_status 7 "two caches of the variant portable" "$HPACK" build --with-cache "$W/ahvx/${c[0]}" \
        --with-cache "$W/ahvx/${c[2]}" --with-cache "$W/ahvx/${c[2]}" --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ahv-bad"
    [ ! -e "$W/art/ahv-bad" ] || fail "output written"
    # caches not bound to the payload (other inputs; forced with the test
    # hook): verify names one, the launcher uses none (124: none is bound)
    mkdir -p "$W/ahv2"; cp "$SAMPLES/hello.jar" "$W/ahv2/hello.jar"
    (cd "$W/ahv2" && echo v2 >VERSION && "$J25/bin/jar" --update --file hello.jar VERSION)
    HPACK_TEST_UNBOUND_CACHE=1 "$HPACK_T" build -q "${wc[@]}" --runtime "$rt" --jar "$W/ahv2/hello.jar" -o "$W/art/ahv-unbound" 2>/dev/null ||
        fail "unbound build"
    expect_status 1 "startup cache cache/[0-9a-f]*\.aot (default) is not bound to this payload: it was recorded for other inputs" \
        "$HPACK" verify "$W/art/ahv-unbound"
    expect_status 124 "none of the 3 startup caches applies on this host: default: it was recorded for other inputs" \
        env HPACK_CACHE_DIR="$W/ahvu" HPACK_AOT=require "$W/art/ahv-unbound"
    expect_status 2 "unknown variant; known: large-heap portable" "$HPACK" build --train --train-variant huge \
        --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ahv-bad"
    expect_status 2 "--train-variant needs --train" "$HPACK" build --train-variant portable --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/ahv-bad"
}
