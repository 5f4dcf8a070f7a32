# The class path closure (issue 14; sourced by integration.sh): jars named by
# manifest Class-Path entries, relative (resolved from the jar's real place,
# through a link) and absolute, recursively, are packed and found inside
# the unpacked tree; the host's jars at those paths are never read.

# cl_jar DIR NAME WORD [CLASS-PATH]: DIR/NAME.jar holding demo.<X>, X the
# name's last letter in upper case, whose who() says WORD; with that Class-Path.
cl_jar() {
    local dir=$1 name=$2 word=$3 cp=${4:-} cls src=$W/closure/src.$RANDOM
    cls=$(tr a-z A-Z <<<"${name: -1}")
    mkdir -p "$src/demo" "$dir"
    printf 'package demo;\npublic class %s { public static String who() { return "%s"; } }\n' "$cls" "$word" >"$src/demo/$cls.java"
    "$J25/bin/javac" --release 17 -d "$src/classes" "$src/demo/$cls.java"
    if [ -n "$cp" ]; then printf 'Class-Path: %s\n' "$cp" >"$src/mf"; else : >"$src/mf"; fi
    "$J25/bin/jar" --create --file "$dir/$name.jar" --manifest "$src/mf" -C "$src/classes" .
}

# The app: dist/lib/main.jar is a link into a shared jar directory (as
# Debian lays out its Java packages); its Class-Path names liba.jar
# (relative: beside the link's target, not beside the link) and an absolute
# libb.jar; liba.jar names sub/libc.jar in turn.
cl_app() {
    local h=$W/closure/host word=$1
    cl_jar "$h/share/java/sub" libc "$word-C"
    cl_jar "$h/share/java" liba "$word-A" sub/libc.jar
    cl_jar "$h/abs" libb "$word-B"
    local src=$W/closure/msrc
    mkdir -p "$src/demo"
    cat >"$src/demo/M.java" <<'EOF'
package demo;
public class M { public static void main(String[] a) { System.out.println(A.who() + " " + B.who() + " " + C.who()); } }
EOF
    "$J25/bin/javac" --release 17 -cp "$h/share/java/liba.jar:$h/abs/libb.jar:$h/share/java/sub/libc.jar" -d "$src/classes" "$src/demo/M.java"
    printf 'Main-Class: demo.M\nClass-Path: liba.jar %s\n' "$h/abs/libb.jar" >"$src/mf"
    "$J25/bin/jar" --create --file "$h/share/java/main.jar" --manifest "$src/mf" -C "$src/classes" .
}

t_closure_hermetic() {
    need_jdks
    local rt; rt=$(rt25); local h=$W/closure/host a=$W/closure/app
    mkdir -p "$W/closure/dist/lib"
    cl_app packed
    ln -s "$h/share/java/main.jar" "$W/closure/dist/lib/main.jar"
    # the premise: the JVM itself resolves liba.jar through the link
    [ "$("$J25/bin/java" -cp "$W/closure/dist/lib/main.jar" demo.M)" = "packed-A packed-B packed-C" ] || fail "premise: plain java"
    local out; out=$("$HPACK" build --strict-class-path --train --runtime "$rt" --app-dist "$W/closure/dist" --jar lib/main.jar -o "$a" 2>&1) ||
        fail "build: $out"
    grep -q warning <<<"$out" && fail "warnings: $out"
    # inspect lists each entry, how it resolves and where it came from
    local ins; ins=$("$HPACK" inspect "$a")
    grep -qx "  app/lib/main.jar: liba.jar -> app/lib/liba.jar (copied, from outside)" <<<"$ins" || fail "closure: $ins"
    grep -qx "  app/lib/main.jar: $h/abs/libb.jar -> app/libb.jar (rewritten, from $h/abs/libb.jar)" <<<"$ins" || fail "closure: $ins"
    grep -qx "  app/lib/liba.jar: sub/libc.jar -> app/lib/sub/libc.jar (copied, from outside)" <<<"$ins" || fail "closure: $ins"
    "$HPACK" inspect --json "$a" | python3 -c '
import json, sys
c = json.load(sys.stdin)["closure"]
assert [e.get("status") for e in c if "status" in e] == ["copied", "copied", "rewritten"], c
assert [e["rewritten_jar"] for e in c if "rewritten_jar" in e] == ["app/lib/main.jar"], c' || fail "inspect --json closure"
    # the rewritten manifest: the absolute entry now names the packed copy
    "$a" --hpack-extract "$W/closure/ex" >/dev/null
    unzip -p "$W/closure/ex/app/lib/main.jar" META-INF/MANIFEST.MF | tr -d '\r' | grep -qx 'Class-Path: liba.jar ../libb.jar' ||
        fail "manifest: $(unzip -p "$W/closure/ex/app/lib/main.jar" META-INF/MANIFEST.MF)"
    cmp "$W/closure/ex/app/lib/liba.jar" "$h/share/java/liba.jar" || fail "liba.jar not packed as is"
    # (a) the host has other jars at those very paths: the packed code runs
    rm -rf "$h"; cl_app HOST
    [ "$("$J25/bin/java" -cp "$W/closure/dist/lib/main.jar" demo.M)" = "HOST-A HOST-B HOST-C" ] || fail "premise: host jars replaced"
    out=$(HPACK_CACHE_DIR=$W/closure/cache HPACK_AOT=require run_clean "$a") || fail "run: $out"
    [ "$out" = "packed-A packed-B packed-C" ] || fail "(a) ran the host's jars: $out"
    # (b) they are absent; and nothing is opened outside the unpacked tree
    # but the system's own files (strace: every open and openat, failed too;
    # "/" is where the launcher's walk to its cache root starts, O_PATH, no
    # content read: docs/launcher.md 3.2)
    rm -rf "$h"
    command -v strace >/dev/null || fail "strace is not installed (tests/setup-deps.sh installs it)"
    out=$(cd "$W/elsewhere" && env -i HOME="$W/home" PATH=/usr/bin:/bin HPACK_CACHE_DIR="$W/closure/cache" HPACK_AOT=require \
        strace -f -qq -e trace=open,openat -o "$W/closure/strace" "$a") || fail "run under strace: $out"
    [ "$out" = "packed-A packed-B packed-C" ] || fail "(b): $out"
    grep -q "$W/closure/cache/" "$W/closure/strace" || fail "strace saw no open in the tree: $(head "$W/closure/strace")"
    local bad; bad=$(sed -n 's/.*open\(at\)\?(\(AT_FDCWD, \)\?"\([^"]*\)".*/\3/p' "$W/closure/strace" | sort -u | grep -v \
        -e "^$W/closure/cache\(/\|\$\)" -e '^/proc/' -e '^/sys/' -e '^/etc/' -e '^/dev/' -e '^/lib/' -e '^/lib64/' \
        -e '^/usr/lib/x86_64-linux-gnu/' -e '^/usr/lib/locale/' -e '^/usr/share/locale/' -e '^/tmp/hsperfdata_' -e "^$a\$" \
        -e '^/$' \
        -e '^[^/]' || true)
    [ -z "$bad" ] || fail "opened outside the tree: $bad"
    ! grep -q "$W/closure/host\|$W/closure/dist" "$W/closure/strace" || fail "looked at the host's jars: $(grep "$W/closure/host\|$W/closure/dist" "$W/closure/strace")"
}

t_closure_missing_and_strict() {
    need_jdks
    local rt; rt=$(rt25); local d=$W/cls o=$W/cls/out
    mkdir -p "$o"
    cl_jar "$d" lone "x" "gone.jar /nonexistent/abs.jar"
    # missing entries: the JVM ignores them; hpack says so, naming jar and entry
    local err; err=$("$HPACK" build -q --runtime "$rt" --cp "$d/lone.jar" --main-class demo.E -o "$o/a" 2>&1) || fail "build: $err"
    grep -qx "hpack: warning: $d/lone.jar: Class-Path entry gone.jar: $d/gone.jar does not exist; ignored, as the JVM does" <<<"$err" ||
        fail "warning: $err"
    grep -q "Class-Path entry /nonexistent/abs.jar: /nonexistent/abs.jar does not exist" <<<"$err" || fail "warning: $err"
    "$HPACK" inspect "$o/a" | grep -qx "  app/lone.jar: gone.jar -> - (missing, from -)" || fail "inspect: $("$HPACK" inspect "$o/a")"
    # the absolute one is dropped from the manifest: a host with a jar there
    # would run it; the relative one leads into the tree, which has none
    "$HPACK" inspect "$o/a" | grep -qx "  app/lone.jar: /nonexistent/abs.jar -> - (dropped, from /nonexistent/abs.jar)" ||
        fail "inspect: $("$HPACK" inspect "$o/a")"
    "$o/a" --hpack-extract "$o/ex" >/dev/null
    unzip -p "$o/ex/app/lone.jar" META-INF/MANIFEST.MF | tr -d '\r' | grep -qx 'Class-Path: gone.jar' ||
        fail "manifest: $(unzip -p "$o/ex/app/lone.jar" META-INF/MANIFEST.MF)"
    # --strict-class-path: an error, and no artifact
    expect_status 4 "gone.jar.*(--strict-class-path)" "$HPACK" build --strict-class-path --runtime "$rt" --cp "$d/lone.jar" \
        --main-class demo.E -o "$o/b"
    [ ! -e "$o/b" ] || fail "--strict-class-path left an artifact"
}

t_closure_signed_jar_kept() {
    need_jdks
    local rt; rt=$(rt25); local d=$W/clsig o=$W/clsig/out
    mkdir -p "$o" "$d/abs"
    cl_jar "$d/abs" dep "dep"
    cl_jar "$d" top "top" "$d/abs/dep.jar"
    "$J25/bin/keytool" -genkeypair -keystore "$d/ks" -storepass secret1 -keypass secret1 -alias k -dname CN=hpack \
        -keyalg EC -validity 2 >/dev/null 2>&1
    "$J25/bin/jarsigner" -keystore "$d/ks" -storepass secret1 "$d/top.jar" k >/dev/null 2>&1
    "$J25/bin/jarsigner" -verify "$d/top.jar" | grep -q 'jar verified' || fail "premise: signed jar"
    # a signed manifest cannot be rewritten: the jar ships as it is, its
    # entry's packed copy comes first, and the user is told
    local err; err=$("$HPACK" build -q --runtime "$rt" --cp "$d/top.jar" --main-class demo.P -o "$o/a" 2>&1) || fail "build: $err"
    grep -q "warning: $d/top.jar: Class-Path entry $d/abs/dep.jar is a host path: it is a signed jar" <<<"$err" || fail "warning: $err"
    "$o/a" --hpack-extract "$o/ex" >/dev/null
    cmp "$o/ex/app/top.jar" "$d/top.jar" || fail "signed jar changed"
    "$J25/bin/jarsigner" -verify "$o/ex/app/top.jar" | grep -q 'jar verified' || fail "signature no longer valid"
    [ "$("$HPACK" inspect --json "$o/a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["class_path"])')" = \
        "['app/dep.jar', 'app/top.jar']" ] || fail "packed copy not first"
    expect_status 4 "signed jar.*(--strict-class-path)" "$HPACK" build --strict-class-path --runtime "$rt" --cp "$d/top.jar" \
        --main-class demo.P -o "$o/b"
    # the packed copy's name is hpack's to choose: a ':' in the host jar's
    # (here behind a link the manifest names) becomes '_' there, as for a
    # --cp jar (the JVM splits its class path at ':', and the build refuses
    # such a class path jar)
    mkdir -p "$d/c"
    cp "$d/abs/dep.jar" "$d/c/de:p.jar"
    ln -s "$d/c/de:p.jar" "$d/c/lnk.jar"
    cl_jar "$d" colq "top" "$d/c/lnk.jar"
    "$J25/bin/jarsigner" -keystore "$d/ks" -storepass secret1 "$d/colq.jar" k >/dev/null 2>&1
    err=$("$HPACK" build -q --runtime "$rt" --cp "$d/colq.jar" --main-class demo.P -o "$o/c" 2>&1) || fail "build, ':' in a host jar's name: $err"
    [ "$("$HPACK" inspect --json "$o/c" | python3 -c 'import json,sys; print(json.load(sys.stdin)["class_path"])')" = \
        "['app/de_p.jar', 'app/colq.jar']" ] || fail "packed copy of de:p.jar: $("$HPACK" inspect "$o/c")"
}

# A distribution's own launcher loads its other jars with a class loader
# (Maven's classworlds, Groovy's starter): URLClassLoader follows their
# manifest Class-Path as the JVM's class path does. Debian's jars name
# absolute host jars there (Maven's lib/cdi-api.jar, Groovy's jline2.jar).
t_closure_dist_jars() {
    need_jdks
    local rt; rt=$(rt25); local d=$W/cldist/dist h=$W/cldist/host o=$W/cldist/out src=$W/cldist/msrc
    mkdir -p "$o" "$src/demo" "$d/lib"
    cl_jar "$h" libq "packed-Q"
    # not on the class path: an absolute entry, and one naming nothing (no warning: nothing says it is ever loaded)
    # (and a relative one leaving the tree that names nothing: dropped too)
    cl_jar "$d/lib/plug" libp "p" "$h/libq.jar gone.jar /nonexistent/x.jar ../../../../nowhere/y.jar"
    # a file named .jar that is no jar, which nothing loads: no error
    mkdir -p "$d/ext"; echo "not a zip" >"$d/ext/broken.jar"
    cat >"$src/demo/L.java" <<'EOJ'
package demo;
import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
public class L {
    public static void main(String[] a) throws Exception {
        URL u = new File(System.getProperty("home"), "lib/plug/libp.jar").toURI().toURL();
        Class<?> q = Class.forName("demo.Q", true, new URLClassLoader(new URL[] {u}, null));
        System.out.println(q.getMethod("who").invoke(null));
    }
}
EOJ
    "$J25/bin/javac" --release 17 -d "$src/classes" "$src/demo/L.java"
    "$J25/bin/jar" --create --file "$d/lib/main.jar" -C "$src/classes" .
    # the premise: the loader reaches the host jar through libp.jar's manifest
    [ "$("$J25/bin/java" -Dhome="$d" -cp "$d/lib/main.jar" demo.L)" = "packed-Q" ] || fail "premise: plain java"
    local out; out=$("$HPACK" build --strict-class-path --runtime "$rt" --app-dist "$d" --cp lib/main.jar --main-class demo.L \
        --jvm-opt='-Dhome=${HPACK_APP}' -o "$o/a" 2>&1) || fail "build: $out"
    grep -q warning <<<"$out" && fail "warnings: $out"
    local ins; ins=$("$HPACK" inspect "$o/a")
    grep -qx "  app/lib/plug/libp.jar: $h/libq.jar -> app/libq.jar (rewritten, from $h/libq.jar)" <<<"$ins" || fail "closure: $ins"
    grep -qx "  app/lib/plug/libp.jar: gone.jar -> - (missing, from -)" <<<"$ins" || fail "closure: $ins"
    grep -qx "  app/lib/plug/libp.jar: /nonexistent/x.jar -> - (dropped, from /nonexistent/x.jar)" <<<"$ins" || fail "closure: $ins"
    grep -qx "  app/lib/plug/libp.jar: ../../../../nowhere/y.jar -> - (dropped, from -)" <<<"$ins" || fail "closure: $ins"
    "$o/a" --hpack-extract "$o/ex" >/dev/null
    unzip -p "$o/ex/app/lib/plug/libp.jar" META-INF/MANIFEST.MF | tr -d '\r' | grep -qx 'Class-Path: ../../libq.jar gone.jar' ||
        fail "manifest: $(unzip -p "$o/ex/app/lib/plug/libp.jar" META-INF/MANIFEST.MF)"
    # the host's jar at that path is another one now: the packed one runs
    rm -rf "$h"; cl_jar "$h" libq "HOST-Q"
    out=$(HPACK_CACHE_DIR=$o/cache run_clean "$o/a") || fail "run: $out"
    [ "$out" = "packed-Q" ] || fail "ran the host's jar: $out"
}

# An archive distribution, as a review crafted it: a Class-Path entry that
# climbs out of the distribution names a host path wherever the artifact
# runs: dropped from the manifest, as from a directory distribution's jar;
# a chain of jars each naming the next, 300 long (9.7 KB), overflowed the
# stack: refused past 100, with the jar named.
t_closure_archive_escape_and_chain() {
    local o=$W/clarch; mkdir -p "$o"; fake_runtime "$o/jdk-fake"
    python3 - "$o" "$SAMPLES/hello.jar" <<'PY'
import io, sys, tarfile, zipfile
o, hello = sys.argv[1], sys.argv[2]
main = zipfile.ZipFile(hello).read("demo/Main.class")
def jar(cp, with_main):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n" + (f"Class-Path: {cp}\r\n" if cp else "") + "\r\n")
        if with_main: z.writestr("demo/Main.class", main)
    return b.getvalue()
def dist(name, jars):
    with tarfile.open(f"{o}/{name}", "w:gz") as t:
        for n, data in jars:
            i = tarfile.TarInfo(f"app-1.0/lib/{n}"); i.size = len(data); t.addfile(i, io.BytesIO(data))
dist("escape.tgz", [("app.jar", jar("../../../../../../../../tmp/evil.jar dep.jar", True)), ("dep.jar", jar(None, False))])
for n in (100, 101):
    dist(f"chain{n}.tgz", [(f"j{i:03}.jar", jar(f"j{i + 1:03}.jar" if i + 1 < n else None, i == 0)) for i in range(n)])
PY
    local err
    err=$("$HPACK" build -q --runtime "$o/jdk-fake" --app-dist "$o/escape.tgz" --jar lib/app.jar --main-class demo.Main -o "$o/esc" 2>&1) || fail "escape: $err"
    grep -q "Class-Path entry ../../../../../../../../tmp/evil.jar: it leads out of the distribution; ignored, as the JVM does (dropped from the manifest)" <<<"$err" ||
        fail "no warning: $err"
    "$HPACK" extract "$o/esc" -o "$o/ex"
    [ "$(unzip -p "$o/ex/app/lib/app.jar" META-INF/MANIFEST.MF | tr -d '\r' | grep '^Class-Path')" = "Class-Path: dep.jar" ] ||
        fail "manifest: $(unzip -p "$o/ex/app/lib/app.jar" META-INF/MANIFEST.MF)"
    "$HPACK" build -q --runtime "$o/jdk-fake" --app-dist "$o/chain100.tgz" --jar lib/j000.jar --main-class demo.Main -o "$o/c100" || fail "a chain of 100"
    expect_status 4 "chain101.tgz:lib/j100.jar: a Class-Path chain more than 100 jars deep" \
        "$HPACK" build --runtime "$o/jdk-fake" --app-dist "$o/chain101.tgz" --jar lib/j000.jar --main-class demo.Main -o "$o/c101"
    [ ! -e "$o/c101" ] || fail "a refused build left its output"
}

# One jar reached by two paths (a link in the distribution, and its own
# place), its entry naming a jar from one and nothing from the other: the
# packed copy wins, whichever comes first, and the manifest and the
# records agree (a drop gives way to a rewrite).
t_closure_drop_meets_rewrite() {
    need_jdks
    local rt; rt=$(rt25); local b=$W/cldrop d=$W/cldrop/d/dist o=$W/cldrop/out order
    mkdir -p "$d/lib/sub" "$o"
    cl_jar "$b/d/Q" libq "Q"
    cl_jar "$d/other" libx "x" "../../../Q/libq.jar"
    ln -s ../../other/libx.jar "$d/lib/sub/libx.jar"
    cl_jar "$d/lib" liba "a" "../other/libx.jar"
    cl_jar "$d/lib" libm "m" "sub/libx.jar"
    for order in lib/liba.jar:lib/libm.jar lib/libm.jar:lib/liba.jar; do
        rm -rf "$o/ex"
        local out; out=$("$HPACK" build --runtime "$rt" --app-dist "$d" --cp "$order" --main-class demo.M -o "$o/a" 2>&1) ||
            fail "build ($order): $out"
        local ins; ins=$("$HPACK" inspect "$o/a")
        grep -qx "  app/lib/sub/libx.jar: ../../../Q/libq.jar -> app/libq.jar (rewritten, from outside)" <<<"$ins" ||
            fail "closure ($order): $ins"
        grep -qx "  app/other/libx.jar: ../../../Q/libq.jar -> - (missing, from -)" <<<"$ins" || fail "closure ($order): $ins"
        "$o/a" --hpack-extract "$o/ex" >/dev/null
        unzip -p "$o/ex/app/other/libx.jar" META-INF/MANIFEST.MF | tr -d '\r' | grep -qx 'Class-Path: ../../libq.jar' ||
            fail "manifest ($order): $(unzip -p "$o/ex/app/other/libx.jar" META-INF/MANIFEST.MF)"
    done
}
