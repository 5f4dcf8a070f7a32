# Container images and the system store (issue 16), sourced by
# integration.sh: `hpack image` checked with Debian's skopeo, umoci and
# podman (tests/setup-deps.sh apps installs them), the image's rootfs run
# the way an engine would (own mount namespace, read-only, non-root), and
# `hpack install`/`uninstall`/`store` with the launcher's trust rule.

need_oci_tools() {
    local t
    for t in skopeo umoci unshare; do
        command -v "$t" >/dev/null || fail "$t is not installed: tests/setup-deps.sh apps installs it"
    done
}

# in_rootfs ROOTFS CMD...: CMD inside ROOTFS as a container engine runs it:
# a mount namespace of its own, the root file system read-only (so nothing
# can be unpacked or written anywhere: not even /tmp), /proc, uid and gid
# 65532, an empty environment but ${IMG_ENV[@]}, nothing of the host's
# file systems (no /usr) visible.
IMG_ENV=()
in_rootfs() {
    local r=$1; shift
    unshare -m --fork sh -c 'r=$1; shift
        mount --bind "$r" "$r" && mount -o remount,bind,ro "$r" && mount -t proc proc "$r/proc" && exec env -i "$@"' \
        sh "$r" "${IMG_ENV[@]}" /usr/sbin/chroot --userspec=65532:65532 "$r" "$@"
}

# The image of the trained hello (DA1), made once and shared by the image tests.
IMG=$W/img1/hello.tar
image_fixture() {
    need_oci_tools
    [ -s "$IMG" ] && return 0
    mkdir -p "$W/img1"
    cp "$H25T" "$W/img1/hello"
    (cd "$W/img1" && "$HPACK" image -q hello -o hello.tar --tag "hpack-test/hello:$$") >"$W/img1/digest"
    [ -s "$IMG" ] || fail "no image written"
}
# layer_names ARCHIVE: every path in every layer of the image archive
layer_names() {
    python3 - "$1" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1]) as oci:
    for m in oci.getmembers():
        if m.isfile() and m.name.startswith("blobs/"):
            try:
                print("\n".join(tarfile.open(fileobj=io.BytesIO(oci.extractfile(m).read())).getnames()))
            except tarfile.TarError:
                pass  # a JSON document
PY
}
# unpack_image ARCHIVE DIR: the rootfs umoci makes of it (DIR/rootfs)
unpack_image() {
    rm -rf "$2.oci" "$2"
    skopeo copy -q "oci-archive:$1" "oci:$2.oci:img" || fail "skopeo copy refused $1"
    umoci unpack --image "$2.oci:img" "$2" >/dev/null || fail "umoci unpack refused $1"
}

t_image_reproducible() {
    image_fixture
    # the same artifact elsewhere, another mtime, another umask, time zone and locale
    mkdir -p "$W/img2/deep er"
    cp "$H25T" "$W/img2/deep er/hello"
    touch -d '2001-02-03 04:05' "$W/img2/deep er/hello"
    local d2
    d2=$(cd "$W/img2" && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8 "$HPACK" image -q "deep er/hello" \
        -o "again.tar" --tag "hpack-test/hello:$$")
    [ "$d2" = "$(cat "$W/img1/digest")" ] || fail "digests differ: $d2 vs $(cat "$W/img1/digest")"
    [[ $d2 =~ ^sha256:[0-9a-f]{64}$ ]] || fail "not a digest: $d2"
    cmp "$IMG" "$W/img2/again.tar" || fail "the two image archives differ"
    # the digest is the manifest's, as a registry would compute it
    local man; man=$(tar -xOf "$IMG" index.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')
    [ "$man" = "$d2" ] || fail "index.json names $man"
    [ "sha256:$(tar -xOf "$IMG" "blobs/sha256/${d2#sha256:}" | sha256sum | cut -c1-64)" = "$d2" ] || fail "manifest blob hash"
    echo "INFO: same image digest from two directories, umasks 022/077, two time zones: $d2"
}

t_image_skopeo_umoci_read_only_run() {
    image_fixture
    local dg; dg=$(cat "$W/img1/digest")
    local js; js=$(skopeo inspect "oci-archive:$IMG") || fail "skopeo inspect refused the image"
    local hex full; hex=$("$HPACK" hash "$H25T"); full=$("$HPACK" hash --full "$H25T")
    python3 -c '
import json, sys
j = json.load(sys.stdin)
dg, hex, full = sys.argv[1:]
assert j["Digest"] == dg, j["Digest"]
assert j["Labels"]["org.hpack.base-hash"] == hex and j["Labels"]["org.hpack.full-hash"] == full, j["Labels"]
assert j["Architecture"] == "amd64" and j["Os"] == "linux" and len(j["Layers"]) == 2' "$dg" "$hex" "$full" <<<"$js" ||
        fail "skopeo inspect: $js"
    local cfg; cfg=$(skopeo inspect --config "oci-archive:$IMG")
    python3 -c '
import json, sys
c = json.load(sys.stdin)["config"]
assert c["User"] == "65532:65532", c["User"]
assert c["Entrypoint"] == ["/app/hello"], c["Entrypoint"]' <<<"$cfg" || fail "config: $cfg"
    unpack_image "$IMG" "$W/bundle"
    local R=$W/bundle/rootfs
    [ ! -e "$R/usr" ] || fail "the image has a /usr"
    [ "$(stat -c %a "$R/tmp")" = 1777 ] || fail "/tmp mode $(stat -c %a "$R/tmp")"
    [ -f "$R/var/lib/hpack/$hex/.hpack-ok" ] || fail "no store tree in the image"
    grep -q '^app:x:65532:65532:' "$R/etc/passwd" || fail "/etc/passwd: $(cat "$R/etc/passwd")"
    # the C library closure: the loader and libc, nothing else of the host
    [ -x "$R/lib64/ld-linux-x86-64.so.2" ] && [ -f "$R/lib/x86_64-linux-gnu/libc.so.6" ] || fail "no loader or libc"
    local out
    IMG_ENV=(HPACK_AOT=require HPACK_DEBUG=1 HPACK_JAVA_OPTS=-Xlog:class+load)
    out=$(in_rootfs "$R" /app/hello one "two words" 2>&1) || fail "the app failed in the rootfs: $(tail -5 <<<"$out")"
    grep -qx 'Hello from hpack!' <<<"$out" || fail "no greeting: $(tail -5 <<<"$out")"
    grep -qx 'arg\[two words\]' <<<"$out" || fail "argument lost"
    grep -q 'demo.Main source: shared objects file' <<<"$out" || fail "main class not from the AOT cache"
    grep -q "^hpack: exec /var/lib/hpack/$hex/runtime/bin/java " <<<"$out" || fail "not run from the store: $(grep '^hpack' <<<"$out")"
    ! grep -q 'unpacking' <<<"$out" || fail "the launcher unpacked"
    echo "INFO: umoci rootfs, read-only, uid 65532, no /usr: ran from /var/lib/hpack with HPACK_AOT=require"
}

t_image_podman() {
    image_fixture
    command -v podman >/dev/null || fail "podman is not installed: tests/setup-deps.sh apps installs it"
    local ref="localhost/hpack-test/hello:$$" out
    out=$(podman load -q -i "$IMG" 2>&1) || fail "podman load: $out"
    local id; id=$(podman image inspect --format '{{.Digest}}' "$ref") || fail "podman has no $ref after load: $out"
    [ "$id" = "$(cat "$W/img1/digest")" ] || { podman rmi -f "$ref" >/dev/null 2>&1; fail "podman's digest $id"; }
    # crun cannot raise limits here (no CAP_SYS_RESOURCE): ask for lower ones
    local rc=0
    out=$(timeout 300 podman run --rm --read-only --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
        -e HPACK_AOT=require "$ref" x 2>&1) || rc=$?
    podman rmi -f "$ref" >/dev/null 2>&1 || true
    if [ $rc = 0 ]; then
        grep -qx 'Hello from hpack!' <<<"$out" || fail "podman run: no greeting: $out"
        echo "INFO: podman load + run --read-only: ran"
    elif grep -q 'OCI runtime error\|OCI permission denied\|cgroups in hybrid mode' <<<"$out"; then
        echo "INFO: podman load ok (same digest); podman run CANNOT run here: $(tail -1 <<<"$out") (the chroot run is the proof)"
    else
        fail "podman run failed (status $rc): $out"
    fi
}

t_image_on_a_base() {
    image_fixture
    local rt; rt=$(rt25)
    mkdir -p "$W/img3"
    "$HPACK" build -q --runtime "$rt" --cp "$SAMPLES/hello.jar" --main-class demo.Main --arg from-base -o "$W/img3/second"
    (cd "$W/img3" && "$HPACK" image -q second --base "oci-archive:$IMG" --user 1000:1000 -o on-base.tar) >/dev/null ||
        fail "image --base failed"
    local js; js=$(skopeo inspect "oci-archive:$W/img3/on-base.tar")
    python3 -c '
import json, sys
j = json.load(sys.stdin)
assert len(j["Layers"]) == 3, j["Layers"]' <<<"$js" || fail "expected the base's 2 layers + 1: $js"
    unpack_image "$W/img3/on-base.tar" "$W/bundle3"
    local R=$W/bundle3/rootfs
    [ -x "$R/app/hello" ] && [ -x "$R/app/second" ] || fail "both apps should be in the image"
    grep -q '^app:x:65532' "$R/etc/passwd" || fail "the base's /etc is not kept"
    skopeo inspect --config "oci-archive:$W/img3/on-base.tar" | grep -q '"User": "1000:1000"' || fail "--user not in the config"
    IMG_ENV=()
    local out; out=$(in_rootfs "$R" /app/second 2>&1) || fail "second app: $out"
    grep -qx 'arg\[from-base\]' <<<"$out" || fail "second app's output: $out"
    expect_status 2 "/nonexistent" "$HPACK" image "$W/img3/second" --base oci-archive:/nonexistent -o "$W/img3/x.tar"
}

# The image takes the runtime's loader and libraries from the host at the
# paths its ELF headers name: a crafted runtime (a review's) named
# /etc/hostname as a library's loader, and a needed library
# "../../../x/libx.so", and got those host files into the image's layer.
t_image_host_paths_from_elf_headers() {
    local o=$W/imgelf; mkdir -p "$o/x"
    command -v cc >/dev/null || fail "cc is needed (it builds hpack)"
    printf 'int main(void) { return 0; }\n' >"$o/java.c"
    printf 'int x(void) { return 1; }\n' >"$o/x.c"
    printf 'int x(void); int e(void) { return x(); }\n' >"$o/e.c"
    cc -shared -fPIC -o "$o/x/libx.so" "$o/x.c" -Wl,-soname,../../../..$o/x/libx.so
    local v
    for v in interp needed; do
        fake_runtime "$o/rt-$v"
        cc -o "$o/rt-$v/bin/java" "$o/java.c"
        case $v in
        interp) cc -o "$o/rt-$v/lib/libevil.so" "$o/java.c" -Wl,--dynamic-linker=/etc/hostname ;; # a program named .so
        needed) cc -shared -fPIC -o "$o/rt-$v/lib/libevil.so" "$o/e.c" "$o/x/libx.so" ;;
        esac
        "$HPACK" build -q --runtime "$o/rt-$v" --jar "$SAMPLES/hello.jar" -o "$o/art-$v" || fail "$v: build"
    done
    expect_status 9 "names /etc/hostname as its program interpreter: not a dynamic loader" \
        "$HPACK" image "$o/art-interp" -o "$o/interp.tar"
    [ ! -e "$o/interp.tar" ] || fail "a refused image was written"
    local err; err=$("$HPACK" image "$o/art-needed" -o "$o/needed.tar" 2>&1) || fail "needed: $err"
    grep -q "needs ../../../..$o/x/libx.so, which is not on this host" <<<"$err" || fail "no warning: $err"
    local names; names=$(layer_names "$o/needed.tar") || fail "needed.tar unreadable"
    grep -q 'libc\.so\.6$' <<<"$names" || fail "no layer read"
    ! grep -E 'libx\.so|(^|/)\.\.(/|$)' <<<"$names" || fail "a library outside the library directories is in the image"
}

# java.desktop finds fonts through fontconfig, which it loads by name, and a
# JDK ships none: without them the first string drawn or measured throws
# "Fontconfig head is null". An artifact of such a runtime carries DejaVu as
# the JDK's fallback fonts (lib/fonts, lib/fontconfig.properties), and its
# image fontconfig, DejaVu and their cache.
t_image_fonts() {
    need_oci_tools
    local f
    for f in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf \
        /usr/bin/fc-cache; do
        [ -e "$f" ] || fail "$f is missing: tests/setup-deps.sh apps installs fonts-dejavu-core and fontconfig"
    done
    [ -n "$J25" ] || fail "JDK 25 (Temurin) not found under /usr/lib/jvm"
    local o=$W/imgf out note names
    mkdir -p "$o/dir/sub" "$o/again"
    note=$("$HPACK" build --jdk "$J25" --jar "$SAMPLES/text.jar" -o "$o/text" 2>&1) || fail "build: $note"
    grep -q '^hpack: fonts: DejaVu Sans, Sans Mono and Serif added to the runtime' <<<"$note" || fail "build note: $note"
    names=$("$HPACK" inspect "$o/text" | awk '{print $NF}')
    grep -qx runtime/lib/fontconfig.properties <<<"$names" && [ "$(grep -c '^runtime/lib/fonts/DejaVu.*\.ttf$' <<<"$names")" = 6 ] ||
        fail "no fallback fonts in the runtime: $(grep font <<<"$names")"
    "$HPACK" build -q --fonts none --jdk "$J25" --jar "$SAMPLES/text.jar" -o "$o/plain" --lock "$o/plain.lock" ||
        fail "build --fonts none"
    # a lock made without the fonts (or before hpack added them) refuses them, saying where they come from
    expect_status 8 "is not in the lock: added by --fonts auto" \
        "$HPACK" build --jdk "$J25" --jar "$SAMPLES/text.jar" -o "$o/x" --locked "$o/plain.lock"
    ! "$HPACK" inspect "$o/plain" | grep -q 'lib/fonts\|fontconfig.properties' || fail "--fonts none: fonts in the runtime"
    expect_status 2 "expected auto or none" "$HPACK" build --fonts some --jdk "$J25" --jar "$SAMPLES/text.jar" -o "$o/x"

    note=$(cd "$o" && "$HPACK" image text -o text.tar 2>&1 >/dev/null) || fail "image: $note"
    grep -q 'C libraries, 6 fonts)' <<<"$note" || fail "image note: $note"
    # the same bytes from elsewhere (the fontconfig cache is made in a directory
    # of the output's name), whatever fontconfig settings the user has
    printf '<fontconfig><dir>/usr/share/fonts</dir></fontconfig>\n' >"$o/my-fonts.conf"
    (cd "$o/again" && umask 077 && TZ=Pacific/Chatham SOURCE_DATE_EPOCH=0 FONTCONFIG_FILE=$o/my-fonts.conf HOME=$o \
        "$HPACK" image -q ../text -o other.tar) >/dev/null || fail "image again"
    cmp -s "$o/text.tar" "$o/again/other.tar" || fail "two images of the text sample differ"
    unpack_image "$o/text.tar" "$o/b"
    local R=$o/b/rootfs
    [ -f "$R/etc/fonts/fonts.conf" ] || fail "no /etc/fonts/fonts.conf"
    [ "$(ls "$R"/usr/share/fonts/truetype/dejavu/*.ttf | wc -l)" = 6 ] || fail "fonts: $(ls -R "$R/usr/share/fonts")"
    ls "$R"/var/cache/fontconfig/*.cache-* >/dev/null 2>&1 || fail "no fontconfig cache in the image"
    [ -n "$(find "$R/lib" "$R/usr/lib" -name libfontconfig.so.1 2>/dev/null)" ] || fail "no libfontconfig.so.1 in the image"
    # read-only root, nothing writable: the cache serves, fontconfig says nothing
    out=$(in_rootfs "$R" /app/text 2>&1) || fail "the text sample failed in the image: $(tail -5 <<<"$out")"
    grep -qE '^text: [1-9][0-9]* px wide, [1-9][0-9]* pixels lit$' <<<"$out" || fail "no text drawn: $out"
    grep -qx 'fonts: DejaVu Sans, DejaVu Sans Mono, DejaVu Serif' <<<"$out" || fail "fonts: $out"
    ! grep -qi fontconfig <<<"$out" || fail "fontconfig complained: $out"
    # a host with no fontconfig at all: the runtime's own fonts serve
    find "$R/lib" "$R/usr/lib" -name 'libfontconfig.so*' -delete
    out=$(in_rootfs "$R" /app/text 2>&1) || fail "no fontconfig, the runtime's fonts: $(tail -3 <<<"$out")"
    grep -qE '^text: [1-9][0-9]* px wide, [1-9][0-9]* pixels lit$' <<<"$out" || fail "no fontconfig: no text drawn: $out"
    grep -qx 'fonts: DejaVu Sans, DejaVu Sans Mono, DejaVu Serif' <<<"$out" || fail "no fontconfig, fonts: $out"

    # --fonts DIR, for an artifact built with --fonts none: fontconfig finds
    # DIR's font and nothing else (no cache: fontconfig complains, harmlessly,
    # that it cannot write one on this read-only root)
    cp /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf "$o/dir/sub/"
    echo "not a font" >"$o/dir/README.ttf.txt"
    (cd "$o" && "$HPACK" image -q plain --fonts dir -o dir.tar) >/dev/null || fail "image --fonts dir"
    unpack_image "$o/dir.tar" "$o/bd"
    R=$o/bd/rootfs
    [ -f "$R/usr/share/fonts/hpack/sub-DejaVuSerif.ttf" ] || fail "--fonts dir: $(ls -R "$R/usr/share/fonts")"
    out=$(in_rootfs "$R" /app/plain 2>&1) || fail "--fonts dir: $(tail -5 <<<"$out")"
    grep -qx 'fonts: DejaVu Serif' <<<"$out" || fail "--fonts dir: $out"
    # neither fontconfig nor fonts of its own: the failure all this prevents
    find "$R/lib" "$R/usr/lib" -name 'libfontconfig.so*' -delete
    out=$(in_rootfs "$R" /app/plain 2>&1) && fail "drew text without fonts: $out"
    grep -q 'Fontconfig head is null' <<<"$out" || fail "without fonts: $(tail -3 <<<"$out")"
    # bad values: a directory with no font, no directory
    rm "$o/dir/sub/DejaVuSerif.ttf"
    expect_status 2 "no font file" "$HPACK" image "$o/text" --fonts "$o/dir" -o "$o/x.tar"
    expect_status 2 "$o/nowhere: No such file" "$HPACK" image "$o/text" --fonts "$o/nowhere" -o "$o/x.tar"
    [ ! -e "$o/x.tar" ] && [ ! -e "$o/x" ] || fail "a refused build or image was written"
    echo "INFO: java.desktop: fallback fonts in the runtime; its image: fontconfig, 6 DejaVu fonts and their cache; text drawn on a read-only root, with and without fontconfig"
}

t_image_errors() {
    local o=$W/imgerr; mkdir -p "$o"
    expect_status 2 "expected UID:GID" "$HPACK" image "$H25" --user app -o "$o/a.tar"
    expect_status 2 "not an image reference" "$HPACK" image "$H25" --tag 'Hello World' -o "$o/a.tar"
    expect_status 2 "expected oci-archive:FILE" "$HPACK" image "$H25" --base docker://x -o "$o/a.tar"
    # a bad --fonts is refused up front, also for a runtime that draws no text
    expect_status 2 "$o/nowhere: No such file or directory" "$HPACK" image "$H25" --fonts "$o/nowhere" -o "$o/a.tar"
    expect_status 2 "expected auto, none or a directory" "$HPACK" image "$H25" --fonts "" -o "$o/a.tar"
    expect_status 6 "does not exist" "$HPACK" image "$H25" -o "$W/nodir/a.tar"
    echo junk >"$o/junk"
    expect_status 9 "junk" "$HPACK" image "$o/junk" -o "$o/a.tar"
    rm "$o/junk"
    no_leftovers "$o"
}

# A store the launcher may trust must have trusted directories above it:
# not under /tmp (1777), nor under the checkout, which CI clones into a
# mktemp -d directory below /tmp: /var/lib, root's and 0755 (CI runs as root).
t_store_install_trust_uninstall() {
    [ "$(id -u)" = 0 ] || fail "this test needs root (it makes a store under /var/lib); CI runs as root"
    S=/var/lib/hpack-test-store.$BASHPID # global: the EXIT trap of this test's subshell removes it
    trap 'rm -rf "$S"' EXIT
    local rt; rt=$(rt25)
    rm -rf "$S"
    chmod 755 "$W" "$W/art"
    "$HPACK" build -q --runtime "$rt" --cp "$SAMPLES/http.jar" --main-class demo.http.Server -o "$W/art/http0"
    local out hex hex2
    hex=$("$HPACK" hash "$H25T"); hex2=$("$HPACK" hash "$W/art/http0")
    "$HPACK" install "$H25T" --store "$S" >/dev/null
    "$HPACK" install "$W/art/http0" --store "$S" >"$W/inst.out"
    grep -q "installed .*links to identical content" "$W/inst.out" || fail "install: $(cat "$W/inst.out")"
    [ -f "$S/$hex/.hpack-ok" ] && ls "$S/$hex"/cache/*.aot >/dev/null || fail "tree or cache missing"
    # settled (synced before its marker): no start may write the store to settle it
    [ "$(cat "$S/$hex/.hpack-ok")" = "$hex" ] && [ "$(stat -c %s "$S/$hex/.hpack-ok")" = 33 ] ||
        fail "the store tree's marker is not the settled one: $(cat "$S/$hex/.hpack-ok")"
    [ -z "$(ls -A "$S/$hex" | grep '^\.hpack-ok\.')" ] || fail "marker temporaries in the store: $(ls -A "$S/$hex")"
    # two apps on one runtime: one inode
    [ "$(stat -c %i "$S/$hex/runtime/lib/modules")" = "$(stat -c %i "$S/$hex2/runtime/lib/modules")" ] ||
        fail "runtime/lib/modules not shared"
    out=$("$HPACK" store list --store "$S")
    grep -q "^$hex  Java .* demo.Main .*startup cache" <<<"$out" && grep -q "^$hex2 .*demo.http.Server" <<<"$out" ||
        fail "store list: $out"
    # nobody, no home, no usable temporary directory: runs from the store, with its cache
    run_nobody() { # UID CMD...
        local u=$1; shift
        setpriv --reuid="$u" --regid="$u" --clear-groups env -i HOME=/nonexistent TMPDIR=/nonexistent \
            HPACK_STORE="$S" HPACK_DEBUG=1 "$@"
    }
    out=$(run_nobody 65534 HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load "$H25T" 2>&1) || fail "as nobody: $out"
    grep -q "^hpack: exec $S/$hex/runtime/bin/java" <<<"$out" || fail "not from the store: $(grep '^hpack' <<<"$out")"
    grep -q 'demo.Main source: shared objects file' <<<"$out" || fail "cache not used"
    # the trust rule: a group-writable store is not used (the user's cache serves)
    chmod g+w "$S"
    out=$(HPACK_CACHE_DIR=$W/sc1 HPACK_STORE=$S "$H25T" 2>&1) || fail "$out"
    grep -q "warning: system store not used: $S: writable by group or others" <<<"$out" || fail "no warning: $out"
    grep -qx 'Hello from hpack!' <<<"$out" || fail "did not run: $out"
    chmod g-w "$S"
    # a tree owned by another user is not used; by the running user, it is
    chown 65533 "$S/$hex"
    out=$(run_nobody 65534 "$H25T" 2>&1) && fail "ran with no store and no cache: $out"
    grep -q "system store not used: $S/$hex: owned by uid 65533, neither root nor you" <<<"$out" || fail "$out"
    out=$(run_nobody 65533 "$H25T" 2>&1) || fail "as the tree's owner: $out"
    grep -q "^hpack: exec $S/$hex/" <<<"$out" || fail "the owner's tree not used: $out"
    chown 0 "$S/$hex"
    # every directory above counts: a copy below /tmp (mode 1777) is not trusted
    mkdir -p "$W/tmpstore" && cp -a "$S/$hex" "$W/tmpstore/"
    out=$(HPACK_CACHE_DIR=$W/sc2 HPACK_STORE=$W/tmpstore "$H25T" 2>&1)
    grep -q "system store not used: /tmp: writable by group or others" <<<"$out" || fail "/tmp trusted: $out"
    expect_status 6 "the launcher would not trust it" "$HPACK" install "$H25" --store "$W/tmpstore"
    # uninstall: the other tree keeps the shared files
    mkdir "$S/$hex.tmp.999999"
    "$HPACK" store gc --store "$S" | grep -q "removed 1 stale" || fail "gc kept a stale temporary"
    "$HPACK" uninstall "$H25T" --store "$S" >/dev/null
    [ ! -e "$S/$hex" ] || fail "tree still there"
    [ "$(stat -c %h "$S/$hex2/runtime/lib/modules")" = 2 ] || fail "link count $(stat -c %h "$S/$hex2/runtime/lib/modules")"
    run_nobody 65534 "$W/art/http0" --hpack-verify >/dev/null || fail "the other tree is damaged"
    "$HPACK" uninstall "$hex2" --store "$S" >/dev/null
    [ -z "$(ls -A "$S/.objects")" ] || fail "objects left: $(ls "$S/.objects" | head -3)"
    expect_status 1 "not installed" "$HPACK" uninstall "$hex2" --store "$S"
    [ -z "$("$HPACK" store list --store "$S")" ] || fail "store list not empty"
}
