# Reliability and security tests of the launcher (sourced by integration.sh,
# whose helpers they use). Each t_ function is one test.

CRAFT=$BUILD/craft

# A fast artifact over a fake runtime (tests/lib.sh): its bin/java prints the
# checksum of the jars it is given, so "ran altered content" is visible.
FAKE=$W/art/fake
build_fake() {
    fake_runtime "$W/fakert"
    "$HPACK" build -q --runtime "$W/fakert" --jar "$SAMPLES/hello.jar" --arg fixed -o "$FAKE"
    HPACK_CACHE_DIR=$W/fake-good "$FAKE" x >"$W/fake.expected"
    grep -q "^jar " "$W/fake.expected" || fail "fake runtime did not run: $(cat "$W/fake.expected")"
}

# 32 simultaneous first starts (the foundation asked for 16): all correct,
# the payload unpacked once.
# The shipped hpack, and the launcher it embeds in every artifact, read no
# test variable: the hooks are in the test build only.
t_no_test_hooks_shipped() {
    ! grep -a -q HPACK_TEST_ "$HPACK" || fail "build/hpack reads a test variable: $(strings "$HPACK" | grep HPACK_TEST_)"
    ! grep -a -q HPACK_TEST_ "$H25" || fail "an artifact's launcher reads a test variable"
    grep -a -q HPACK_TEST_KILL_AFTER_BYTES "$HPACK_T" || fail "the test build lost its hook (test lost its point)"
    local d=$W/nohook rc=0
    HPACK_CACHE_DIR=$d HPACK_TEST_KILL_AFTER_BYTES=1 "$H25" x >/dev/null 2>&1 || rc=$?
    [ $rc = 0 ] || fail "the shipped launcher obeyed HPACK_TEST_KILL_AFTER_BYTES (status $rc)"
}

t_concurrent_32_first_starts() {
    local n=32 dir=$W/conc32 pids=()
    for i in $(seq $n); do
        (HPACK_CACHE_DIR=$dir HPACK_DEBUG=1 "$H25" "run$i" >"$W/c32.$i.out" 2>"$W/c32.$i.err"; echo $? >"$W/c32.$i.rc") &
        pids+=($!)
    done
    wait "${pids[@]}"
    for i in $(seq $n); do
        [ "$(cat "$W/c32.$i.rc")" = 0 ] || fail "start $i failed: $(cat "$W/c32.$i.err")"
        grep -qx "arg\[run$i\]" "$W/c32.$i.out" || fail "start $i: wrong output"
    done
    local unpacks; unpacks=$(cat "$W"/c32.*.err | grep -c '^hpack: unpacking to')
    [ "$unpacks" = 1 ] || fail "payload unpacked $unpacks times"
    [ "$(ls "$dir" | grep -v '\.lock$' | wc -l)" = 1 ] || fail "cache dir holds: $(ls "$dir")"
}

t_crash_during_unpack() {
    # SIGKILL the launcher after N bytes written (test hook, so the artifact
    # comes from the test build), at 20 points over the whole unpack; the
    # next start must succeed and be complete.
    local H25=$W/art/hello25-hooks rt; rt=$(rt25)
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$H25"
    local total; total=$("$HPACK" inspect --json "$H25" | python3 -c '
import json,sys; print(sum(e["size"] for e in json.load(sys.stdin)["entries"]))')
    for k in $(seq 0 19); do
        local at=$((total * k / 20 + k * 7919)) d=$W/crash$k rc=0
        HPACK_CACHE_DIR=$d HPACK_TEST_KILL_AFTER_BYTES=$at "$H25" >/dev/null 2>&1 || rc=$?
        [ $rc = 137 ] || fail "point $k ($at bytes): status $rc, expected death by SIGKILL"
        ls "$d" | grep -q '\.tmp\.' || fail "point $k: no partial tree to recover from"
        local out; out=$(HPACK_CACHE_DIR=$d "$H25" after 2>&1) || fail "point $k: next start failed: $out"
        grep -qx 'arg\[after\]' <<<"$out" || fail "point $k: wrong output: $out"
        [ "$(ls "$d" | grep -v '\.lock$' | wc -l)" = 1 ] || fail "point $k: leftovers: $(ls "$d")"
        HPACK_CACHE_DIR=$d "$H25" --hpack-verify >/dev/null || fail "point $k: tree does not verify"
    done
}

# A tree the launcher unpacked names the boot that wrote it
# (layout/marker.c): nothing it writes is fsynced, so a crash of the machine
# may leave files whose names and sizes survived but not their bytes. The
# first start of a later boot compares the tree with the payload once,
# unpacks it again if a file differs, and settles its marker; a settled tree
# is never verified again. HPACK_TEST_BOOT_ID (test build) stands in for a
# restart.
t_tree_verified_after_restart() {
    local rt=$W/fakert-boot a=$W/art/fake-boot d=$W/boot t out want hex
    local b1=11111111-1111-4111-8111-111111111111 b2=22222222-2222-4222-8222-222222222222
    local b3=33333333-3333-4333-8333-333333333333 b4=44444444-4444-4444-8444-444444444444
    fake_runtime "$rt"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --arg fixed -o "$a"
    want=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 "$a" x) || fail "first start: $want"
    grep -q '^jar ' <<<"$want" || fail "fake runtime did not run: $want"
    hex=$("$HPACK" hash "$a") t=$d/$hex
    [ "$(cat "$t/.hpack-ok")" = "$hex
boot $b1" ] || fail "marker of a fresh tree: $(cat "$t/.hpack-ok")"
    HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 "$a" --hpack-info | grep -qx 'unpacked tree: unpacked in this boot' ||
        fail "--hpack-info: $(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 "$a" --hpack-info | grep '^unpacked')"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 HPACK_DEBUG=1 "$a" x 2>&1) || fail "same boot: $out"
    ! grep -q 'verifying\|unpacking' <<<"$out" || fail "a start of the same boot checked or wrote: $out"
    HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b2 "$a" --hpack-info |
        grep -qx 'unpacked tree: unpacked before the machine restarted (the next start checks it)' || fail "--hpack-info, b2"
    # The crash: the jar keeps its name, size and time, its bytes are zeros.
    dd if=/dev/zero of="$t/app/hello.jar" bs=1 count=200 seek=100 conv=notrunc status=none
    touch -d @315532800 "$t/app/hello.jar"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b2 HPACK_DEBUG=1 "$a" x 2>&1) || fail "after a restart: $out"
    grep -q "$hex: unpacked before the machine restarted; verifying it$" <<<"$out" || fail "no verification: $out"
    grep -q "app/hello.jar: content differs from the payload; unpacking again" <<<"$out" || fail "not unpacked again: $out"
    [ "$(grep -v '^hpack:' <<<"$out")" = "$want" ] || fail "ran other bytes: $out"
    [ "$(cat "$t/.hpack-ok")" = "$hex
boot $b2" ] || fail "marker of the tree unpacked again: $(cat "$t/.hpack-ok")"
    # A sound tree of an earlier boot: verified, kept, settled.
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b3 HPACK_DEBUG=1 "$a" x 2>&1) || fail "restart 2: $out"
    grep -q 'verifying it$' <<<"$out" && ! grep -q 'unpacking' <<<"$out" || fail "restart 2: $out"
    [ "$(cat "$t/.hpack-ok")" = "$hex" ] && [ "$(stat -c %s.%Y.%a "$t/.hpack-ok")" = 33.315532800.644 ] ||
        fail "marker not settled: $(stat -c %s.%Y.%a "$t/.hpack-ok") $(cat "$t/.hpack-ok")"
    [ -z "$(ls -A "$t" | grep '^\.hpack-ok\.')" ] || fail "temporaries left: $(ls -A "$t")"
    HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b4 "$a" --hpack-info | grep -qx 'unpacked tree: settled' || fail "--hpack-info, settled"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b4 HPACK_DEBUG=1 "$a" x 2>&1) || fail "restart 3: $out"
    ! grep -q 'verifying\|unpacking' <<<"$out" || fail "a settled tree was checked again: $out"
    [ "$(grep -v '^hpack:' <<<"$out")" = "$want" ] || fail "restart 3 ran: $out"
    # A host that shows no boot id (HPACK_TEST_BOOT_ID empty): the tree's
    # file system is synced before the tree is published, under the settled
    # marker; seen with strace.
    local nb=$W/boot-none log=$W/boot-none.strace
    command -v strace >/dev/null || fail "strace is not installed (tests/setup-deps.sh installs it)"
    HPACK_CACHE_DIR=$nb HPACK_TEST_BOOT_ID= strace -y -o "$log" -e trace=syncfs,renameat,renameat2 "$a" x >/dev/null ||
        fail "no boot id: $(cat "$log")"
    [ "$(cat "$nb/$hex/.hpack-ok")" = "$hex" ] || fail "no boot id: marker $(cat "$nb/$hex/.hpack-ok")"
    python3 - "$log" "$nb/$hex" <<'EOP' || fail "no boot id: $(cat "$log")"
import re, sys
log, tree = sys.argv[1:]
lines = open(log).read().splitlines()
sync = [n for n, l in enumerate(lines) if re.search(r'\bsyncfs\(\d+<%s\.tmp\.\d+>\) += 0' % re.escape(tree), l)]
pub = [n for n, l in enumerate(lines) if re.search(r'renameat2?\(.*"%s\.tmp\.\d+", .*"%s"\) += 0' % ((re.escape(tree.rsplit('/', 1)[1]),) * 2), l)]
if not sync or not pub or not sync[0] < pub[0]: sys.exit('syncfs %s, publish %s' % (sync, pub))
EOP
    # A read-only cache directory filled elsewhere (HPACK_CACHE_DIR, its own
    # mount): a tree of an earlier boot is checked on every start, nothing
    # written; one that lost bytes is refused, naming the file (124).
    local ro=$W/boot-ro rc=0
    HPACK_CACHE_DIR=$ro HPACK_TEST_BOOT_ID=$b1 "$a" x >/dev/null || fail "start in $ro"
    ro_start() {
        unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
            HPACK_CACHE_DIR=$1 HPACK_TEST_BOOT_ID=$2 HPACK_DEBUG=1 "$3" x' - "$ro" "$b2" "$a" 2>&1
    }
    out=$(ro_start) || fail "read-only cache directory: $out"
    grep -q 'verifying it$' <<<"$out" && [ "$(grep -v '^hpack:' <<<"$out")" = "$want" ] || fail "read-only: $out"
    [ "$(tail -n 1 "$ro/$hex/.hpack-ok")" = "boot $b1" ] || fail "read-only: the marker changed"
    dd if=/dev/zero of="$ro/$hex/app/hello.jar" bs=1 count=200 seek=100 conv=notrunc status=none
    touch -d @315532800 "$ro/$hex/app/hello.jar"
    out=$(ro_start) || rc=$?
    [ $rc = 124 ] && grep -q "^hpack: .*$hex: app/hello.jar: content differs from the payload, and the cache directory is read-only" <<<"$out" ||
        fail "read-only, a file lost its bytes: status $rc: $out"
    # The shipped launcher names this machine's boot.
    build_fake
    HPACK_CACHE_DIR=$W/boot-real "$FAKE" x >/dev/null || fail "shipped launcher"
    [ "$(tail -n 1 "$W/boot-real/$("$HPACK" hash "$FAKE")/.hpack-ok")" = "boot $(cat /proc/sys/kernel/random/boot_id)" ] ||
        fail "the shipped launcher's marker: $(cat "$W/boot-real/$("$HPACK" hash "$FAKE")/.hpack-ok")"
}

# What hpack keeps reaches the disk before its name does, so that a crash
# of the machine cannot leave a name over zeros: seen with strace, the
# rename of each temporary comes after an fsync of it (a syncfs for a
# directory tree): an image, a lock file, a runtime kept in the jlink cache,
# the marker of a store tree (and the tree before it), an artifact.
t_outputs_synced_before_rename() {
    need_jdks
    command -v strace >/dev/null || fail "strace is not installed (tests/setup-deps.sh installs it)"
    local d=$W/synced log=$W/synced.strace rt hex
    rt=$(rt25)
    mkdir -p "$d"
    # -ff: a log per process, so that no call is split into "unfinished"
    # and "resumed" halves by another process's
    # (LeakSanitizer cannot run under ptrace: a SANITIZE=1 build's leak check is off here)
    traced() {
        rm -f "$log".*
        ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
            strace -ff -y --seccomp-bpf -e trace=fsync,syncfs,rename,renameat,renameat2 -o "$log" "$@" >/dev/null
    }
    synced() { # DEST-REGEX [TREE-DIR]: the rename to a DEST follows an fsync of its source (and a syncfs of TREE-DIR)
        python3 - "$log" "$@" <<'EOP' || fail "$(cat "$log".*)"
import glob, re, sys
log, dest, tree = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else None)
def at(dirfd, name):
    if name.startswith('/'): return name
    m = re.match(r'-?\d+<(.*)>$', dirfd.strip())
    return (m.group(1) if m else '.') + '/' + name
hits = 0
for f in glob.glob(log + '.*'):
    done, seen = {}, []
    for n, line in enumerate(open(f)):
        m = re.search(r'\b(fsync|syncfs)\(\d+<([^>]*)>\) += 0', line)
        if m: done.setdefault((m.group(1), m.group(2)), n); continue
        m = re.search(r'\brename\("([^"]*)", "([^"]*)"\) += 0', line)
        if m: seen.append((n, m.group(1), m.group(2))); continue
        m = re.search(r'\brenameat2?\(([^,]*), "([^"]*)", ([^,]*), "([^"]*)".*\) += 0', line)
        if m: seen.append((n, at(m.group(1), m.group(2)), at(m.group(3), m.group(4))))
    for n, src, dst in seen:
        if not re.fullmatch(dest, dst): continue
        hits += 1
        if not done.get(('fsync', src), n) < n and not done.get(('syncfs', src), n) < n:
            sys.exit('%s renamed to %s without an fsync first' % (src, dst))
        if tree and not done.get(('syncfs', tree), n) < n:
            sys.exit('%s not synced before %s' % (tree, dst))
if not hits: sys.exit('no rename to %s seen' % dest)
EOP
    }
    traced "$HPACK" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --lock "$d/app.lock" -o "$d/app" || fail "build --lock"
    synced "$d/app.lock"
    synced "$d/app"
    traced "$HPACK" image -q "$d/app" -o "$d/app.tar" || fail "image"
    synced "$d/app.tar"
    # a store the launcher trusts: not below the world-writable /tmp
    [ "$(id -u)" = 0 ] || fail "this test needs root (it makes a store under /var/lib); CI runs as root"
    S=/var/lib/hpack-sync-test.$BASHPID # global: the EXIT trap of this test's subshell removes it
    trap 'rm -rf "$S"' EXIT
    traced "$HPACK" install "$d/app" --store "$S" || fail "install"
    hex=$("$HPACK" hash "$d/app")
    synced "$S/$hex/.hpack-ok" "$S/$hex"
    traced env HPACK_JLINK_CACHE="$d/jlc" "$HPACK" build -q --jdk "$J25" --jar "$SAMPLES/hello.jar" -o "$d/linked" ||
        fail "build --jdk"
    synced "$d/jlc/[^/.][^/]*"
}

# The same for a DA1 whose first start left the runtime's default CDS
# archives out: the check after a restart takes the tree as it is (archives
# absent even for a start that needs them, cache present and compared), and
# files a start adds to the tree (the archives) make its marker name the
# boot again.
t_restart_da1_tree() {
    need_jdks
    local rt a=$W/art/boot.da1 d=$W/boot-da1 t out hex jsa=runtime/lib/server/classes.jsa
    local b1=11111111-1111-4111-8111-111111111111 b2=22222222-2222-4222-8222-222222222222
    rt=$(rt25cds)
    "$HPACK_T" build -q --train --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$a" >/dev/null || fail "build"
    hex=$("$HPACK" hash "$a") t=$d/$hex
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 "$a" 2>&1) || fail "first start: $out"
    [ ! -e "$t/$jsa" ] && ls "$t"/cache/*.aot >/dev/null || fail "tree: no cache, or the archives unpacked"
    # The cache file lost its bytes in the crash: the tree is unpacked again.
    local c; c=$(ls "$t"/cache/*.aot)
    dd if=/dev/zero of="$c" bs=4096 count=1 seek=1 conv=notrunc status=none
    touch -d @315532800 "$c"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b2 HPACK_DEBUG=1 "$a" 2>&1) || fail "after a restart: $out"
    grep -q "cache/.*\.aot: content differs from the payload; unpacking again" <<<"$out" || fail "not unpacked again: $out"
    grep -q '^Hello from hpack' <<<"$out" && grep -q '^hpack: exec .*-XX:AOTCache=' <<<"$out" || fail "ran: $out"
    # The next boot's first start needs the archives the tree lacks: the
    # tree is checked (without them), settled, and they are added, the
    # marker naming the boot again (and that on the disk) before any of them
    # has its name: seen with strace.
    [ ! -e "$t/$jsa" ] || fail "archives unpacked for a start passing the cache"
    command -v strace >/dev/null || fail "strace is not installed (tests/setup-deps.sh installs it)"
    local log=$W/boot-da1.strace
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 HPACK_DEBUG=1 HPACK_AOT=off strace -y -o "$log" \
        -e trace=fsync,renameat,renameat2,execve,execveat "$a" 2>&1) || fail "restart 2: $out"
    python3 - "$log" "$t" <<'EOP' || fail "restart 2, the order of the calls: $(cat "$log")"
import re, sys
log, tree = sys.argv[1:]
marks, syncs, jsas = [], [], []
for n, line in enumerate(open(log)):
    if re.search(r'renameat2?\(.*"\.hpack-ok\.tmp", .*"\.hpack-ok"\) += 0', line): marks.append(n)
    if re.search(r'\bfsync\(\d+<%s>\) += 0' % re.escape(tree), line): syncs.append(n)
    if re.search(r'renameat2?\(.*"classes[^"]*\.jsa"\) += 0', line): jsas.append(n)
if len(marks) < 2 or not syncs or not jsas: sys.exit('marker renames %s, tree syncs %s, archive renames %s' % (marks, syncs, jsas))
if not (marks[-1] < syncs[-1] < jsas[0]): sys.exit('marker %s, sync %s, archives %s' % (marks, syncs, jsas))
EOP
    grep -q 'verifying it$' <<<"$out" && ! grep -q 'unpacking' <<<"$out" || fail "restart 2: $out"
    grep -q "adding the runtime's default CDS archives" <<<"$out" && [ -f "$t/$jsa" ] || fail "archives not added: $out"
    grep -q '^Hello from hpack' <<<"$out" || fail "restart 2 ran: $out"
    [ "$(cat "$t/.hpack-ok")" = "$hex
boot $b1" ] || fail "the marker of a tree added to: $(cat "$t/.hpack-ok")"
    HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 "$a" --hpack-verify >/dev/null || fail "--hpack-verify"
}

# DA0 and DA1 share a tree (same base hash), but DA0's table does not list
# DA1's cache file. After a crash that damaged that file, DA0's first start
# of the new boot checks the tree; the damaged cache it did not list must not
# pass that check, or DA1 would pass it to the JVM for good (a SIGSEGV on
# every start). A cache file that is intact stays.
# The DA0 and DA1 of one training (test launcher), built once.
trained_pair() { # NAME RUNTIME-FUNCTION HPACK: $W/art/NAME.da1 and its DA0, built once
    need_jdks
    [ -f "$W/art/$1.da1" ] && [ -f "$W/art/$1.da0" ] && return 0
    local rt; rt=$($2) || fail "no runtime ($2)"
    "$3" build -q --train --runtime "$rt" --jar "$SAMPLES/hello.jar" --keep-da0 "$W/art/$1.da0" \
        -o "$W/art/$1.da1" >/dev/null || fail "build"
}
foreign_fixture() { trained_pair foreign rt25 "$HPACK_T"; }

t_restart_foreign_cache() {
    foreign_fixture
    local a1=$W/art/foreign.da1 a0=$W/art/foreign.da0 d=$W/boot-foreign t out hex c
    local b1=11111111-1111-4111-8111-111111111111 b2=22222222-2222-4222-8222-222222222222
    local b3=33333333-3333-4333-8333-333333333333
    hex=$("$HPACK" hash "$a1") t=$d/$hex
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b1 "$a1" 2>&1) || fail "first start: $out"
    c=$(ls "$t"/cache/*.aot) || fail "no cache file in the tree"
    # The crash: the cache keeps its name, size and time, not its bytes.
    dd if=/dev/zero of="$c" bs=4096 count=64 seek=1 conv=notrunc status=none
    touch -d @315532800 "$c"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b2 HPACK_DEBUG=1 "$a0" 2>&1) || fail "DA0 after the restart: $out"
    grep -q 'verifying it$' <<<"$out" && grep -q '^Hello from hpack' <<<"$out" || fail "DA0 after the restart: $out"
    [ ! -e "$c" ] || fail "the damaged cache of DA1 stayed in the tree DA0 settled"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b2 HPACK_AOT=require "$a1" 2>&1) || fail "DA1 then: $out"
    grep -q '^Hello from hpack' <<<"$out" || fail "DA1 then: $out"
    [ -f "$c" ] || fail "DA1 did not add its cache again"
    HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b2 "$a1" --hpack-verify >/dev/null || fail "--hpack-verify after DA1 re-added its cache"
    # An intact cache file of DA1 survives DA0's check in the next boot. A
    # FIFO under a cache file's name does not hang that check (which holds
    # the tree's lock; timeout bounds a hang, it is not a wait): it is not a
    # cache file, and goes.
    local ino fifo=$t/cache/0123456789abcdef0123456789abcdef.aot rc=0
    ino=$(stat -c %i "$c")
    mkfifo "$fifo"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=$b3 HPACK_DEBUG=1 timeout 120 "$a0" 2>&1) || rc=$?
    [ $rc = 0 ] || fail "DA0, boot 3, a FIFO in cache/: status $rc: $out"
    grep -q 'verifying it$' <<<"$out" || fail "DA0, boot 3, no check: $out"
    [ "$(stat -c %i "$c" 2>/dev/null)" = "$ino" ] || fail "an intact cache file of DA1 was removed or replaced"
    [ ! -e "$fifo" ] || fail "the FIFO stayed in cache/"
    # A read-only cache directory (its own mount) is never settled: each
    # artifact checks its own entries at every start. DA0 runs (DA1's damaged
    # cache is not its to judge, nor can it be removed); DA1 is refused (124).
    local ro=$W/boot-foreign-ro
    rc=0
    out=$(HPACK_CACHE_DIR=$ro HPACK_TEST_BOOT_ID=$b1 "$a1" 2>&1) || fail "DA1 in $ro: $out"
    c=$(ls "$ro/$hex"/cache/*.aot) || fail "no cache file in $ro"
    dd if=/dev/zero of="$c" bs=4096 count=64 seek=1 conv=notrunc status=none
    touch -d @315532800 "$c"
    ro_run() {
        unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
            HPACK_CACHE_DIR=$1 HPACK_TEST_BOOT_ID=$2 "$3"' - "$ro" "$b2" "$1" 2>&1
    }
    out=$(ro_run "$a0") || fail "DA0 in a read-only cache directory: $out"
    grep -q '^Hello from hpack' <<<"$out" && [ -f "$c" ] || fail "DA0 in a read-only cache directory: $out"
    out=$(ro_run "$a1") || rc=$?
    [ $rc = 124 ] && grep -q "cache/.*\.aot: content differs from the payload, and the cache directory is read-only" <<<"$out" ||
        fail "DA1 in a read-only cache directory, its cache damaged: status $rc: $out"
}

# A read-only cache root (filled elsewhere, mounted read-only) whose tree
# lacks what a start would add (the default CDS archives a DA1 start left
# out, the cache file a DA0 start did not write): the start runs from what
# is there and says what it lacks, instead of failing on the lock it cannot
# create (exit 122 before). HPACK_AOT=require still refuses.
t_readonly_root_partial_tree() {
    cds_fixture
    local a1=$W/art/cds.da1 a0=$W/art/cds.da0 r1=$W/ro-da1 r0=$W/ro-da0 out rc
    ro_start() { # ROOT [VAR=VALUE...] ARTIFACT [ARG...]: started with ROOT mounted read-only
        unshare -m sh -c 'r=$1; shift; mount --bind "$r" "$r" && mount -o remount,bind,ro "$r" &&
            HPACK_CACHE_DIR=$r exec env "$@"' - "$@" 2>&1
    }
    HPACK_CACHE_DIR=$r1 "$a1" >/dev/null || fail "DA1's first start"
    [ ! -e "$(echo "$r1"/*/runtime/lib/server/classes.jsa)" ] || fail "DA1's start unpacked the default CDS archives"
    local how
    for how in "$a0" "HPACK_AOT=off $a1"; do
        out=$(ro_start "$r1" HPACK_DEBUG=1 $how) || fail "$how on a read-only root, its tree without the default CDS archives: $out"
        grep -q '^Hello from hpack' <<<"$out" && grep -q 'default CDS archives were left out, and the cache directory is read-only' <<<"$out" ||
            fail "$how on a read-only root: $out"
    done
    out=$(ro_start "$r1" "$a0" --hpack-verify) || fail "--hpack-verify on a read-only root: $out"
    grep -q 'entries match the payload' <<<"$out" || fail "--hpack-verify on a read-only root: $out"
    HPACK_CACHE_DIR=$r0 "$a0" >/dev/null || fail "DA0's first start"
    out=$(ro_start "$r0" "$a1") || fail "DA1 on a read-only root, its tree without the cache: $out"
    grep -q '^Hello from hpack' <<<"$out" &&
        grep -q 'warning: startup cache not used: it is not in .*, and the cache directory is read-only' <<<"$out" ||
        fail "DA1 on a read-only root without its cache: $out"
    rc=0; out=$(ro_start "$r0" HPACK_AOT=require "$a1") || rc=$?
    [ $rc = 124 ] && grep -q 'HPACK_AOT=require: the startup cache is not in' <<<"$out" ||
        fail "DA1, HPACK_AOT=require, on a read-only root without its cache: status $rc: $out"
    rc=0; out=$(ro_start "$r0" "$a1" --hpack-check) || rc=$?
    [ $rc = 120 ] && grep -q '^jvm check: not run: the cache is not in .*, and the cache directory is read-only' <<<"$out" &&
        ! grep -q 'disagree' <<<"$out" || fail "--hpack-check on a read-only root without the cache: status $rc: $out"
    out=$(ro_start "$r0" HPACK_AOT=require "$a1" --hpack-verify) && grep -q 'entries match the payload' <<<"$out" &&
        ! grep -q 'warning' <<<"$out" || fail "--hpack-verify of DA1 on a read-only root without its cache: $out"
    [ -z "$(ls "$r0"/*/cache 2>/dev/null)" ] || fail "a cache file appeared below the read-only root"
    # A tree copied under a umask (files 0640, directories 0750) and from an
    # earlier boot, on a read-only root: checked, and run
    # (the foreign pair: built with the test launcher, which takes HPACK_TEST_BOOT_ID)
    foreign_fixture
    local r2=$W/ro-umask f0=$W/art/foreign.da0 b1=11111111-1111-4111-8111-111111111111 b2=22222222-2222-4222-8222-222222222222
    HPACK_CACHE_DIR=$r2.src HPACK_TEST_BOOT_ID=$b1 "$f0" >/dev/null || fail "DA0 in $r2.src"
    mkdir -p "$r2" && (cd "$r2.src" && tar cf - .) | (cd "$r2" && umask 027 && tar --no-same-permissions -xf -) ||
        fail "copy under umask 027"
    [ "$(stat -c %a "$r2"/*/app/hello.jar)" = 640 ] || fail "the copy is not 0640: $(stat -c %a "$r2"/*/app/hello.jar)"
    out=$(ro_start "$r2" HPACK_TEST_BOOT_ID=$b2 HPACK_DEBUG=1 "$f0") && grep -q 'verifying it$' <<<"$out" &&
        grep -q '^Hello from hpack' <<<"$out" || fail "DA0 on a read-only copy made under umask 027: $out"
}

# On a host that shows no boot id a settled tree stays settled when a cache
# file is added: the file's bytes must be on the disk before its name is.
t_no_boot_id_cache_synced_first() {
    foreign_fixture
    command -v strace >/dev/null || fail "strace is not installed (tests/setup-deps.sh installs it)"
    local a1=$W/art/foreign.da1 a0=$W/art/foreign.da0 d=$W/noboot t hex log=$W/noboot.strace out
    hex=$("$HPACK" hash "$a1") t=$d/$hex
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=none "$a0" 2>&1) || fail "DA0: $out"
    [ "$(stat -c %s "$t/.hpack-ok")" = 33 ] || fail "no settled marker without a boot id: $(cat "$t/.hpack-ok")"
    out=$(HPACK_CACHE_DIR=$d HPACK_TEST_BOOT_ID=none strace -f -y -o "$log" -e trace=syncfs,renameat,renameat2 "$a1" 2>&1) ||
        fail "DA1: $out"
    grep -q '^Hello from hpack' <<<"$out" || fail "DA1: $out"
    python3 - "$log" <<'EOP' || fail "the order of the calls: $(cat "$log")"
import re, sys
syncs, renames = [], []
for n, line in enumerate(open(sys.argv[1])):
    if re.search(r'\bsyncfs\(.*\) += 0', line): syncs.append(n)
    if re.search(r'renameat2?\(.*"[0-9a-f]{32}\.aot"\) += 0', line): renames.append(n)
if len(renames) != 1 or len(syncs) < 2: sys.exit('syncfs %s, cache renames %s' % (syncs, renames))
if not (syncs[0] < renames[0] < syncs[-1]): sys.exit('syncfs %s, cache rename %s' % (syncs, renames))
EOP
}

# A first start that passes an AOT cache leaves the runtime's default CDS
# archives out of the tree (the JVM never opens them then: a fifth of a
# jlinked runtime's bytes); any start that may read them gets them first,
# written like cache files (temporary name, hash checked, rename) under the
# lock, and --hpack-verify completes the tree before it hashes it.
# -Xshare:on is the JVM's own proof: it refuses to start without the default
# archive, so the start after HPACK_AOT=off shows the launcher added it.
cds_fixture() { trained_pair cds rt25cds "$HPACK"; } # a runtime with default CDS archives
t_unpack_defers_default_cds() {
    cds_fixture
    local rt; rt=$(rt25cds)
    local a=$W/art/cds.da1 a0=$W/art/cds.da0 d=$W/defer t jsa=runtime/lib/server/classes.jsa
    local out; out=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 "$a" 2>&1) || fail "first start: $out"
    grep -q '^Hello from hpack' <<<"$out" || fail "first start printed: $out"
    grep -q '^hpack: exec .*-XX:AOTCache=' <<<"$out" || fail "the AOT cache was not passed: $out"
    grep -q 'default CDS archives left out' <<<"$out" || fail "no word of leaving them out: $out"
    t=$d/$("$HPACK" hash "$a")
    [ -f "$t/runtime/lib/server/libjvm.so" ] || fail "the tree has no libjvm.so"
    [ ! -e "$t/$jsa" ] && [ ! -e "$t/runtime/lib/server/classes_nocoops.jsa" ] || fail "the default archives were unpacked"
    ! "$t/runtime/bin/java" -Xshare:on -version >/dev/null 2>&1 || fail "-Xshare:on starts without the default archive"
    out=$(HPACK_CACHE_DIR=$d HPACK_DEBUG=1 "$a" 2>&1) || fail "warm start: $out"
    ! grep -q 'unpacking\|adding' <<<"$out" || fail "the warm start wrote: $out"
    [ ! -e "$t/$jsa" ] || fail "a start passing the cache added them"
    # Starts that pass no AOT cache: several at once, each needs them.
    local i pids=()
    for i in 1 2 3 4; do
        (HPACK_CACHE_DIR=$d HPACK_AOT=off HPACK_JAVA_OPTS=-Xshare:on run_clean "$a" >"$W/defer.$i" 2>&1) & pids+=($!)
    done
    for i in 1 2 3 4; do wait "${pids[$((i - 1))]}" || fail "HPACK_AOT=off start $i: $(cat "$W/defer.$i")"; done
    grep -l '^Hello from hpack' "$W"/defer.? | wc -l | grep -qx 4 || fail "HPACK_AOT=off starts printed: $(cat "$W"/defer.?)"
    [ "$(cmp "$t/$jsa" "$rt/lib/server/classes.jsa" && stat -c %Y "$t/$jsa" "$t/runtime/lib/server")" = "315532800
315532800" ] || fail "the added archive or its directory's time is not as unpacked"
    [ -z "$(ls -A "$t/runtime/lib/server" | grep '^\.tmp')" ] || fail "temporaries left: $(ls -A "$t/runtime/lib/server")"
    HPACK_CACHE_DIR=$d run_clean "$a" --hpack-verify >/dev/null || fail "the completed tree does not verify"
    # --hpack-verify of a tree unpacked without them, and a DA0 (no cache):
    HPACK_CACHE_DIR=$W/defer2 run_clean "$a" >/dev/null || fail "start in defer2"
    [ ! -e "$W/defer2/${t##*/}/$jsa" ] || fail "defer2: unpacked"
    HPACK_CACHE_DIR=$W/defer2 run_clean "$a" --hpack-verify >/dev/null || fail "--hpack-verify did not complete the tree"
    [ -f "$W/defer2/${t##*/}/$jsa" ] || fail "--hpack-verify: no default archive after it"
    HPACK_CACHE_DIR=$W/defer3 HPACK_JAVA_OPTS=-Xshare:on run_clean "$a0" >/dev/null || fail "DA0 with -Xshare:on"
    [ -f "$W/defer3/${t##*/}/$jsa" ] || fail "DA0's first start left the default archive out"
}

# A DA1's first start writes its cache file with the tree, in the same
# parallel pass (layout/unpack.c in_tree): the tree appears, by its one
# rename, with the cache already in it, and no second pass renames a cache
# temporary in (that pass cost a first start 3-5% of its unpack): seen
# with strace. Then the cache file and its directory as unpacked (as the
# second pass left them too).
t_first_start_one_pass() {
    cds_fixture
    command -v strace >/dev/null || fail "strace is not installed (tests/setup-deps.sh installs it)"
    local a=$W/art/cds.da1 d=$W/onepass log=$W/onepass.strace out t c
    out=$(HPACK_CACHE_DIR=$d strace -f -o "$log" -e trace=renameat,renameat2 "$a" 2>&1) || fail "first start: $out"
    grep -q '^Hello from hpack' <<<"$out" || fail "first start printed: $out"
    t=$d/$("$HPACK" hash "$a")
    c=$(ls "$t"/cache/*.aot) || fail "no cache file in the tree"
    grep -q "renameat2\?(.*\"${t##*/}\.tmp\.[0-9]*\", .*\"${t##*/}\") = 0" "$log" || fail "the tree was not renamed into place: $(cat "$log")"
    ! grep -q '\.aot"' "$log" || fail "the cache was renamed in by a second pass: $(grep '\.aot' "$log")"
    [ "$(stat -c '%a %Y' "$t/cache" "$c")" = "755 315532800
644 315532800" ] || fail "cache directory or file not as unpacked: $(stat -c '%n %a %Y' "$t/cache" "$c")"
    [ -z "$(ls -A "$t/cache" | grep '^\.tmp')" ] || fail "temporaries left: $(ls -A "$t/cache")"
    HPACK_CACHE_DIR=$d run_clean "$a" --hpack-verify >/dev/null || fail "the tree does not verify"
}

# One file is never written by two threads at once (filewriter.c: a file's
# decoded pieces are written in order by the thread that hashes them; two
# writers of one file serialise on its inode lock). Seen with strace: for
# every file, its pwrite64 calls are contiguous, in ascending order, and
# none starts while another on it is unfinished. Four files of 3 frames each,
# 2 and 3 threads.
t_unpack_one_writer_per_file() {
    command -v strace >/dev/null || fail "strace is missing (sh tests/setup-deps.sh)"
    local d=$W/onew/rt a=$W/onew/art
    mkdir -p "$W/onew"; fake_runtime "$d"
    # 6.2 MB each: 3 zstd frames; each in a directory of its own, or the
    # last three, much like the first, would be stored as their
    # differences from it (zstdref), one piece each.
    for i in 1 2 3 4; do mkdir -p "$d/lib/d$i"; seq "$i" 900000 >"$d/lib/d$i/big$i.txt"; done
    "$HPACK" build -q --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a"
    for th in 2 3; do
        rm -rf "$W/onew/x"
        HPACK_THREADS=$th strace -f -qq -e trace=openat,pwrite64,close -e signal=none -o "$W/onew/st$th" \
            "$a" --hpack-extract "$W/onew/x" >/dev/null || fail "$th threads: extract failed"
        diff -r "$d" "$W/onew/x/runtime" >/dev/null || fail "$th threads: the tree differs from the runtime"
        python3 - "$W/onew/st$th" <<'EOP' || fail "$th threads: $(tail -3 "$W/onew/st$th.err")"
import re, sys
name, at, busy, pending, checked = {}, {}, {}, {}, set()  # fd -> file, next offset, pid writing; pid -> call
def bad(m): open(sys.argv[1] + '.err', 'w').write(m + '\n'); sys.exit(1)
for line in open(sys.argv[1]):
    m = re.match(r'(\d+) +(.*)', line)
    if not m: continue
    pid, rest = m.groups()
    r = re.match(r'<\.\.\. (\w+) resumed>(.*)', rest)
    if r:  # the end of a call another thread interrupted in the log
        rest, busy_now = pending.pop(pid, '') + r.group(2), False
        if r.group(1) == 'pwrite64':
            busy = {fd: p for fd, p in busy.items() if p != pid}
            continue
    elif rest.endswith('<unfinished ...>'):
        rest = rest[:-len('<unfinished ...>')].rstrip()
        c = re.match(r'close\((\d+)', rest)
        if c:  # the fd is free once close starts: another thread's openat may get it before this returns
            name.pop(c.group(1), None)
            pending[pid] = 'closed'
            continue
        if not rest.startswith('pwrite64('):
            pending[pid] = rest
            continue
        busy_now = True
    else:
        busy_now = False
    o = re.match(r'openat\(\d+, "([^"]+)", O_WRONLY\|O_CREAT.*\) += +(\d+)$', rest)
    if o: name[o.group(2)] = o.group(1); at[o.group(2)] = 0; continue
    c = re.match(r'close\((\d+)\)', rest)
    if c: name.pop(c.group(1), None); continue
    w = re.match(r'pwrite64\((\d+), ".*"(?:\.\.\.)?, (\d+), (\d+)', rest)
    if w and w.group(1) in name:
        fd, n, off = w.group(1), int(w.group(2)), int(w.group(3))
        f = name[fd]
        if fd in busy: bad('%s: two pwrite64 at once (pids %s and %s)' % (f, busy[fd], pid))
        if off != at[fd]: bad('%s: pwrite64 at %d, expected %d (out of order)' % (f, off, at[fd]))
        at[fd] = off + n
        if re.fullmatch(r'big\d\.txt', f) and off > 0: checked.add(f)
        if busy_now: busy[fd] = pid
if len(checked) != 4: bad('several pwrite64 seen for %d big files, expected 4: %s' % (len(checked), sorted(checked)))
EOP
    done
}

# The parallel writer takes the files largest first (filewriter.c,
# claim_order), so that a first start does not end on one big file written
# in order by one thread while the others wait; and a file stored as its
# difference from another (zstdref) is decoded against that file once it is
# written, mapped from the tree, not by decoding it a second time. Seen with
# strace on one thread: the files are created in order of size, whatever
# their order in the table, and b.jsa's reference a.jsa is opened for
# reading after it was written.
t_unpack_largest_first_ref_from_file() {
    command -v strace >/dev/null || fail "strace is missing (sh tests/setup-deps.sh)"
    local d=$W/ord/rt a=$W/ord/art x=$W/ord/x log=$W/ord/st
    mkdir -p "$W/ord"; fake_runtime "$d"
    seq 1 20000 >"$d/lib/a-small.txt"       # first in the table, small
    seq 1 900000 >"$d/lib/b-big.txt"        # 6.2 MB: 3 frames
    seq 1 300000 >"$d/lib/c-mid.txt"        # 2 MB
    head -c $((3 * 1048576)) /dev/urandom | base64 >"$d/lib/server/a.jsa"  # 4.2 MB: 3 frames
    { sed '100s/^./#/' "$d/lib/server/a.jsa"; echo extra; } >"$d/lib/server/b.jsa"
    "$HPACK" build -q --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a"
    "$HPACK" inspect "$a" | awk '$NF == "runtime/lib/server/b.jsa" && $6 == "zstdref" {ok = 1} END {exit !ok}' ||
        fail "b.jsa is not stored as its difference from a.jsa"
    HPACK_THREADS=1 strace -f -qq -e trace=openat -e signal=none -o "$log" "$a" --hpack-extract "$x" >/dev/null ||
        fail "extract failed"
    diff -r "$d" "$x/runtime" >/dev/null || fail "the tree differs from the runtime"
    # The regular files in the order they were created, with their sizes.
    local order sizes
    order=$(sed -n 's/.*openat([0-9]*, "\([^"]*\)", O_WRONLY|O_CREAT.*/\1/p' "$log")
    sizes=$(for f in $order; do stat -c %s "$(find "$x" -name "$f" -type f | head -1)"; done)
    [ "$(wc -l <<<"$sizes")" -ge 8 ] || fail "too few files created: $order"
    [ "$sizes" = "$(sort -rn <<<"$sizes")" ] || fail "files not created largest first: $(paste -d' ' <(echo "$order") <(echo "$sizes") | tr '\n' ',')"
    grep -q 'openat([0-9]*, "a\.jsa", O_RDONLY|O_NONBLOCK|O_NOFOLLOW|O_CLOEXEC) = [0-9]' "$log" ||
        fail "b.jsa was not decoded against the written a.jsa: $(grep jsa "$log")"
    # On two threads too, and a.jsa is read only once it is finished: its
    # writing descriptor closed (after its hash matched), not merely created.
    local th
    for th in 2 3; do
        rm -rf "$x"
        HPACK_THREADS=$th strace -f -qq -e trace=openat,close -e signal=none -o "$log.$th" "$a" --hpack-extract "$x" \
            >/dev/null || fail "$th threads: extract failed"
        diff -r "$d" "$x/runtime" >/dev/null || fail "$th threads: the tree differs from the runtime"
        python3 - "$log.$th" <<'EOP' || fail "$th threads: $(cat "$log.$th.err")"
import re, sys
# strace -f splits a call another thread interrupts: "PID openat(... <unfinished ...>"
# then "PID <... openat resumed>) = FD". The fd a.jsa is written through, its
# close (logged when it starts: the reader can only open after it returned).
fd, closed, read, pending = None, False, False, set()
def bad(m): open(sys.argv[1] + '.err', 'w').write(m + '\n'); sys.exit(1)
for line in open(sys.argv[1]):
    m = re.match(r'(\d+) +(.*)', line)
    if not m: continue
    pid, rest = m.groups()
    if re.search(r'openat\(\d+, "a\.jsa", O_WRONLY\|O_CREAT', rest):
        o = re.search(r'\) += (\d+)$', rest.strip())
        if o: fd = o.group(1)
        else: pending.add(pid)
        continue
    r = re.match(r'<\.\.\. openat resumed>.*\) += (\d+)$', rest.strip())
    if r and pid in pending:
        pending.discard(pid); fd = r.group(1); continue
    if fd and not closed and re.match(r'close\(%s[) ]' % fd, rest): closed = True; continue
    if re.search(r'openat\(\d+, "a\.jsa", O_RDONLY', rest):
        if not closed: bad('a.jsa opened for reading before it was finished (write fd %s)' % fd)
        read = True
if not read: bad('a.jsa never read back')
EOP
    done
}

t_corruption_sweep() {
    build_fake
    local json; json=$("$HPACK" inspect --json "$FAKE")
    # 200 positions: 30 in the footer, 50 in the table, 120 over the entries' data
    python3 - "$json" >"$W/positions" <<'PY'
import json, sys
j = json.loads(sys.argv[1]); p = j["payload"]; base = p["offset"]
pos = []
foot = base + p["size"] - 128
pos += [foot + (i * 128) // 30 for i in range(30)]
pos += [base + p["toc_offset"] + (i * p["toc_size"]) // 50 for i in range(50)]
ents = [e for e in j["entries"] if e["stored_size"] > 0]
for i in range(120):
    e = ents[i % len(ents)]
    pos.append(base + e["offset"] + (i // len(ents) * 7919) % e["stored_size"])
print("\n".join(map(str, pos)))
PY
    [ "$(wc -l <"$W/positions")" = 200 ] || fail "not 200 positions"
    local refused=0 ran=0 n=0
    local size; size=$(stat -c %s "$FAKE")
    check_one() { # ARTIFACT LABEL
        local d=$W/cs.$n rc=0 out
        out=$(HPACK_CACHE_DIR=$d "$1" x 2>&1) || rc=$?
        if [ $rc = 0 ]; then
            [ "$out" = "$(cat "$W/fake.expected")" ] || fail "$2: ran with altered output: $out"
            diff -r "$W/fake-good/$(ls "$W/fake-good" | grep -v lock)" "$d/$(ls "$d" | grep -v lock)" >/dev/null ||
                fail "$2: ran from an altered tree"
            ran=$((ran + 1))
        else
            [ $rc = 121 ] || fail "$2: status $rc: $out"
            grep -q '^hpack: .*corrupt payload' <<<"$out" || fail "$2: message: $out"
            [ -z "$(ls "$d" 2>/dev/null | grep -v '\.lock$')" ] || fail "$2: left a tree: $(ls "$d")"
            refused=$((refused + 1))
        fi
        rm -rf "$d"; n=$((n + 1))
    }
    while read -r off; do
        cp "$FAKE" "$W/cor"
        local b; b=$(od -An -tu1 -j "$off" -N1 "$W/cor" | tr -d ' ')
        printf "\\$(printf '%03o' $(( (b ^ 0x55) & 255 )))" | dd of="$W/cor" bs=1 seek="$off" conv=notrunc 2>/dev/null
        check_one "$W/cor" "flip at $off"
    done <"$W/positions"
    # 20 truncations over what hpack writes after the launcher: the payload
    # and the section header table
    local poff; poff=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["payload"]["offset"])' "$json")
    for k in $(seq 0 19); do
        local at=$((poff + (size - poff) * k / 20))
        head -c $at "$FAKE" >"$W/cor"; chmod +x "$W/cor"
        check_one "$W/cor" "truncated to $at"
    done
    echo "INFO: corruption sweep: $refused refused, $ran ran correctly (flip in an unused byte)"
    [ $refused -ge 180 ] || fail "only $refused of 220 refused"
    # Cut inside the launcher's own code, the kernel kills it (SIGSEGV or
    # SIGBUS) before any of it runs: nothing unpacked, nothing executed.
    for k in 1 2 3; do
        head -c $((poff * k / 4)) "$FAKE" >"$W/cor"; chmod +x "$W/cor"
        local rc=0 out; out=$(HPACK_CACHE_DIR=$W/lcut "$W/cor" x 2>&1) || rc=$?
        [ $rc != 0 ] && ! grep -q FAKE-JAVA <<<"$out" || fail "launcher cut at $((poff * k / 4)) ran: $out"
        [ -z "$(ls "$W/lcut" 2>/dev/null | grep -v '\.lock$')" ] || fail "launcher cut: tree left"
    done
}

t_hostile_entry_names() {
    local cases=(
        "f:app/../../escape:x" "f:/abs/path:x" "f:app//x:y" "f:app/./x:y" "d:app/" "f:app/x/:y"
        "f:app/$(head -c 300 /dev/zero | tr '\0' a):y" "f:app/$(printf 'a/%.0s' $(seq 2100))x:y"
    )
    local i=0
    for spec in "${cases[@]}"; do
        "$CRAFT" "$W/hostile$i" d:runtime d:app "$spec" || fail "craft $spec"
        expect_status 121 "invalid entry path" env HPACK_CACHE_DIR="$W/hc" "$W/hostile$i"
        i=$((i + 1))
    done
    "$CRAFT" "$W/dup" d:runtime d:app f:app/a.jar:1 f:app/a.jar:2
    expect_status 121 "duplicate entry path: app/a.jar" env HPACK_CACHE_DIR="$W/hc" "$W/dup"
    # a symlink entry, then a file entry through it
    "$CRAFT" "$W/through" d:runtime d:app l:app/lnk:../runtime f:app/lnk/x:y
    expect_status 121 "parent is not a directory entry: app/lnk/x" env HPACK_CACHE_DIR="$W/hc" "$W/through"
    # a symlink out of the tree is refused while unpacking, before exec
    "$CRAFT" "$W/outlink" d:runtime d:app l:app/lnk:../../../../etc/passwd
    expect_status 121 "points outside the tree" env HPACK_CACHE_DIR="$W/hc" "$W/outlink"
    # a cache entry may not shadow the runtime: roles are bound to directories
    "$CRAFT" "$W/shadow" d:runtime d:runtime/lib d:app c:runtime/lib/libjvm.so:evil
    expect_status 121 "role in the wrong directory: runtime/lib/libjvm.so" env HPACK_CACHE_DIR="$W/hc" "$W/shadow"
    [ ! -e "$W/escape" ] && [ ! -e /escape ] || fail "something escaped"
    [ -z "$(ls "$W/hc" | grep -v '\.lock$')" ] || fail "trees left: $(ls "$W/hc")"
    # the packer refuses the same at build time: a runtime looping through a symlink
    fake_runtime "$W/looprt"; ln -s "$W/looprt" "$W/looprt/lib/loop"
    expect_status 3 "lib/loop: symlink to a directory that contains it (a loop)" "$HPACK" build --runtime "$W/looprt" --jar "$SAMPLES/hello.jar" -o "$W/art/loop"
}

# hpack extract -o FILE.tar|FILE.zip applies the launcher's link rule
# (hpk_entry_link_check): a link out of the tree, directly or through
# another link, is refused with status 9 naming the entry, and neither the
# archive nor its temporary is left. Links that stay inside are written.
t_extract_archive_link_rule() {
    local d=$W/xl; mkdir -p "$d/out"
    "$CRAFT" "$d/esc" d:runtime d:app f:app/a.jar:1 l:app/lnk:../../etc/passwd
    "$CRAFT" "$d/thr" d:runtime d:app f:app/a.jar:1 l:runtime/b:.. l:runtime/a:b/../..
    local a x
    for a in esc:app/lnk thr:runtime/a; do
        for x in tar zip; do
            expect_status 9 "symlink ${a#*:} points outside the tree" "$HPACK" extract "$d/${a%%:*}" -o "$d/out/x.$x"
            no_leftovers "$d/out"
        done
        # the same rule as a directory extraction and the launcher
        expect_status 6 "symlink ${a#*:} points outside the tree" "$HPACK" extract "$d/${a%%:*}" -o "$d/out/x"
        expect_status 121 "symlink ${a#*:} points outside the tree" env HPACK_CACHE_DIR="$d/c" "$d/${a%%:*}"
        no_leftovers "$d/out"
    done
    # inside the tree: a link to the top, a link to that link, a link to a file
    "$CRAFT" "$d/ok" d:runtime d:app f:app/a.jar:1 l:runtime/b:.. l:runtime/c:b l:runtime/d:../app/a.jar
    "$HPACK" extract "$d/ok" -o "$d/out/ok.tar" || fail "extract of valid links to tar"
    "$HPACK" extract "$d/ok" -o "$d/out/ok.zip" || fail "extract of valid links to zip"
    # and a built artifact: its runtime's links (jlink's legal/ files)
    "$HPACK" extract "$H25" -o "$d/out/h.tar" || fail "extract of $H25 to tar"
    python3 - "$d/out" "$(rt25)" <<'PY' || fail "links in the archives"
import os, stat, sys, tarfile, zipfile
out, rt = sys.argv[1], sys.argv[2]
want = {"runtime/b": "..", "runtime/c": "b", "runtime/d": "../app/a.jar"}
with tarfile.open(out + "/ok.tar") as t:
    got = {m.name: m.linkname for m in t.getmembers() if m.issym()}
assert got == want, ("tar", got)
with zipfile.ZipFile(out + "/ok.zip") as z:
    got = {i.filename: z.read(i).decode() for i in z.infolist() if stat.S_ISLNK(i.external_attr >> 16)}
assert got == want, ("zip", got)
want = {}
for d, ds, fs in os.walk(rt):
    for f in ds + fs:
        p = os.path.join(d, f)
        if os.path.islink(p):
            want["runtime/" + os.path.relpath(p, rt)] = os.readlink(p)
assert want, "the runtime has no links"
with tarfile.open(out + "/h.tar") as t:
    got = {m.name: m.linkname for m in t.getmembers() if m.issym()}
assert got == want, ("h.tar", got, want)
PY
    [ "$(ls "$d/out")" = "$(printf 'h.tar\nok.tar\nok.zip')" ] || fail "left in $d/out: $(ls "$d/out")"
}

t_cache_dir_safety() {
    build_fake
    local d=$W/safe
    HPACK_CACHE_DIR=$d/new/root "$FAKE" >/dev/null
    [ "$(stat -c %a "$d/new/root")" = 700 ] || fail "cache root mode $(stat -c %a "$d/new/root")"
    [ "$(stat -c %a "$d/new")" = 700 ] || fail "created parent mode $(stat -c %a "$d/new")"
    # owned by another user
    mkdir -p "$d/other"; chown 65534:65534 "$d/other"; chmod 700 "$d/other"
    expect_status 122 "owned by uid 65534" env HPACK_CACHE_DIR="$d/other" "$FAKE"
    # a tree owned by another user inside our root
    mkdir -p "$d/mine"; chmod 700 "$d/mine"
    local h; h=$("$HPACK" hash "$FAKE")
    HPACK_CACHE_DIR=$d/mine "$FAKE" >/dev/null; chown -R 65534:65534 "$d/mine/$h"
    expect_status 122 "refusing" env HPACK_CACHE_DIR="$d/mine" "$FAKE"
    # no $HOME: $TMPDIR/hpack-$UID, said under HPACK_DEBUG
    mkdir -p "$d/tmp"; chmod 755 "$W" "$d" "$d/tmp"
    local out; out=$(env -i PATH=/usr/bin:/bin TMPDIR="$d/tmp" HPACK_DEBUG=1 "$FAKE" 2>&1) || fail "no HOME: $out"
    grep -q "falling back to $d/tmp/hpack-0" <<<"$out" || fail "no fallback message: $out"
    [ -d "$d/tmp/hpack-0/$h" ] || fail "not unpacked in the fallback"
    # read-only $HOME (an unprivileged user whose HOME is /): the same fallback
    chmod 1777 "$d/tmp"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin HOME=/ TMPDIR="$d/tmp" HPACK_DEBUG=1 "$FAKE" 2>&1) ||
        fail "read-only HOME: $out"
    grep -q "falling back to $d/tmp/hpack-65534" <<<"$out" || fail "no fallback for read-only HOME: $out"
    # another user's pre-made fallback directory is refused
    mkdir -p "$d/tmp2/hpack-0"; chown 65534 "$d/tmp2/hpack-0"
    expect_status 122 "owned by uid 65534" env -i PATH=/usr/bin:/bin TMPDIR="$d/tmp2" "$FAKE"
}

t_disk_full() {
    local d=$W/full rc=0 err
    # RLIMIT_FSIZE: a clear error, no tree, then a normal start works
    err=$( (ulimit -f 2048; HPACK_CACHE_DIR=$d "$H25") 2>&1 >/dev/null) || rc=$?
    [ $rc = 123 ] || fail "ulimit -f: status $rc: $err"
    grep -q 'File too large' <<<"$err" || fail "message: $err"
    [ -z "$(ls "$d" | grep -v '\.lock$')" ] || fail "left behind: $(ls "$d")"
    HPACK_CACHE_DIR=$d "$H25" >/dev/null || fail "next start failed"
    # a small, full file system
    mkdir -p "$W/small"
    mount -t tmpfs -o size=8m tmpfs "$W/small" || fail "cannot mount a tmpfs for the full-disk case"
    rc=0; err=$(HPACK_CACHE_DIR=$W/small/c "$H25" 2>&1 >/dev/null) || rc=$?
    local left; left=$(ls "$W/small/c" | grep -v '\.lock$' || true)
    umount "$W/small"
    [ $rc = 123 ] || fail "full tmpfs: status $rc: $err"
    grep -q 'No space left on device' <<<"$err" || fail "message: $err"
    [ -z "$left" ] || fail "left behind: $left"
}

t_build_disk_full() {
    # hpack build onto a full file system: status 6, a message naming the
    # output, nothing left in its directory. The 6 MB incompressible file is
    # written by the writer thread while the rest compresses (stored files
    # straight from their input), the zlib build after compression.
    local d=$W/bfull/rt; mkdir -p "$W/bfull"; fake_runtime "$d"
    head -c $((6 * 1048576)) /dev/urandom >"$d/lib/random.bin"
    seq 1 1300000 >"$d/lib/big.txt"
    mkdir -p "$W/bfull/small"
    mount -t tmpfs -o size=4m tmpfs "$W/bfull/small" || fail "cannot mount a tmpfs for the full-disk case"
    local rc err left c
    for c in zstd zlib none; do
        rc=0; err=$("$HPACK" build -q --compress $c --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$W/bfull/small/app" 2>&1) || rc=$?
        left=$(ls -A "$W/bfull/small")
        [ $rc = 6 ] && [ "$err" = "hpack: $W/bfull/small/app: cannot write: No space left on device" ] && [ -z "$left" ] ||
            { umount "$W/bfull/small"; fail "$c: status $rc, message: $err; left: $left"; }
    done
    umount "$W/bfull/small"
}

t_launcher_small_promises() {
    build_fake
    # --hpack-info prints where it would unpack, and creates nothing
    local out; out=$(env -i PATH=/usr/bin:/bin HOME="$W/nohome" "$FAKE" --hpack-info)
    grep -q "^unpack directory: $W/nohome/.cache/hpack/" <<<"$out" || fail "--hpack-info: $out"
    [ ! -e "$W/nohome" ] || fail "--hpack-info created $W/nohome"
    # a bad HPACK_AOT is a usage error, but --hpack-help still works
    expect_status 125 "HPACK_AOT=sometimes" env HPACK_AOT=sometimes HPACK_CACHE_DIR="$W/sp" "$FAKE"
    HPACK_AOT=sometimes "$FAKE" --hpack-help | grep -q 'hpack-info' || fail "--hpack-help with a bad HPACK_AOT"
    # an ignored SIGXFSZ is handed on to the app as it was inherited
    local fake=$W/fakert2; fake_runtime "$fake"
    printf '#!/bin/sh\ngrep SigIgn /proc/self/status\n' >"$fake/bin/java"
    "$HPACK" build -q --runtime "$fake" --jar "$SAMPLES/hello.jar" -o "$W/art/sig"
    local ign; ign=$(sh -c "trap '' XFSZ; HPACK_CACHE_DIR='$W/sp' '$W/art/sig'" | awk '{print $2}')
    (( (0x$ign >> 24) & 1 )) || fail "SIGXFSZ (25) not ignored in the app: SigIgn $ign"
    ign=$(HPACK_CACHE_DIR=$W/sp "$W/art/sig" | awk '{print $2}')
    (( ((0x$ign >> 24) & 1) == 0 )) || fail "SIGXFSZ ignored in the app without reason: SigIgn $ign"
}

# A start killed while adding the cache to an unpacked tree leaves
# cache/.tmp.<pid>.<name>; the next start removes it under the lock.
t_stale_cache_temporaries() {
    local d=$W/sct; HPACK_AOT=off HPACK_CACHE_DIR=$d "$H25T" >/dev/null
    local tree=$d/$("$HPACK" hash "$H25T")
    local name; name=$(basename "$("$HPACK" inspect --json "$H25T" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cache"]["path"])')")
    [ ! -e "$tree/cache/$name" ] || fail "HPACK_AOT=off unpacked the cache"
    mkdir -p "$tree/cache"; echo junk >"$tree/cache/.tmp.99999.$name"
    HPACK_CACHE_DIR=$d "$H25T" >/dev/null
    [ -s "$tree/cache/$name" ] || fail "cache not added"
    [ ! -e "$tree/cache/.tmp.99999.$name" ] || fail "stale temporary left"
}
# A start that fails removes its staging tree however deep it is: the
# removal holds three descriptors at most (it held one per level, so under
# `ulimit -n 260` a tree 400 directories deep stayed behind after every
# failed start, each start adding one). The failure: a link out of the tree.
t_failed_unpack_removes_deep_tree() {
    local c=$W/deeprm specs=(d:runtime) d=runtime
    for i in $(seq 400); do d=$d/d; specs+=("d:$d"); done
    specs+=("f:$d/t:x" "l:$d/up:../t" d:app f:app/a.jar:j d:runtime/bin "l:runtime/bin/java:../../../etc/passwd")
    mkdir -p "$c"
    "$CRAFT" "$c/a" "${specs[@]}"
    for i in 1 2; do
        expect_status 121 "points outside the tree" bash -c "ulimit -n 260; HPACK_CACHE_DIR='$c/cache' '$c/a'"
        [ -z "$(ls -A "$c/cache" | grep -v '\.lock$')" ] || fail "start $i left behind: $(ls -A "$c/cache" | tr '\n' ' ')"
    done
    # A killed start's tree, as deep, with a read-only directory and links to
    # a directory and a file outside: the next start removes it, and only it.
    build_fake
    local h; h=$("$HPACK" hash "$FAKE") d=$c/cache/$h.tmp.99999
    mkdir -p "$c/outside/dir" "$d/$(printf 'd/%.0s' $(seq 400))ro"
    echo keep >"$c/outside/dir/f"; echo keep >"$c/outside/f"
    ln -s "$c/outside/dir" "$d/d/todir"; ln -s "$c/outside/f" "$d/d/d/tofile"; chmod 500 "$d/d/d"
    (ulimit -n 260; HPACK_CACHE_DIR=$c/cache "$FAKE" >/dev/null) || fail "start after a stale tree failed"
    [ ! -e "$d" ] || fail "stale tree left"
    [ "$(cat "$c/outside/dir/f" "$c/outside/f")" = "$(printf 'keep\nkeep')" ] || fail "followed a link out"
}

t_interrupted_build_leaves_nothing() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    local tmp=$W/intr-tmp jlc=$W/intr-jlc p
    mkdir -p "$tmp"
    # Each build gets its own log, and every wait is for a fact of that build
    # (its pid in the half-linked image's name, its JVM by a unique property),
    # never for text an earlier build left behind.
    # during jlink: the half-linked image, the jdeps copies and jlink itself go
    TMPDIR=$tmp HPACK_JLINK_CACHE=$jlc "$HPACK" build --jdk "$J25" --cp "$SAMPLES/http.jar" \
        --main-class demo.http.Server -o "$W/art/intr1" >"$W/intr1.log" 2>&1 &
    p=$!
    WAIT_LOG=$W/intr1.log wait_for 300 "jlink of build $p to start writing its image" jlink_image_of $jlc $p
    kill -TERM $p; wait $p && fail "interrupted build succeeded"
    # the handler kills jlink, waits for it and removes its trees before it exits
    [ -z "$(ls -A "$tmp")" ] || fail "left in TMPDIR: $(ls -A "$tmp")"
    [ -z "$(ls -A "$jlc" 2>/dev/null)" ] || fail "left in the jlink cache: $(ls -A "$jlc")"
    wait_for 30 "jlink to die with its build" no_process -- "--output $jlc/"
    [ ! -e "$W/art/intr1" ] || fail "output written"
    # killed where no handler runs (SIGKILL): jlink dies with hpack, and the
    # next build sweeps the half-linked image away
    TMPDIR=$tmp HPACK_JLINK_CACHE=$jlc "$HPACK" build --jdk "$J25" --cp "$SAMPLES/http.jar" \
        --main-class demo.http.Server -o "$W/art/intr1" >"$W/intr2.log" 2>&1 &
    p=$!
    WAIT_LOG=$W/intr2.log wait_for 300 "jlink of build $p to start writing its image" jlink_image_of $jlc $p
    kill -KILL $p; wait $p && fail "killed build succeeded"
    wait_for 30 "jlink to die with a SIGKILLed hpack (PR_SET_PDEATHSIG)" no_process -- "--output $jlc/"
    jlink_image_of $jlc $p || fail "no half-linked image of build $p to sweep (test lost its point): $(ls -A "$jlc")"
    TMPDIR=$tmp HPACK_JLINK_CACHE=$jlc "$HPACK" build -q --jdk "$J25" --cp "$SAMPLES/http.jar" \
        --main-class demo.http.Server -o "$W/art/intr1b" || fail "build after a killed one"
    ! ls -A "$jlc" | grep -q '^\.tmp\.' || fail "half-linked image not swept: $(ls -A "$jlc")"
    rm -rf "$tmp"/* # the killed build's jdeps copies: nobody could remove them
    # during training: the JVM (in its own process group), its work directory and log go
    local rt; rt=$(rt25)
    TMPDIR=$tmp "$HPACK" build --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server \
        --jvm-opt=-Dhpack.test=intr$$ --train --train-ready tcp:1 -o "$W/art/intr2" >"$W/intr3.log" 2>&1 &
    p=$!
    WAIT_LOG=$W/intr3.log wait_for 300 "the training JVM to start" pgrep -f "bin/java .*hpack.test=intr$$"
    [ -n "$(ls -A "$tmp")" ] || fail "no work directory seen during training"
    kill -INT $p; wait $p && fail "interrupted training succeeded"
    wait_for 30 "the training JVM to die with the interrupted build" no_process "bin/java .*hpack.test=intr$$"
    [ -z "$(ls -A "$tmp")" ] || fail "left in TMPDIR after training: $(ls -A "$tmp")"
    [ ! -e "$W/art/intr2" ] && [ ! -e "$W/art/intr2.train.log" ] || fail "output or log left: $(ls "$W/art")"
}
# jlink_image_of CACHE PID: build PID's half-linked image exists and jlink has
# started writing into it.
jlink_image_of() {
    local d
    for d in "$1"/.tmp.*."$2"; do [ -d "$d" ] && [ -n "$(ls -A "$d")" ] && return 0; done
    return 1
}

# Large settled inputs are mapped instead of read (packer/inputfile.c): the
# same bytes as a build that reads them all; an input cut short under the
# mapping (SIGBUS) or changed after it ends the build with status 8 naming
# the file, and leaves nothing behind.
t_mapped_inputs() {
    local rt; rt=$(rt25)
    HPACK_TEST_MAP=never "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/map-read"
    HPACK_TEST_MAP=always "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/map-mapped"
    cmp "$W/art/map-read" "$W/art/map-mapped" || fail "a mapped build differs from a read one"
    "$HPACK_T" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/map-default"
    cmp "$W/art/map-read" "$W/art/map-default" || fail "the default build differs from a read one"
    # A big file already compressed is stored as it is: a mapped one's
    # stored hash is taken with its content hash, through read(2).
    rm -rf "$W/maprt"
    cp -a "$rt" "$W/maprt"
    head -c 3000000 /dev/urandom >"$W/maprt/lib/extra.gz"
    # and a class path jar of 2 MB that does not compress: its frames are
    # compressed from the mapping, then it is stored over them
    python3 -c 'import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as z: z.writestr("blob.bin", os.urandom(2000000))' "$W/big.jar"
    local f how cp=(--cp "$SAMPLES/hello.jar:$W/big.jar" --main-class demo.Main)
    HPACK_TEST_MAP=never "$HPACK_T" build -q --runtime "$W/maprt" "${cp[@]}" -o "$W/art/map-read2"
    HPACK_TEST_MAP=always "$HPACK_T" build -q --runtime "$W/maprt" "${cp[@]}" -o "$W/art/map-mapped2"
    cmp "$W/art/map-read2" "$W/art/map-mapped2" || fail "a mapped build with stored files differs from a read one"
    for f in runtime/lib/extra.gz app/big.jar; do
        "$HPACK_T" inspect "$W/art/map-mapped2" | grep -q " stored .* $f\$" ||
            fail "$f not stored: $("$HPACK_T" inspect "$W/art/map-mapped2" | grep "$f")"
    done
    "$HPACK_T" verify "$W/art/map-mapped2" >/dev/null || fail "hpack verify refuses the mapped build"
    for how in truncate grow; do
        rm -rf "$W/maprt" "$W/mapout"
        cp -a "$rt" "$W/maprt"
        mkdir "$W/mapout"
        local want="maprt/lib/modules: input changed during the build"
        [ $how = truncate ] && want="maprt/lib/modules: input file shrank during the build"
        HPACK_TEST_MAP=always HPACK_TEST_CHANGE_MAPPED=$how:/lib/modules \
            expect_status 8 "$want" "$HPACK_T" build --runtime "$W/maprt" --jar "$SAMPLES/hello.jar" -o "$W/mapout/a"
        [ -z "$(ls -A "$W/mapout")" ] || fail "$how: left in the output directory: $(ls -A "$W/mapout")"
    done
}
