# Issue 13, part 4: healing. Where no carried startup cache applies (or the
# artifact carries none), the launcher records one from a real run, creates
# it in a detached process after the application exited, and passes it from
# the next start on (docs/launcher.md 9.3). Sourced by integration.sh; the
# tests are named t_anyhost_heal_* to run after build_anyhost ($AH).
#
# The creator runs detached: a test waits for it by taking the heal
# directory's lock (flock), which the creator holds until the cache is
# published or given up.

# heal_run DIR ARTIFACT ARGS...: a start as on a host without Java, healing
# on, with HPACK_DEBUG; the rest of the environment (HPACK_AOT,
# HPACK_JAVA_OPTS) passed through when set.
heal_run() {
    local d=$1; shift
    HPACK_CACHE_DIR=$d HPACK_HEAL=${HEAL:-on} HPACK_DEBUG=1 run_clean_heal "$@"
}
run_clean_heal() {
    local a=$1; shift
    local keep=("HPACK_CACHE_DIR=$HPACK_CACHE_DIR" "HPACK_HEAL=$HPACK_HEAL" "HPACK_DEBUG=$HPACK_DEBUG")
    [ -n "${HPACK_AOT:-}" ] && keep+=("HPACK_AOT=$HPACK_AOT")
    [ -n "${HPACK_JAVA_OPTS:-}" ] && keep+=("HPACK_JAVA_OPTS=$HPACK_JAVA_OPTS")
    [ -n "${HPACK_TEST_HEAL_SWAP:-}" ] && keep+=("HPACK_TEST_HEAL_SWAP=$HPACK_TEST_HEAL_SWAP")
    (cd "$W/elsewhere" && env -i HOME="$W/home" PATH=/usr/bin:/bin JAVA_HOME=/nonexistent "${keep[@]}" "$a" "$@")
}
# heal_wait DIR ARTIFACT: the detached creator of DIR's heal directory for
# ARTIFACT is done (its lock is free).
heal_wait() {
    local h; h=$1/$("$HPACK" hash "$2").heal
    [ -d "$h" ] || fail "no heal directory $h"
    timeout 300 flock "$h/lock" true || fail "the creator in $h did not finish in 300 s"
}
heal_dir() { echo "$1/$("$HPACK" hash "$2").heal"; }

# DA0 (no carried cache): the first start records and behaves exactly as a
# plain one (output, status, no VM line on stdout); the next passes the
# host-local cache and the JVM maps it (HPACK_AOT=require; class loading
# from the shared file); --hpack-check names it.
t_anyhost_heal_da0() {
    local d=$W/heal0 rc out err plain
    plain=$(HPACK_CACHE_DIR=$W/heal0p run_clean "$H25" a --exit 42) || true
    rc=0; heal_run "$d" "$H25" a --exit 42 >"$W/heal0.out" 2>"$W/heal0.err" || rc=$?
    [ $rc = 42 ] || fail "recording start: status $rc, expected 42: $(tail -3 "$W/heal0.err")"
    grep -q '^hpack: healing: recording a host-local startup cache in ' "$W/heal0.err" || fail "did not record: $(cat "$W/heal0.err")"
    [ "$(cat "$W/heal0.out")" = "$plain" ] || fail "the recording start's output differs from a plain start's: $(cat "$W/heal0.out")"
    heal_wait "$d" "$H25"
    local h; h=$(heal_dir "$d" "$H25")
    [ -f "$h/cache" ] && [ -f "$h/cache.prov" ] && [ ! -e "$h/rec" ] || fail "heal directory: $(ls -la "$h")"
    [ "$(stat -c %a "$h")" = 700 ] || fail "heal directory mode $(stat -c %a "$h")"
    grep -aq 'local.ino=' "$h/cache.prov" && grep -aq "base=$("$HPACK" hash "$H25")" "$h/cache.prov" || fail "provenance: $(tr '\0' ' ' <"$h/cache.prov")"
    out=$(HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load=info heal_run "$d" "$H25" 2>"$W/heal0.err") ||
        fail "second start under require: $(tail -3 "$W/heal0.err")"
    grep -q "^hpack: host-local startup cache $h/cache applies: " "$W/heal0.err" || fail "debug: $(cat "$W/heal0.err")"
    grep '^hpack: exec' "$W/heal0.err" | grep -q -- '-XX:AOTCache=/proc/self/fd/248 -XX:AOTMode=on' || fail "exec: $(grep exec "$W/heal0.err")"
    grep -q 'demo.Main source: shared objects file' <<<"$out" || fail "demo.Main not from the host-local cache"
    out=$(HPACK_CACHE_DIR=$d HPACK_HEAL=on HPACK_DEBUG=0 run_clean_heal "$H25" --hpack-check) || fail "--hpack-check: $out"
    grep -qx "host-local cache: $h/cache" <<<"$out" && grep -qx 'chosen: host-local' <<<"$out" &&
        grep -qx 'jvm check: the JVM maps the cache' <<<"$out" && grep -qx 'verdict: applies' <<<"$out" || fail "--hpack-check: $out"
}

# The host-local cache passed is the file judged: another start's creator
# renaming a new file over `cache` between the judging and the exec (the
# test launcher's HPACK_TEST_HEAL_SWAP does it there) changes nothing the
# JVM maps. Passed by name, the JVM would map the new file.
t_anyhost_heal_swapped_before_exec() {
    need_jdks
    local rt d=$W/healswap a=$W/art/healswap out h
    rt=$(rt25) || fail "no JDK 25 runtime"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$a" || fail "build"
    heal_run "$d" "$a" >/dev/null 2>&1 || fail "recording start"
    heal_wait "$d" "$a"
    h=$(heal_dir "$d" "$a")
    [ -f "$h/cache" ] && [ -f "$h/cache.prov" ] || fail "nothing recorded: $(ls -la "$h")"
    head -c 65536 /dev/urandom >"$h/swap"
    out=$(HPACK_AOT=require HPACK_TEST_HEAL_SWAP=swap HPACK_JAVA_OPTS=-Xlog:class+load=info heal_run "$d" "$a" 2>&1) ||
        fail "the start whose cache was replaced after the judging: $out"
    [ ! -e "$h/swap" ] && [ "$(stat -c %s "$h/cache")" = 65536 ] || fail "the test hook did not swap: $(ls -la "$h")"
    grep -q 'demo.Main source: shared objects file' <<<"$out" || fail "demo.Main not from the judged cache: $out"
}

# A DA1 whose carried cache does not apply on this host (a 256 GB server:
# no compressed oops): the first start warns and records, the second passes
# the host-local cache, under require. On the build host's settings the
# carried cache is used and nothing is recorded.
t_anyhost_heal_large_heap() {
    local d=$W/heal1 err
    HPACK_JAVA_OPTS=-XX:MaxRAM=256g heal_run "$d" "$AH" >/dev/null 2>"$W/heal1.err" || fail "first start: $(tail -3 "$W/heal1.err")"
    grep -q 'warning: startup cache not used: it does not apply on this host: compressed oops are off here' "$W/heal1.err" &&
        grep -q '^hpack: healing: recording' "$W/heal1.err" || fail "first start: $(cat "$W/heal1.err")"
    heal_wait "$d" "$AH"
    HPACK_AOT=require HPACK_JAVA_OPTS=-XX:MaxRAM=256g heal_run "$d" "$AH" >/dev/null 2>"$W/heal1.err" ||
        fail "second start under require: $(tail -3 "$W/heal1.err")"
    grep -q '^hpack: host-local startup cache .* applies: compressed oops off' "$W/heal1.err" || fail "debug: $(cat "$W/heal1.err")"
    ! grep -q 'warning' "$W/heal1.err" || fail "a warning although the host-local cache applies: $(cat "$W/heal1.err")"
    # the build host's settings: the carried cache, no recording
    local d2=$W/heal1b
    heal_run "$d2" "$AH" >/dev/null 2>"$W/heal1.err"
    grep -q '^hpack: startup cache cache/.* applies' "$W/heal1.err" || fail "carried cache not used: $(cat "$W/heal1.err")"
    [ ! -e "$(heal_dir "$d2" "$AH")" ] || fail "a heal directory was made although the carried cache applies"
}

# A server stopped with SIGTERM (the launcher forwards it): the recording
# start's output is the plain start's (none of record mode's "[aot]" lines),
# it dies of the same signal, and the next start passes the cache.
t_anyhost_heal_server() {
    local d=$W/heal7 port pid rc
    local rt; rt=$(rt25)
    "$HPACK" build -q --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server -o "$W/art/healsrv"
    port=$(free_port)
    heal_run "$d" "$W/art/healsrv" "$port" >"$W/heal7.out" 2>"$W/heal7.err" & pid=$!
    WAIT_LOG=$W/heal7.err wait_for 300 "the recording server on port $port to answer" http_up "$port"
    # to the launcher, the JVM's parent, which forwards it
    local jpid lpid
    jpid=$(pgrep -f -- "-XX:AOTMode=record .*demo.http.Server $port" | head -1)
    lpid=$(ps -o ppid= -p "$jpid" | tr -d ' ')
    [ -n "$jpid" ] && [ "$(readlink "/proc/$lpid/exe")" = "$W/art/healsrv" ] || fail "no recording JVM under a launcher"
    kill -TERM "$lpid"
    rc=0; wait "$pid" || rc=$?
    [ $rc = 143 ] || fail "status $rc, expected 143 (SIGTERM): $(tail -3 "$W/heal7.err")"
    [ "$(cat "$W/heal7.out")" = "listening on $port" ] || fail "the recording start's output: $(cat "$W/heal7.out")"
    grep -q '^hpack: healing: recording' "$W/heal7.err" || fail "did not record: $(cat "$W/heal7.err")"
    heal_wait "$d" "$W/art/healsrv"
    port=$(free_port)
    HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load=info heal_run "$d" "$W/art/healsrv" "$port" >"$W/heal7.out" 2>"$W/heal7.err" & pid=$!
    WAIT_LOG=$W/heal7.err wait_for 300 "the healed server on port $port to answer" http_up "$port"
    # the JVM itself ($pid is the subshell around it, whose death would leave the server running)
    jpid=$(pgrep -f -- "demo.http.Server $port\$" | head -1)
    [ -n "$jpid" ] || fail "no healed server JVM found"
    kill -TERM "$jpid"; wait "$pid" || true
    grep -q 'demo.http.Server source: shared objects file' "$W/heal7.out" || fail "the server class is not from the host-local cache: $(tail -3 "$W/heal7.err")"
}

# Concurrent first starts: every one runs the application; exactly one
# records; then the cache serves.
t_anyhost_heal_concurrent() {
    local d=$W/heal2 pids=() i n
    for i in 1 2 3 4; do
        heal_run "$d" "$H25" "run$i" >"$W/heal2.$i.out" 2>"$W/heal2.$i.err" & pids+=($!)
    done
    for i in 1 2 3 4; do
        wait "${pids[$((i - 1))]}" || fail "start $i failed: $(tail -3 "$W/heal2.$i.err")"
        grep -qx "arg\[run$i\]" "$W/heal2.$i.out" || fail "start $i: $(cat "$W/heal2.$i.out")"
    done
    n=$(cat "$W"/heal2.*.err | grep -c '^hpack: healing: recording' || true)
    [ "$n" = 1 ] || fail "$n starts recorded, expected 1: $(cat "$W"/heal2.*.err | grep healing)"
    heal_wait "$d" "$H25"
    HPACK_AOT=require heal_run "$d" "$H25" >/dev/null 2>"$W/heal2.err" || fail "after: $(tail -3 "$W/heal2.err")"
}

# A recording killed with the application (SIGKILL to the launcher and the
# JVM): no cache appears; the next start runs plainly and records again,
# over the leftover, and its cache then serves.
t_anyhost_heal_killed_recording() {
    local d=$W/heal3 pid jpid h
    rm -f "$W/heal3.fifo"; mkfifo "$W/heal3.fifo"
    exec 7<>"$W/heal3.fifo"
    heal_run "$d" "$H25" --stdin <"$W/heal3.fifo" >"$W/heal3.out" 2>"$W/heal3.err" 7>&- & pid=$!
    WAIT_LOG=$W/heal3.err wait_for 300 "the recording application to print its greeting" grep -q 'Hello from hpack!' "$W/heal3.out"
    jpid=$(pgrep -f -- "^$d/.*-XX:AOTMode=record .*demo.Main --stdin" | head -1)
    [ -n "$jpid" ] || fail "no recording JVM found"
    local lpid; lpid=$(ps -o ppid= -p "$jpid" | tr -d ' ')
    [ "$(readlink "/proc/$lpid/exe")" = "$H25" ] || fail "the JVM's parent $lpid is not the launcher"
    kill -9 "$lpid" # the launcher first: its lock dies with it
    kill -9 "$jpid"; wait "$pid" 2>/dev/null || true
    exec 7>&-
    wait_for 60 "the recording JVM to be gone" no_process -- "^$d/.*-XX:AOTMode=record .*demo.Main --stdin"
    h=$(heal_dir "$d" "$H25")
    [ ! -e "$h/cache" ] || fail "a cache appeared from a killed recording"
    local rc=0; HPACK_AOT=require heal_run "$d" "$H25" >/dev/null 2>"$W/heal3.err" || rc=$?
    [ $rc = 124 ] || fail "require with no cache: status $rc"
    heal_run "$d" "$H25" x >"$W/heal3.out" 2>"$W/heal3.err" || fail "plain start after the kill: $(tail -3 "$W/heal3.err")"
    grep -qx 'arg\[x\]' "$W/heal3.out" && grep -q '^hpack: healing: recording' "$W/heal3.err" || fail "did not record again: $(cat "$W/heal3.err")"
    heal_wait "$d" "$H25"
    HPACK_AOT=require heal_run "$d" "$H25" >/dev/null 2>"$W/heal3.err" || fail "after: $(tail -3 "$W/heal3.err")"
}

# A tampered host-local cache (a byte changed, its provenance edited, or
# made writable by others) is never passed: a plain start, and a new
# recording replaces it.
t_anyhost_heal_tampered() {
    local d=$W/heal4 h err rc
    heal_run "$d" "$H25" >/dev/null 2>&1; heal_wait "$d" "$H25"
    h=$(heal_dir "$d" "$H25")
    cp "$h/cache" "$W/heal4.cache"
    printf 'X' | dd of="$h/cache" bs=1 seek=4096 conv=notrunc status=none
    rc=0; HPACK_AOT=require heal_run "$d" "$H25" >/dev/null 2>"$W/heal4.err" || rc=$?
    [ $rc = 124 ] && grep -q 'the host-local one does not apply: the file is not the one the launcher made' "$W/heal4.err" ||
        fail "a changed byte: status $rc: $(cat "$W/heal4.err")"
    heal_run "$d" "$H25" x >"$W/heal4.out" 2>"$W/heal4.err" || fail "start with a tampered cache: $(tail -3 "$W/heal4.err")"
    ! grep '^hpack: exec' "$W/heal4.err" | grep -q AOTCache || fail "the tampered cache was passed"
    grep -q '^hpack: healing: recording' "$W/heal4.err" || fail "no new recording: $(cat "$W/heal4.err")"
    heal_wait "$d" "$H25"
    HPACK_AOT=require heal_run "$d" "$H25" >/dev/null 2>"$W/heal4.err" || fail "the new cache: $(tail -3 "$W/heal4.err")"
    # its provenance edited (another base): refused
    python3 - "$h/cache.prov" <<'PY'
import sys, re
p = sys.argv[1]; b = open(p, 'rb').read()
open(p, 'wb').write(re.sub(rb'base=[0-9a-f]{32}', b'base=' + b'0' * 32, b))
PY
    rc=0; HPACK_AOT=require heal_run "$d" "$H25" >/dev/null 2>"$W/heal4.err" || rc=$?
    [ $rc = 124 ] && grep -q 'it was recorded for other inputs' "$W/heal4.err" || fail "edited provenance: status $rc: $(cat "$W/heal4.err")"
    # a heal directory writable by others: not used, not written
    rm -rf "$h"; mkdir -m 0777 "$h"
    rc=0; heal_run "$d" "$H25" >/dev/null 2>"$W/heal4.err" || rc=$?
    [ $rc = 0 ] && ! grep -q 'healing: recording' "$W/heal4.err" && [ -z "$(ls -A "$h")" ] ||
        fail "insecure heal directory used: status $rc: $(cat "$W/heal4.err")"
}

# Too little room for the recording (a small file system): not recorded,
# the start is plain and succeeds. Needs root (mount).
t_anyhost_heal_full_disk() {
    [ "$(id -u)" = 0 ] || fail "this test needs root (it mounts a small tmpfs)"
    local d=$W/heal5 size
    mkdir -p "$d"
    # room for the tree and 16 MB more: less than recording needs
    size=$(( $(du -sk "$W/c25/$("$HPACK" hash "$H25")" 2>/dev/null | cut -f1 || echo 0) + 16384 ))
    [ "$size" -gt 16384 ] || { HPACK_CACHE_DIR=$W/c25 run_clean "$H25" >/dev/null; size=$(( $(du -sk "$W/c25/$("$HPACK" hash "$H25")" | cut -f1) + 16384 )); }
    mount -t tmpfs -o size=${size}k,mode=0700 hpack-heal-test "$d" || fail "cannot mount a tmpfs on $d"
    local rc=0
    heal_run "$d" "$H25" x >"$W/heal5.out" 2>"$W/heal5.err" || rc=$?
    local h; h=$(heal_dir "$d" "$H25")
    local left; left=$(ls -A "$h" 2>/dev/null | grep -v '^lock$' || true)
    umount "$d"
    [ $rc = 0 ] && grep -qx 'arg\[x\]' "$W/heal5.out" || fail "the start failed on a full disk: status $rc: $(tail -3 "$W/heal5.err")"
    grep -q '^hpack: healing: not recording: [0-9]* MB free, recording needs [0-9]* MB' "$W/heal5.err" || fail "no reason: $(cat "$W/heal5.err")"
    [ -z "$left" ] || fail "left in the heal directory: $left"
}

# Switches: HPACK_HEAL=off, a bad value, options that conflict with record
# mode, a CDS runtime (JDK 17), and `hpack build --heal` (on by default,
# recorded in hpack/launch, shown by inspect).
t_anyhost_heal_switches() {
    local d=$W/heal6 rc
    HEAL=off heal_run "$d" "$H25" >/dev/null 2>"$W/heal6.err" || fail "HPACK_HEAL=off: $(cat "$W/heal6.err")"
    [ ! -e "$(heal_dir "$d" "$H25")" ] || fail "HPACK_HEAL=off made a heal directory"
    rc=0; HEAL=maybe heal_run "$d" "$H25" >/dev/null 2>"$W/heal6.err" || rc=$?
    [ $rc = 125 ] && grep -q 'HPACK_HEAL=maybe: expected on or off' "$W/heal6.err" || fail "bad value: status $rc: $(cat "$W/heal6.err")"
    HPACK_JAVA_OPTS=-Xshare:off heal_run "$d" "$H25" >/dev/null 2>"$W/heal6.err" || fail "-Xshare:off: $(cat "$W/heal6.err")"
    ! grep -q 'healing: recording' "$W/heal6.err" || fail "recorded under -Xshare:off"
    local out; out=$(HPACK_CACHE_DIR=$d HPACK_HEAL=on HPACK_DEBUG=0 HPACK_JAVA_OPTS=-Xshare:off run_clean_heal "$H25" --hpack-check) || true
    grep -qx 'host-local cache: none (the JVM options in force set -Xshare)' <<<"$out" || fail "--hpack-check does not say why: $out"
    heal_run "$d" "$H17" >/dev/null 2>"$W/heal6.err" || fail "JDK 17: $(cat "$W/heal6.err")"
    grep -q 'healing records AOT caches (JDK 24+)' "$W/heal6.err" && [ ! -e "$(heal_dir "$d" "$H17")" ] || fail "JDK 17: $(cat "$W/heal6.err")"
    # hpack build --heal: on without HPACK_HEAL
    local rt; rt=$(rt25)
    "$HPACK" build -q --heal --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/healon"
    "$HPACK" inspect "$W/art/healon" | grep -qx 'healing:        on (hpack build --heal; HPACK_HEAL=off turns it off)' || fail "inspect: $("$HPACK" inspect "$W/art/healon" | head -12)"
    "$HPACK" inspect --json "$W/art/healon" | python3 -c 'import json,sys; assert json.load(sys.stdin)["heal"] is True' || fail "inspect --json heal"
    "$HPACK" inspect --json "$H25" | python3 -c 'import json,sys; assert json.load(sys.stdin)["heal"] is False' || fail "inspect --json heal (off)"
    HPACK_CACHE_DIR=$d HPACK_HEAL= HPACK_DEBUG=1 run_clean_heal "$W/art/healon" >/dev/null 2>"$W/heal6.err" || fail "--heal artifact: $(cat "$W/heal6.err")"
    grep -q '^hpack: healing: recording' "$W/heal6.err" || fail "--heal artifact did not record: $(cat "$W/heal6.err")"
    heal_wait "$d" "$W/art/healon"
    HPACK_CACHE_DIR=$d HPACK_HEAL=off HPACK_DEBUG=0 HPACK_AOT=require run_clean_heal "$W/art/healon" >/dev/null 2>&1 &&
        fail "HPACK_HEAL=off still used the host-local cache"
    true
}
