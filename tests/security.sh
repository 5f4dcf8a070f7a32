# Security tests with two real local users, a victim and an attacker
# (docs/security.md sections 1, 5 and 8; sourced by integration.sh, whose
# helpers they use). These tests NEED ROOT: they create the users with
# useradd and run as them with setpriv; CI runs as root. Without root they
# fail, saying so.
#
# The fake runtime's bin/java (tests/lib.sh) prints the checksum of the jars
# it is given; an attacker's bin/java here leaves a file named pwned.<uid>:
# "the attacker's code ran as the victim" is a file that must never appear.

SEC_V=hpk-victim SEC_A=hpk-attacker SEC_G=hpk-proj
SEC_ROUNDS=40 # rounds of each race

# Create the users (once per machine) and a world-searchable area $S for one test.
sec_setup() {
    [ "$(id -u)" = 0 ] || fail "this test needs root: it creates two users (useradd) and runs as them (setpriv)"
    command -v useradd >/dev/null && command -v setpriv >/dev/null || fail "useradd and setpriv are needed"
    getent group "$SEC_G" >/dev/null || groupadd "$SEC_G" || fail "groupadd $SEC_G"
    for u in "$SEC_V" "$SEC_A"; do
        id -u "$u" >/dev/null 2>&1 || useradd --no-create-home --home-dir /nonexistent --shell /bin/sh -G "$SEC_G" "$u" ||
            fail "useradd $u"
    done
    VU=$(id -u "$SEC_V") AU=$(id -u "$SEC_A")
    S=$W/sec.$1
    rm -rf "$S"; mkdir -p "$S"; chmod 755 "$W" "$W/art" "$S"
    build_fake
    chmod 755 "$FAKE"
    # the attacker's tree: the real one with a bin/java that leaves a mark
    mkdir -p "$S/evil"
    HPACK_CACHE_DIR=$S/evil "$FAKE" >/dev/null
    H=$("$HPACK" hash "$FAKE")
    printf '#!/bin/sh\ntouch %s/pwned.$(id -u)\necho PWNED\n' "$S" >"$S/evil/$H/runtime/bin/java"
    chmod -R a+rX "$S/evil"; chown -R "$SEC_A" "$S/evil"
}
# as USER CMD...: run as that user with their groups and an empty environment
# but for the variables given (CMD may start with NAME=VALUE words).
as() {
    local u=$1; shift
    (cd / && setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups env -i PATH=/usr/bin:/bin "$@")
}
not_pwned() { ! ls "$S"/pwned.* >/dev/null 2>&1 || fail "the attacker's code ran: $(ls "$S"/pwned.*)"; }
genuine() { grep -qx "$(grep '^jar ' "$W/fake.expected")" <<<"$1" || fail "not the genuine jar: $1"; }

# Finding 1: a cache root below a directory another user can write, or an
# XDG_CACHE_HOME/HOME in one, is an error naming that directory; never a
# silent fallback.
t_sec_cache_root_ancestors() {
    sec_setup anc
    mkdir -p "$S/tmp"; chmod 1777 "$S/tmp"
    # a group-writable project directory
    mkdir -p "$S/proj/victim-hpack"; chgrp "$SEC_G" "$S/proj"; chmod 2775 "$S/proj"
    chown "$SEC_V" "$S/proj/victim-hpack"; chmod 700 "$S/proj/victim-hpack"
    expect_status 122 "$S/proj: writable by group or others and not sticky" \
        as "$SEC_V" HPACK_CACHE_DIR="$S/proj/victim-hpack" "$FAKE"
    no_leftovers "$S/proj/victim-hpack"
    # XDG_CACHE_HOME (and HOME) in a 0777 directory the attacker made first
    as "$SEC_A" mkdir -m 777 "$S/tmp/shared"
    expect_status 122 "$S/tmp/shared: owned by uid $AU" as "$SEC_V" XDG_CACHE_HOME="$S/tmp/shared/xdg" TMPDIR="$S/tmp" "$FAKE"
    expect_status 122 "$S/tmp/shared: owned by uid $AU" as "$SEC_V" HOME="$S/tmp/shared" TMPDIR="$S/tmp" "$FAKE"
    [ ! -e "$S/tmp/shared/xdg" ] && [ ! -e "$S/tmp/shared/.cache" ] || fail "created below the attacker's directory"
    [ ! -e "$S/tmp/hpack-$VU" ] || fail "fell back silently to $S/tmp/hpack-$VU"
    # a directory of the attacker's on the way, even 0755: she could rename the root away
    mkdir -m 755 "$S/att"; chown "$SEC_A" "$S/att"; mkdir -m 700 "$S/att/v"; chown "$SEC_V" "$S/att/v"
    expect_status 122 "$S/att: owned by uid $AU" as "$SEC_V" HPACK_CACHE_DIR="$S/att/v" "$FAKE"
    no_leftovers "$S/att/v"
    # links on the way: the victim's own is followed, the attacker's is not
    mkdir -m 700 "$S/vroot"; chown "$SEC_V" "$S/vroot"
    as "$SEC_V" ln -s "$S/vroot" "$S/tmp/vlink"
    local out; out=$(as "$SEC_V" HPACK_CACHE_DIR="$S/tmp/vlink/c" "$FAKE") || fail "through the victim's own link: $out"
    genuine "$out"
    [ -d "$S/vroot/c/$H" ] || fail "not unpacked through the victim's link"
    as "$SEC_A" ln -s "$S/vroot" "$S/tmp/alink"
    expect_status 122 "$S/tmp/alink: owned by uid $AU" as "$SEC_V" HPACK_CACHE_DIR="$S/tmp/alink/c" "$FAKE"
    # a root in a sticky directory is fine: others cannot rename it
    out=$(as "$SEC_V" HPACK_CACHE_DIR="$S/tmp/vc" "$FAKE") || fail "root in a sticky directory: $out"
    genuine "$out"
    # the exec line names the real path, and ${HPACK_APP} too
    out=$(as "$SEC_V" HPACK_CACHE_DIR="$S/tmp/vlink/c" HPACK_DEBUG=1 "$FAKE" 2>&1) || fail "$out"
    grep -q "^hpack: exec $S/vroot/c/$H/runtime/bin/java " <<<"$out" || fail "exec line: $out"
    not_pwned
}

# Finding 2: the /tmp fallback never follows a planted link, and never uses
# a directory someone else made.
t_sec_tmp_fallback_link() {
    sec_setup tmp
    mkdir -p "$S/tmp" "$S/vhome"; chmod 1777 "$S/tmp"; chown "$SEC_V" "$S/vhome"; chmod 755 "$S/vhome"
    as "$SEC_A" ln -s "$S/vhome" "$S/tmp/hpack-$VU"
    expect_status 122 "$S/tmp/hpack-$VU: owned by uid $AU" as "$SEC_V" TMPDIR="$S/tmp" "$FAKE"
    no_leftovers "$S/vhome"
    as "$SEC_A" rm "$S/tmp/hpack-$VU"
    as "$SEC_A" ln -s "$S/evil" "$S/tmp/hpack-$VU"
    expect_status 122 "$S/tmp/hpack-$VU: owned by uid $AU" as "$SEC_V" TMPDIR="$S/tmp" "$FAKE"
    as "$SEC_A" rm "$S/tmp/hpack-$VU"
    as "$SEC_A" mkdir -m 700 "$S/tmp/hpack-$VU"
    expect_status 122 "owned by uid $AU" as "$SEC_V" TMPDIR="$S/tmp" "$FAKE"
    rm -rf "$S/tmp/hpack-$VU"
    local out; out=$(as "$SEC_V" TMPDIR="$S/tmp" "$FAKE") || fail "own fallback: $out"
    genuine "$out"
    [ "$(stat -c %U "$S/tmp/hpack-$VU/$H")" = "$SEC_V" ] || fail "fallback tree not the victim's"
    not_pwned
}

# The race driver: the attacker swaps names for a fixed number of rounds
# while the victim starts the application. Every start either runs the
# genuine code or is refused (122); the attacker's code never runs.
# $1: the attacker's loop (bash, as the attacker); $2: victim's variables.
race() {
    local loop=$1 env=$2 ok=0 refused=0 rc out
    touch "$S/go"
    as "$SEC_A" bash -c "while [ -e $S/go ]; do $loop; done" >/dev/null 2>&1 &
    local apid=$!
    for i in $(seq "$SEC_ROUNDS"); do
        [ $((i % 3)) = 0 ] && rm -rf "$S/tmp/hpack-$VU" # a first start now and then
        rc=0; out=$(as "$SEC_V" $env "$FAKE" 2>&1) || rc=$?
        case $rc in
            0) genuine "$out"; ok=$((ok + 1)) ;;
            122) refused=$((refused + 1)) ;;
            *) rm -f "$S/go"; wait "$apid"; fail "round $i: status $rc: $out" ;;
        esac
    done
    rm -f "$S/go"; wait "$apid" || true
    [ $((ok + refused)) = "$SEC_ROUNDS" ] || fail "rounds: $ok ran, $refused refused"
    echo "INFO: race ($loop): $ok genuine starts, $refused refused, of $SEC_ROUNDS"
    not_pwned
}
t_sec_race_swaps() {
    sec_setup race
    mkdir -p "$S/tmp" "$S/vhome"; chmod 1777 "$S/tmp"; chown "$SEC_V" "$S/vhome"; chmod 755 "$S/vhome"
    # the rename swap of finding 1, in a group-writable project directory
    mkdir -p "$S/proj"; chgrp "$SEC_G" "$S/proj"; chmod 2775 "$S/proj"
    as "$SEC_V" mkdir -m 700 "$S/proj/victim-hpack"
    cp -a "$S/evil" "$S/proj/evil"
    race "mv -T $S/proj/victim-hpack $S/proj/away; mv -T $S/proj/evil $S/proj/victim-hpack; mv -T $S/proj/victim-hpack $S/proj/evil; mv -T $S/proj/away $S/proj/victim-hpack" \
        "HPACK_CACHE_DIR=$S/proj/victim-hpack"
    # the symlink swap of finding 2 in a sticky /tmp: plant, repoint, remove
    race "ln -sfn $S/vhome $S/tmp/hpack-$VU; ln -sfn $S/evil $S/tmp/hpack-$VU; rm -f $S/tmp/hpack-$VU" "TMPDIR=$S/tmp"
    no_leftovers "$S/vhome"
    # renaming the victim's fallback away (sticky: the attacker may not)
    race "cp -a $S/evil $S/tmp/aevil; mv -T $S/tmp/hpack-$VU $S/tmp/away; mv -T $S/tmp/aevil $S/tmp/hpack-$VU; rm -rf $S/tmp/aevil" "TMPDIR=$S/tmp"
}

# A runtime whose bin/java records like a JDK 25 in training mode: writes
# the AOT configuration, then the cache, at the paths it is given.
train_runtime() {
    fake_runtime "$1"
    cat >"$1/bin/java" <<'EOS'
#!/bin/sh
conf= cache= create=
for a in "$@"; do
    case "$a" in
        -XX:AOTConfiguration=*) conf=${a#*=} ;;
        -XX:AOTCache=*) cache=${a#*=} ;;
        -XX:AOTMode=create) create=1 ;;
    esac
done
if [ -n "$create" ]; then echo "cache from $conf" >"$cache"; elif [ -n "$conf" ]; then echo conf >"$conf"; fi
echo "FAKE-JAVA $*"
# the flags training records (docs/format.md 9.3), as -XX:+PrintFlagsFinal prints them
case " $* " in *" -XX:+PrintFlagsFinal "*) for f in UseCompressedOops=true UseCompressedClassPointers=true \
    ObjectAlignmentInBytes=8 UseCompactObjectHeaders=false UseG1GC=true; do echo "     bool ${f%=*} = ${f#*=} {product} {default}"; done ;; esac
EOS
    chmod 755 "$1/bin/java"
}

# Finding 3: training outputs in a shared directory, and --with-cache.
t_sec_train_outputs() {
    sec_setup train
    train_runtime "$S/trt"
    local art=$S/trainable
    "$HPACK" build -q --runtime "$S/trt" --jar "$SAMPLES/hello.jar" -o "$art"; chmod 755 "$art"
    mkdir -p "$S/tmp" "$S/vhome" "$S/vc"; chmod 1777 "$S/tmp"; chown "$SEC_V" "$S/vhome" "$S/vc"; chmod 700 "$S/vc"
    echo "the victim's file" >"$S/vhome/secret"; chown "$SEC_V" "$S/vhome/secret"
    # (a) links planted at every name the launcher once wrote through
    for n in app.aot.prov.tmp app.aot.aotconf app.aot.tmp; do as "$SEC_A" ln -s "$S/vhome/secret" "$S/tmp/$n"; done
    local out; out=$(as "$SEC_V" HPACK_CACHE_DIR="$S/vc" HPACK_TRAIN="$S/tmp/app.aot" "$art" 2>&1) || fail "training: $out"
    [ "$(cat "$S/vhome/secret")" = "the victim's file" ] || fail "the victim's file was overwritten: $(cat "$S/vhome/secret")"
    [ "$(stat -c %U "$S/tmp/app.aot")" = "$SEC_V" ] && [ "$(stat -c %U "$S/tmp/app.aot.prov")" = "$SEC_V" ] || fail "outputs not the victim's"
    grep -q "^cache from /proc/self/fd/249/aotconf" "$S/tmp/app.aot" || fail "cache: $(cat "$S/tmp/app.aot")"
    [ -z "$(ls -A "$S/tmp" | grep hpack-train)" ] || fail "private directory left: $(ls -A "$S/tmp")"
    # (b) the attacker's own app2.aot (and a link at app3.aot): training refuses them, names them
    as "$SEC_A" sh -c "echo evil >$S/tmp/app2.aot; echo evil >$S/tmp/app2.aot.prov"
    expect_status 123 "$S/tmp/app2.aot exists and belongs to uid $AU" \
        as "$SEC_V" HPACK_CACHE_DIR="$S/vc" HPACK_TRAIN="$S/tmp/app2.aot" "$art"
    as "$SEC_A" ln -s "$S/vhome/secret" "$S/tmp/app3.aot.prov"
    expect_status 123 "app3.aot.prov exists and belongs to uid $AU" \
        as "$SEC_V" HPACK_CACHE_DIR="$S/vc" HPACK_TRAIN="$S/tmp/app3.aot" "$art"
    [ "$(cat "$S/vhome/secret")" = "the victim's file" ] || fail "the victim's file was changed"
    # --with-cache refuses a cache another user owns (here root builds)
    expect_status 7 "app2.aot: startup cache owned by uid $AU, not by you" \
        "$HPACK" build --runtime "$S/trt" --jar "$SAMPLES/hello.jar" --with-cache "$S/tmp/app2.aot" -o "$S/da1"
    # ... whether or not its provenance is there when it looks: she must not
    # be able to make hers appear just after the check
    as "$SEC_A" sh -c "echo evil >$S/tmp/app4.aot"
    expect_status 7 "app4.aot: startup cache owned by uid $AU, not by you" \
        "$HPACK" build --runtime "$S/trt" --jar "$SAMPLES/hello.jar" --with-cache "$S/tmp/app4.aot" -o "$S/da1"
    # ... or one in a directory others may write (not sticky), even its own
    mkdir -p "$S/proj"; chgrp "$SEC_G" "$S/proj"; chmod 2775 "$S/proj"; cp "$S/tmp/app.aot" "$S/tmp/app.aot.prov" "$S/proj/"
    expect_status 7 "$S/proj: writable by group or others and not sticky" \
        "$HPACK" build --runtime "$S/trt" --jar "$SAMPLES/hello.jar" --with-cache "$S/proj/app.aot" -o "$S/da1"
    # ... or one writable by others
    mkdir -m 700 "$S/mine"; cp "$S/tmp/app.aot" "$S/tmp/app.aot.prov" "$S/mine/"; chmod 666 "$S/mine/app.aot"
    expect_status 7 "writable by group or others" \
        "$HPACK" build --runtime "$S/trt" --jar "$SAMPLES/hello.jar" --with-cache "$S/mine/app.aot" -o "$S/da1"
    [ ! -e "$S/da1" ] || fail "a DA1 was written"
    not_pwned
}

# Finding 4: group/other write bits in entry modes are refused; a warm
# start repairs a jar that is not the user's or that others may write.
t_sec_entry_modes() {
    sec_setup modes
    local c=$W/sec.modes/craft
    mkdir -p "$c"
    "$CRAFT" "$c/f666" d:runtime d:runtime/bin F:runtime/bin/java:x d:app f:app/a.jar:j
    "$CRAFT" "$c/d777" d:runtime D:app f:app/a.jar:j
    for a in f666 d777; do
        expect_status 121 "unsupported entry type or mode" env HPACK_CACHE_DIR="$c/root" "$c/$a"
        local rc=0; "$HPACK" extract "$c/$a" -o "$c/x.$a" 2>/dev/null || rc=$?
        [ $rc != 0 ] && [ ! -e "$c/x.$a" ] || fail "hpack extract accepted $a (status $rc)"
    done
    # the victim's tree; a jar made writable by the group (as an artifact
    # made by another writer once could), changed by the attacker in place,
    # size and time kept: the next start restores it
    mkdir -m 700 "$S/vc"; chown "$SEC_V" "$S/vc"
    local out; out=$(as "$SEC_V" HPACK_CACHE_DIR="$S/vc" "$FAKE") || fail "$out"
    local jar=$S/vc/$H/app/hello.jar
    chgrp "$SEC_G" "$jar"; chmod 664 "$jar"; chmod 755 "$S/vc"
    as "$SEC_A" sh -c "printf EVIL | dd of=$jar bs=1 seek=100 conv=notrunc 2>/dev/null; touch -d @315532800 $jar"
    out=$(as "$SEC_V" HPACK_CACHE_DIR="$S/vc" HPACK_DEBUG=1 "$FAKE" 2>&1) || fail "$out"
    grep -q "class path changed" <<<"$out" || fail "the changed jar was not noticed: $out"
    genuine "$out"
    [ "$(stat -c %a "$jar")" = 644 ] || fail "jar mode after repair: $(stat -c %a "$jar")"
    # a jar owned by another user (same size, same time) is restored too
    chown "$SEC_A" "$jar"
    out=$(as "$SEC_V" HPACK_CACHE_DIR="$S/vc" HPACK_DEBUG=1 "$FAKE" 2>&1) || fail "$out"
    grep -q "class path changed" <<<"$out" || fail "another user's jar was not noticed: $out"
    [ "$(stat -c %U "$jar")" = "$SEC_V" ] || fail "jar owner after repair: $(stat -c %U "$jar")"
    not_pwned
}

# Finding 5: a cache-role entry is a file or a directory; a link there is
# refused by the launcher and by every form of extraction.
t_sec_cache_role_links() {
    local c=$W/sec.clink
    mkdir -p "$c"
    "$CRAFT" "$c/a" d:runtime d:app f:app/a.jar:j d:cache l:cache/x.aot:../app/a.jar
    expect_status 121 "unsupported entry type or mode" env HPACK_CACHE_DIR="$c/root" "$c/a"
    expect_status 121 "unsupported entry type or mode" "$c/a" --hpack-extract "$c/x1"
    for o in x2 x3.tar x4.zip; do
        local rc=0; "$HPACK" extract "$c/a" -o "$c/$o" 2>/dev/null || rc=$?
        [ $rc != 0 ] || fail "hpack extract -o $o accepted a cache-role link"
    done
    [ "$(ls -A "$c")" = a ] || fail "left behind: $(ls -A "$c")"
}

# Finding 6: many long links are checked with one binary search per
# component (the time is measured by hand, docs/security.md section 4; here
# the rule's verdicts): 1,000 links of 400-byte targets through a
# deep directory chain unpack, and one through another link is refused.
t_sec_many_links() {
    local c=$W/sec.links specs=(d:runtime) d=runtime
    mkdir -p "$c"
    for i in $(seq 200); do d=$d/d; specs+=("d:$d"); done
    local down; down=$(printf 'd/%.0s' $(seq 199))
    specs+=("f:$d/t:x")
    for i in $(seq 1000); do specs+=("l:runtime/l$i:${down}d/t"); done
    specs+=(d:app f:app/a.jar:j)
    "$CRAFT" "$c/ok" "${specs[@]}"
    HPACK_CACHE_DIR=$c/root "$c/ok" --hpack-verify >/dev/null || fail "1,000 long links refused"
    [ "$(readlink "$c/root/$("$HPACK" hash "$c/ok")/runtime/l1000")" = "${down}d/t" ] || fail "link not unpacked"
    "$CRAFT" "$c/bad" "${specs[@]}" "l:$d/x:t" "l:runtime/y:${down}d/x/../t"
    expect_status 121 "points outside the tree" env HPACK_CACHE_DIR="$c/root2" "$c/bad"
}

# What held, kept tested: descriptor 250 already open is replaced; a
# descriptor limit too low for it is a clear error.
t_sec_descriptors() {
    build_fake
    local out
    out=$(exec 250</etc/passwd; HPACK_CACHE_DIR=$W/sec.fd "$FAKE") || fail "fd 250 open: $out"
    genuine "$out"
    out=$(ulimit -n 251; HPACK_CACHE_DIR=$W/sec.fd "$FAKE") || fail "ulimit -n 251: $out"
    genuine "$out"
    expect_status 126 "cannot keep the unpacked tree open at descriptor 250" \
        bash -c "ulimit -n 12; HPACK_CACHE_DIR=$W/sec.fd $FAKE"
}

# The jlink cache follows the same rule (docs/security.md section 7): a
# link the attacker planted at its name is not followed, and a cache below
# her directory is refused, before jlink runs.
t_sec_jlink_cache_link() {
    [ -n "$J25" ] || fail "JDK 25 not found"
    sec_setup jlink
    mkdir -p "$S/tmp" "$S/mine"; chmod 1777 "$S/tmp"; chmod 700 "$S/mine"
    as "$SEC_A" ln -s "$S/mine" "$S/tmp/hpack-jlink-0"
    expect_status 6 "$S/tmp/hpack-jlink-0: owned by uid $AU" \
        env HPACK_JLINK_CACHE="$S/tmp/hpack-jlink-0" "$HPACK" build --jdk "$J25" --jar "$SAMPLES/hello.jar" -o "$S/a"
    as "$SEC_A" mkdir -m 777 "$S/tmp/hers"
    expect_status 6 "$S/tmp/hers: owned by uid $AU" \
        env HPACK_JLINK_CACHE="$S/tmp/hers/jl" "$HPACK" build --jdk "$J25" --jar "$SAMPLES/hello.jar" -o "$S/a"
    no_leftovers "$S/mine"
    [ ! -e "$S/tmp/hers/jl" ] && [ ! -e "$S/a" ] || fail "created below the attacker's directory"
}

# A ':' in a class path jar's name: the JVM splits its class path there, so
# app/my:app.jar would be the elements app/my and app.jar, the second
# relative to the working directory, whose app.jar anyone who can write
# there supplies. hpack build names such a host jar my_app.jar in the tree;
# a jar of a distribution keeps its name and is refused; a crafted
# hpack/launch with such a value, or with a last component '*' (which the
# java launcher expands), is refused by the launcher and by hpack verify.
t_sec_cp_separator() {
    local d=$W/sec.cpsep rt; rt=$(rt25)
    rm -rf "$d"; mkdir -p "$d/in" "$d/cwd/src/demo" "$d/dist/lib" "$d/out"
    cp "$SAMPLES/hello.jar" "$d/in/my:app.jar"
    printf 'package demo;\npublic class Main { public static void main(String[] a) { System.out.println("EVIL"); } }\n' \
        >"$d/cwd/src/demo/Main.java"
    "$J25/bin/javac" --release 17 -d "$d/cwd/classes" "$d/cwd/src/demo/Main.java" || fail "javac"
    "$J25/bin/jar" --create --file "$d/cwd/app.jar" -C "$d/cwd/classes" . || fail "jar"
    "$HPACK" build -q --runtime "$rt" --jar "$d/in/my:app.jar" -o "$d/a" || fail "build with my:app.jar"
    "$HPACK" inspect "$d/a" | grep -q ' app/my_app\.jar$' || fail "not packed as app/my_app.jar"
    local out; out=$(cd "$d/cwd" && HPACK_CACHE_DIR=$d/c "$d/a" x 2>&1) || fail "run: $out"
    ! grep -q EVIL <<<"$out" || fail "the working directory's app.jar ran: $out"
    grep -q '^arg\[x\]$' <<<"$out" || fail "not the packed app: $out"
    cp "$SAMPLES/hello.jar" "$d/dist/lib/x:y.jar"
    expect_status 4 "dist/lib/x:y.jar: a class path jar cannot be named with ':'" \
        "$HPACK" build --runtime "$rt" --app-dist "$d/dist" --cp 'lib/*' --main-class demo.Main -o "$d/out/b"
    no_leftovers "$d/out"
    local v
    for v in 'app/a.jar:app.jar' 'app/*' 'app/a.jar'; do
        "$CRAFT" "$d/crafted" d:runtime d:runtime/bin f:runtime/bin/java:x d:app f:app/a.jar:j "C:$v" || fail "craft $v"
        if [ "$v" = app/a.jar ]; then
            "$HPACK" verify "$d/crafted" >/dev/null || fail "the control does not verify"
            continue
        fi
        expect_status 121 "hpack/launch is malformed" env HPACK_CACHE_DIR="$d/c2" "$d/crafted"
        ! "$HPACK" verify "$d/crafted" >/dev/null 2>&1 || fail "hpack verify accepts cp=$v"
    done
}

# Entry names may hold any byte but NUL: the listings (hpack inspect, hpack
# diff, --hpack-info) and messages write control bytes as \xNN, so a name
# cannot erase a line on the terminal or forge a row of the table.
t_sec_listing_escapes() {
    local d=$W/sec.esc
    rm -rf "$d"; mkdir -p "$d"
    "$CRAFT" "$d/plain" d:runtime d:runtime/bin f:runtime/bin/java:x d:app f:app/a.jar:j || fail craft
    "$CRAFT" "$d/esc" d:runtime d:runtime/bin f:runtime/bin/java:x d:app f:app/a.jar:j \
        $'f:app/b\e[2K\r.jar:x' $'f:app/n\nconfig    stored  0644 y.jar:y' $'f:app/c\xc2\x9b2J\x9b.jar:z' \
        $'f:app/caf\xc3\xa9.jar:w' || fail craft
    local out
    out=$("$HPACK" inspect "$d/esc") || fail "inspect: $out"
    out+=$'\n'$("$HPACK" diff "$d/plain" "$d/esc")
    out+=$'\n'$(HPACK_CACHE_DIR=$d/c "$d/esc" --hpack-info) || fail "--hpack-info: $out"
    ! LC_ALL=C grep -q $'[\e\r\x9b]' <<<"$out" || fail "a control byte was printed raw: $(od -c <<<"$out" | grep -m3 '033\|\\r\|233')"
    ! grep -q '^config    stored' <<<"$out" || fail "a forged row: $(grep '^config    stored' <<<"$out")"
    [ "$(grep -cF 'app/b\x1b[2K\x0d.jar' <<<"$out")" = 3 ] || fail "escaped name not listed by all three: $out"
    [ "$(grep -cF 'app/n\x0aconfig    stored  0644 y.jar' <<<"$out")" = 3 ] ||
        fail "newline not escaped in all three: $out"
    # C1 controls (U+009B, CSI, in UTF-8) and bytes that are not UTF-8 (a
    # lone 0x9b: CSI to a terminal in an 8-bit mode) are escaped too; other
    # UTF-8 is not
    [ "$(grep -cF 'app/c\xc2\x9b2J\x9b.jar' <<<"$out")" = 3 ] || fail "C1 or non-UTF-8 not escaped in all three: $out"
    [ "$(grep -cF $'app/caf\xc3\xa9.jar' <<<"$out")" = 3 ] || fail "UTF-8 name not listed as it is by all three: $out"
    # --json is UTF-8 JSON whatever the names hold; Python gets the bytes back
    "$HPACK" inspect --json "$d/esc" | python3 -c '
import json, sys
j = json.loads(sys.stdin.buffer.read().decode("utf-8"))  # strict: raw 0x9b would fail here
names = [e["path"].encode("utf-8", "surrogateescape") for e in j["entries"]]
assert b"app/c\xc2\x9b2J\x9b.jar" in names and "app/caf\xe9.jar".encode() in names, names' ||
        fail "inspect --json: not UTF-8 JSON, or the names do not come back"
    # a class path value is a name too: in the exec lines of hpack inspect
    # and --hpack-info (bash's $'...' quoting there)
    "$CRAFT" "$d/cp" d:runtime d:runtime/bin f:runtime/bin/java:x d:app $'f:app/c\e[2K\n\x9b.jar:j' \
        $'C:app/c\e[2K\n\x9b.jar' || fail craft
    out=$("$HPACK" inspect "$d/cp" | grep '^exec:') || fail "inspect: no exec line"
    out+=$'\n'$(HPACK_CACHE_DIR=$d/c "$d/cp" --hpack-info | grep '^exec:') || fail "--hpack-info: no exec line"
    ! LC_ALL=C grep -q $'[\e\r\x9b]' <<<"$out" || fail "a control byte in an exec line: $out"
    [ "$(wc -l <<<"$out")" = 2 ] || fail "an exec line was split: $out"
    grep -qF "/proc/self/fd/250/app/c\x1b[2K\x0a\x9b.jar" <<<"$out" || fail "inspect: $out"
    grep -qF "\$'/proc/self/fd/250/app/c\x1b[2K\x0a\x9b.jar'" <<<"$out" || fail "--hpack-info: $out"
    # a C1 control alone is enough for the $'...' form
    "$CRAFT" "$d/cp1" d:runtime d:runtime/bin f:runtime/bin/java:x d:app $'f:app/d\xc2\x9b.jar:j' $'C:app/d\xc2\x9b.jar' ||
        fail craft
    out=$(HPACK_CACHE_DIR=$d/c "$d/cp1" --hpack-info | grep '^exec:') || fail "--hpack-info: no exec line"
    grep -qF "\$'/proc/self/fd/250/app/d\xc2\x9b.jar'" <<<"$out" || fail "--hpack-info, C1: $out"
    # so are the artifact's other values: the main class here
    "$CRAFT" "$d/main" d:runtime d:runtime/bin f:runtime/bin/java:x d:app f:app/a.jar:j \
        $'M:demo.Main\e[2J\nunpack directory: /forged' || fail craft
    out=$("$HPACK" inspect "$d/main") || fail "inspect: $out"
    out+=$'\n'$(HPACK_CACHE_DIR=$d/c "$d/main" --hpack-info) || fail "--hpack-info: $out"
    ! LC_ALL=C grep -q $'\e' <<<"$out" && ! grep -q '^unpack directory: /forged' <<<"$out" ||
        fail "the main class was printed raw: $out"
    [ "$(grep -c '^main class: *demo\.Main\\x1b\[2J\\x0aunpack directory: /forged$' <<<"$out")" = 2 ] ||
        fail "main class not listed, escaped, by both: $out"
    # and what the launcher and hpack inspect quote from a provenance: a
    # reason that names its base, its architecture in a listing
    "$CRAFT" "$d/prov" d:runtime d:runtime/bin f:runtime/bin/java:x d:app f:app/a.jar:j d:cache c:cache/ab.aot:x \
        $'p:cache/ab.prov:base=\e[2J\nunpack directory: /forged|kind=aot|cpu.features=x\e[2J\nverdict y:1|' || fail craft
    out=$("$HPACK" inspect "$d/prov") || fail "inspect: $out"
    out+=$'\n'$(HPACK_CACHE_DIR=$d/c "$d/prov" --hpack-info) || fail "--hpack-info: $out"
    ! LC_ALL=C grep -q $'\e' <<<"$out" && ! grep -q '^unpack directory: /forged' <<<"$out" || fail "a provenance printed raw: $out"
    grep -qF 'NOT USABLE: it was recorded for other inputs (base \x1b[2J\x0aunpack directory: /forged;' <<<"$out" ||
        fail "the reason does not quote the base escaped: $out"
    # an error message is one line, whatever the file name it quotes
    expect_status 4 'a\\x1b\[2K\\x0a\.jar: cannot read' \
        "$HPACK" build --runtime "$(rt25)" --jar $'/nonexistent/a\e[2K\n.jar' -o "$d/o"
}
