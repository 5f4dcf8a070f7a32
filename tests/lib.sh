# Shared test helpers (sourced by integration.sh, demo.sh, bench.sh).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${HPACK_BUILD:-$ROOT/build}
HPACK=$BUILD/hpack
# The same hpack with the test hooks (HPACK_TEST_*) compiled in, and embedding
# a launcher that has them: only for tests that need a hook.
HPACK_T=$BUILD/hpack-test
SAMPLES=$ROOT/build/samples
. "$ROOT/tests/jdks.sh"

J25=$(hpk_find_jdk 25 || true)
J17=$(hpk_find_jdk 17 || true)

# A jlinked Temurin 25 runtime for the sample apps, made once per build dir.
rt25() {
    local rt=$ROOT/build/rt25
    if [ ! -x "$rt/bin/java" ]; then
        [ -n "$J25" ] || { echo "JDK 25 (Temurin) not found under /usr/lib/jvm" >&2; return 1; }
        rm -rf "$rt.tmp"
        "$J25/bin/jlink" --add-modules java.base,java.logging,jdk.httpserver \
            --strip-debug --no-header-files --no-man-pages --output "$rt.tmp" >&2 || return 1
        mv "$rt.tmp" "$rt"
    fi
    echo "$rt"
}

# That runtime with the JVM's default CDS archives (lib/server/classes.jsa
# and classes_nocoops.jsa, as a JDK or `jlink --generate-cds-archive` has
# them), made once per build dir.
rt25cds() {
    local rt=$ROOT/build/rt25cds base
    if [ ! -f "$rt/lib/server/classes_nocoops.jsa" ]; then
        base=$(rt25) || return 1
        rm -rf "$rt.tmp" && cp -a "$base" "$rt.tmp" || return 1
        "$rt.tmp/bin/java" -Xshare:dump >/dev/null || return 1
        "$rt.tmp/bin/java" -XX:-UseCompressedOops -Xshare:dump >/dev/null || return 1
        mv "$rt.tmp" "$rt"
    fi
    echo "$rt"
}

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# fake_runtime DIR [VERSION]: a tiny stand-in Java home whose bin/java is a
# shell script that prints its arguments and the checksum of the class path
# jars it is given: fast artifacts for launcher tests that need no JVM.
fake_runtime() {
    local d=$1 v=${2:-25.0.0}
    mkdir -p "$d/bin" "$d/lib/server" "$d/conf"
    cat >"$d/bin/java" <<'EOS'
#!/bin/sh
echo "FAKE-JAVA $*"
for a in "$@"; do
    case "$a" in -cp) next=1; continue;; esac
    if [ "${next:-}" = 1 ]; then
        echo "$a" | tr ':' '\n' | while read -r j; do echo "jar $(sha256sum <"$j" | cut -c1-16)"; done
        next=0
    fi
done
[ -n "${FAKE_JAVA_EXIT:-}" ] && exit "$FAKE_JAVA_EXIT"
exit 0
EOS
    chmod 755 "$d/bin/java"
    printf 'JAVA_VERSION="%s"\nIMPLEMENTOR="hpack tests"\n' "$v" >"$d/release"
    for i in $(seq 1 40); do echo "property.$i = some value that compresses well $i" ; done >"$d/conf/settings.properties"
    head -c 3000 /dev/urandom >"$d/lib/server/libjvm.so"
    seq 1 800 >"$d/lib/modules"
    ln -sf ../conf/settings.properties "$d/lib/settings.link"
}
