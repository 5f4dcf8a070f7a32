# Reproducibility and inspection tests (sourced by integration.sh).

t_tarball_runtime_same_base() {
    local rt; rt=$(rt25)
    mkdir -p "$W/tb"; cp -r "$rt" "$W/tb/jdk-25.0.3"
    (cd "$W/tb" && tar czf jdk.tar.gz jdk-25.0.3 && tar cf jdk.tar jdk-25.0.3)
    "$HPACK" build -q --runtime "$W/tb/jdk.tar.gz" --jar "$SAMPLES/hello.jar" -o "$W/art/tgz"
    "$HPACK" build -q --runtime "$W/tb/jdk.tar" --jar "$SAMPLES/hello.jar" -o "$W/art/tar"
    [ "$("$HPACK" hash "$W/art/tgz")" = "$("$HPACK" hash "$H25")" ] || fail "tar.gz runtime: other base hash"
    [ "$("$HPACK" hash "$W/art/tar")" = "$("$HPACK" hash "$H25")" ] || fail "tar runtime: other base hash"
    HPACK_CACHE_DIR=$W/tbc run_clean "$W/art/tgz" | grep -q 'Hello from hpack' || fail "tarball artifact does not run"
    echo junk >"$W/tb/junk.tar.gz"
    expect_status 3 "archive" "$HPACK" build --runtime "$W/tb/junk.tar.gz" --jar "$SAMPLES/hello.jar" -o "$W/art/junk"
}
# A runtime tarball follows the directory walk's symlink rule: a link through
# another link is materialised (the launcher refuses such links), a link to
# a file or directory inside stays a link; both inputs give one base hash.
t_tarball_runtime_symlink_chains() {
    local d=$W/tbl/jdk-fake
    mkdir -p "$W/tbl"; fake_runtime "$d"
    ln -s ../conf "$d/lib/confdir"                          # kept: a link to a directory
    ln -s confdir/settings.properties "$d/lib/chain"        # through lib/confdir: materialised
    ln -s confdir/. "$d/lib/dirchain"                       # through it, to a directory: copied
    ln -s ../lib/chain "$d/bin/chain2"                      # a link to a link: kept
    ln -s nowhere/x "$d/lib/dangling"                       # skipped, with a warning
    ln -s ../release/.. "$d/lib/notdir"                     # through a file (ENOTDIR): skipped
    mkdir "$d/lib/empty"                                    # an empty directory is an entry too
    (cd "$W/tbl" && tar czf rt.tgz jdk-fake)
    "$HPACK" build -q --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$W/art/tbl-dir" 2>/dev/null
    "$HPACK" build --runtime "$W/tbl/rt.tgz" --jar "$SAMPLES/hello.jar" -o "$W/art/tbl-tgz" 2>"$W/tbl/err"
    grep -q "skipping symlink .*dangling" "$W/tbl/err" || fail "no warning for the dangling link: $(cat "$W/tbl/err")"
    [ "$("$HPACK" hash "$W/art/tbl-tgz")" = "$("$HPACK" hash "$W/art/tbl-dir")" ] || {
        diff <("$HPACK" inspect "$W/art/tbl-dir") <("$HPACK" inspect "$W/art/tbl-tgz") >&2 || true
        fail "tarball and directory give different base hashes"; }
    local t; t=$("$HPACK" inspect "$W/art/tbl-tgz")
    grep -E '^runtime +symlink .* runtime/lib/confdir$' <<<"$t" >/dev/null || fail "lib/confdir is not kept as a link"
    grep -E '^runtime +file .* runtime/lib/chain$' <<<"$t" >/dev/null || fail "lib/chain is not materialised"
    grep -E ' runtime/lib/dirchain/settings.properties$' <<<"$t" >/dev/null || fail "lib/dirchain is not copied"
    grep -q ' runtime/lib/dangling$' <<<"$t" && fail "dangling link packed"
    grep -q ' runtime/lib/notdir$' <<<"$t" && fail "link through a regular file packed"
    grep -qE '^runtime +dir .* runtime/lib/empty$' <<<"$t" || fail "the empty directory is missing"
    # the launcher (which refuses links through links) unpacks and runs it
    HPACK_CACHE_DIR=$W/tblc run_clean "$W/art/tbl-tgz" | grep -q FAKE-JAVA || fail "tarball artifact does not run"
    "$HPACK" verify "$W/art/tbl-tgz" >/dev/null || fail "verify"
}
# A directory materialised through a link (lib/current -> vlink/1.2, vlink
# being a link) is a copy; each link copied in it is judged where it really
# is and points, from its copy, at the same place (at the copy of a place
# inside the copied directory): verbatim, ../../../other would leave the
# tree from lib/current and ../../server would name nothing.
t_tarball_runtime_links_in_copied_dir() {
    local d=$W/tlc/jdk-fake v
    mkdir -p "$W/tlc"; fake_runtime "$d"
    v=$d/lib/versions/1.2
    mkdir -p "$d/other" "$v/sub"
    echo one >"$d/other/libfoo.so.1"; echo two >"$v/libbar.so"
    ln -s versions "$d/lib/vlink"
    ln -s vlink/1.2 "$d/lib/current"                        # through lib/vlink: copied
    ln -s ../../../other/libfoo.so.1 "$v/libfoo.so"         # out of the copied directory
    ln -s ../../server "$v/srv"                             # to a directory out of it
    ln -s libbar.so "$v/x"                                  # inside it: to the copy's own
    ln -s ./../libbar.so "$v/sub/y"                         # the same, written longer
    ln -s nowhere "$v/dangling"                             # skipped in the copy too
    (cd "$W/tlc" && tar czf rt.tgz jdk-fake)
    "$HPACK" build -q --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$W/art/tlc-dir" 2>/dev/null
    "$HPACK" build -q --runtime "$W/tlc/rt.tgz" --jar "$SAMPLES/hello.jar" -o "$W/art/tlc-tgz" 2>/dev/null
    [ "$("$HPACK" hash "$W/art/tlc-tgz")" = "$("$HPACK" hash "$W/art/tlc-dir")" ] || {
        diff <("$HPACK" inspect "$W/art/tlc-dir") <("$HPACK" inspect "$W/art/tlc-tgz") >&2 || true
        fail "tarball and directory give different base hashes"; }
    local a x
    for a in tlc-dir tlc-tgz; do
        x=$W/tlc/x-$a
        "$HPACK" extract "$W/art/$a" -o "$x" || fail "$a: extract refused a link"
        x=$x/runtime/lib/current
        [ -d "$x" ] && [ ! -L "$x" ] || fail "$a: lib/current is not a copied directory"
        [ "$(readlink "$x/libfoo.so")" = ../../other/libfoo.so.1 ] || fail "$a: libfoo.so -> $(readlink "$x/libfoo.so")"
        [ "$(cat "$x/libfoo.so")" = one ] || fail "$a: libfoo.so does not resolve"
        [ "$(readlink "$x/srv")" = ../server ] && [ -f "$x/srv/libjvm.so" ] || fail "$a: srv -> $(readlink "$x/srv")"
        [ "$(readlink "$x/x")" = libbar.so ] && [ "$(cat "$x/x")" = two ] || fail "$a: x -> $(readlink "$x/x")"
        [ "$(readlink "$x/sub/y")" = ../libbar.so ] && [ "$(cat "$x/sub/y")" = two ] || fail "$a: sub/y -> $(readlink "$x/sub/y")"
        [ ! -e "$x/dangling" ] && [ ! -L "$x/dangling" ] || fail "$a: the dangling link was copied"
    done
    # the launcher checks every link target too
    HPACK_CACHE_DIR=$W/tlcc run_clean "$W/art/tlc-tgz" | grep -q FAKE-JAVA || fail "tarball artifact does not run"
}
# A member below a symlink member has no place in the tree (tar would unpack
# it through the link): refused while reading, naming both, in either order.
t_tarball_member_below_symlink() {
    mkdir -p "$W/tbs"; fake_runtime "$W/tbs/jdk-fake"
    python3 - "$W/tbs" <<'PY'
import io, sys, tarfile
w = sys.argv[1]
# the link names something inside (etc) or points outside the archive
for name, order, target in (("link-first", "lf", "etc"), ("file-first", "fl", "etc"),
                            ("out-link-first", "lf", "../../../etc"), ("out-file-first", "fl", "../../../etc")):
    with tarfile.open(f"{w}/{name}.tgz", "w:gz") as t:
        t.add(f"{w}/jdk-fake", arcname="jdk-fake")
        for x in order:
            if x == "l":
                i = tarfile.TarInfo("jdk-fake/d/conf"); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)
            else:
                i = tarfile.TarInfo("jdk-fake/d/conf/x"); i.size = 3; t.addfile(i, io.BytesIO(b"x=1"))
# a directory member after a symlink member of the same name (tar would replace the link)
with tarfile.open(f"{w}/dir-after-link.tgz", "w:gz") as t:
    t.add(f"{w}/jdk-fake", arcname="jdk-fake")
    i = tarfile.TarInfo("jdk-fake/d/conf"); i.type = tarfile.SYMTYPE; i.linkname = "etc"; t.addfile(i)
    i = tarfile.TarInfo("jdk-fake/d/conf"); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
PY
    local f
    for f in link-first file-first out-link-first out-file-first; do
        expect_status 3 "$f.tgz: member jdk-fake/d/conf/x lies below the symlink jdk-fake/d/conf" \
            "$HPACK" build --runtime "$W/tbs/$f.tgz" --jar "$SAMPLES/hello.jar" -o "$W/art/tbs-$f"
    done
    expect_status 3 "dir-after-link.tgz: member jdk-fake/d/conf/ appears twice" \
        "$HPACK" build --runtime "$W/tbs/dir-after-link.tgz" --jar "$SAMPLES/hello.jar" -o "$W/art/tbs-dal"
}
# Archives from third parties, as a review crafted them: UTF-8 member names
# (a pax header, zip's flag, a jar's first entry) are read, not refused as
# "not a jar"; an absolute symlink names nothing inside and is skipped, not
# resolved inside the archive; a name longer than a path is refused, not
# cut; a file of another format is not handed to an external decoder.
t_archive_inputs_as_given() {
    mkdir -p "$W/aig/bin"; fake_runtime "$W/aig/jdk-fake"
    python3 - "$W/aig" "$SAMPLES/hello.jar" <<'PY'
import io, sys, tarfile, zipfile
w, hello = sys.argv[1], open(sys.argv[2], "rb").read()
def member(t, name, data=b"x"):
    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
with tarfile.open(f"{w}/utf8.tgz", "w:gz", format=tarfile.PAX_FORMAT) as t:
    member(t, "app/lib/hello.jar", hello); member(t, "app/conf/caf\u00e9.txt")
with zipfile.ZipFile(f"{w}/utf8.zip", "w") as z:
    z.writestr("app/lib/hello.jar", hello); z.writestr("app/conf/caf\u00e9.txt", b"x")
with zipfile.ZipFile(f"{w}/utf8first.jar", "w") as z, zipfile.ZipFile(sys.argv[2]) as h:
    z.writestr("donn\u00e9es/x.txt", b"x")
    for n in h.namelist(): z.writestr(n, h.read(n))
with tarfile.open(f"{w}/abslink.tgz", "w:gz") as t:
    member(t, "app/lib/hello.jar", hello); member(t, "app/conf/etc/app.conf", b"INSIDE")
    i = tarfile.TarInfo("app/conf/link.conf"); i.type = tarfile.SYMTYPE; i.linkname = "/etc/app.conf"; t.addfile(i)
with tarfile.open(f"{w}/deep.tgz", "w:gz", format=tarfile.PAX_FORMAT) as t:
    member(t, "app/lib/hello.jar", hello); member(t, "app/" + "d123456789/" * 420 + "f")
open(f"{w}/app.tar.lrz", "wb").write(b"LRZI\x00\x06" + bytes(100))
with tarfile.open(f"{w}/big.tgz", "w:gz") as t:
    member(t, "app/lib/hello.jar", hello)
    i = tarfile.TarInfo("app/big.bin"); i.size = 3 << 30; t.addfile(i)  # the header's word only
with tarfile.open(f"{w}/file-then-child.tgz", "w:gz") as t:
    member(t, "app/lib/hello.jar", hello); member(t, "app/conf"); member(t, "app/conf/app.properties")
with tarfile.open(f"{w}/longlink.tgz", "w:gz", format=tarfile.PAX_FORMAT) as t:
    member(t, "app/lib/hello.jar", hello)
    i = tarfile.TarInfo("app/l"); i.type = tarfile.SYMTYPE; i.linkname = "x/" * 2100; t.addfile(i)
# links to directories holding two links each to the level below: 2^12 copies
with tarfile.open(f"{w}/fanout.tgz", "w:gz") as t:
    def link(n, to):
        i = tarfile.TarInfo(n); i.type = tarfile.SYMTYPE; i.linkname = to; t.addfile(i)
    member(t, "app/lib/hello.jar", hello); member(t, "app/d0/f"); link("app/a0", "d0")
    for k in range(1, 13):
        link(f"app/d{k}/x", f"../a{k - 1}/."); link(f"app/d{k}/y", f"../a{k - 1}/."); link(f"app/a{k}", f"d{k}")
PY
    # a decoder on the PATH that says when it runs
    printf '#!/bin/sh\ntouch %s/ran\nexit 1\n' "$W/aig" >"$W/aig/bin/lrzip"; chmod +x "$W/aig/bin/lrzip"
    local f
    for f in utf8.tgz utf8.zip; do
        LANG=C LC_ALL=C "$HPACK" build -q --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/$f" --cp lib/hello.jar \
            --main-class demo.Main -o "$W/art/aig-$f" || fail "$f: not read"
        "$HPACK" inspect --json "$W/art/aig-$f" | grep -q "\"app/conf/caf\(\\u00e9\|é\).txt\"" || fail "$f: the UTF-8 name is not in the artifact"
    done
    [ "$("$HPACK" hash "$W/art/aig-utf8.tgz")" = "$("$HPACK" hash "$W/art/aig-utf8.zip")" ] || fail "the tar and the zip give other bytes"
    LC_ALL=C "$HPACK" build -q --runtime "$W/aig/jdk-fake" --jar "$W/aig/utf8first.jar" -o "$W/art/aig-first" ||
        fail "a jar whose first entry has a UTF-8 name is refused"
    local err
    err=$("$HPACK" build -q --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/abslink.tgz" --cp lib/hello.jar \
        --main-class demo.Main -o "$W/art/aig-abs" 2>&1) || fail "abslink.tgz: $err"
    grep -q "skipping symlink conf/link.conf -> /etc/app.conf (names nothing inside the archive)" <<<"$err" || fail "no warning: $err"
    ! "$HPACK" inspect --json "$W/art/aig-abs" | grep -q '"app/conf/link.conf"' || fail "the absolute link was resolved inside the archive"
    expect_status 4 "deep.tgz: member app/d123456789/" \
        "$HPACK" build --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/deep.tgz" --cp lib/hello.jar --main-class demo.Main -o "$W/art/aig-deep"
    PATH=$W/aig/bin:$PATH expect_status 4 "app.tar.lrz: not a directory nor an archive hpack can read" \
        "$HPACK" build --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/app.tar.lrz" --cp lib/hello.jar --main-class demo.Main -o "$W/art/aig-lrz"
    [ ! -e "$W/aig/ran" ] || fail "an external decoder ran"
    # a member header claiming 3 GiB, in an archive of 300 bytes: refused
    # as truncated, without taking the memory it claims first
    local rss
    rss=$(python3 - "$HPACK" build --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/big.tgz" --cp lib/hello.jar \
        --main-class demo.Main -o "$W/art/aig-big" <<'PY'
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stderr=subprocess.PIPE, text=True)
assert r.returncode == 4 and "big.tgz: member app/big.bin: Truncated tar archive" in r.stderr, (r.returncode, r.stderr)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
) || fail "big.tgz: not refused as truncated"
    [ "$rss" -lt 1048576 ] || fail "big.tgz: $rss KB resident for a 300-byte archive"
    # errors of the input said as such, not as the payload's self-check
    expect_status 4 "file-then-child.tgz: member app/conf/app.properties lies below the file app/conf" \
        "$HPACK" build --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/file-then-child.tgz" --cp lib/hello.jar --main-class demo.Main -o "$W/art/aig-ftc"
    expect_status 4 "longlink.tgz: member app/l: symlink target longer than 4095 bytes" \
        "$HPACK" build --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/longlink.tgz" --cp lib/hello.jar --main-class demo.Main -o "$W/art/aig-ll"
    expect_status 4 "its symlinks to directories copy more than 10000 files" \
        "$HPACK" build --runtime "$W/aig/jdk-fake" --app-dist "$W/aig/fanout.tgz" --cp lib/hello.jar --main-class demo.Main -o "$W/art/aig-fan"
}

t_extract_round_trip() {
    "$HPACK" extract "$H25" -o "$W/rt-x" || fail "extract to a directory"
    local cp; cp=$("$HPACK" inspect --json "$H25" | python3 -c 'import json,sys; print(json.load(sys.stdin)["class_path"][0])')
    "$HPACK" build -q --runtime "$W/rt-x/runtime" --cp "$W/rt-x/$cp" --main-class demo.Main -o "$W/art/rt"
    [ "$("$HPACK" hash "$W/art/rt")" = "$("$HPACK" hash "$H25")" ] || fail "round trip changed the base hash"
    # archives: standard, deterministic, and hold the same files
    "$HPACK" extract "$H25" -o "$W/x1.tar"; (umask 077; TZ=Pacific/Kiritimati "$HPACK" extract "$H25" -o "$W/x2.tar")
    cmp "$W/x1.tar" "$W/x2.tar" || fail "two tar extractions differ"
    # The contents decoded on a second thread (packer/ahead.c) or on one: the same bytes.
    HPACK_THREADS=1 "$HPACK" extract "$H25" -o "$W/x1t.tar"; HPACK_THREADS=1 "$HPACK" extract "$H25" -o "$W/x1t.zip"
    cmp "$W/x1.tar" "$W/x1t.tar" || fail "the tar differs on one thread"
    # no clock in it: every member has the fixed time (1980-01-01), whenever it ran
    python3 - "$W/x1.tar" <<'PY' || fail "a tar member carries another time"
import sys, tarfile
bad = [m.name for m in tarfile.open(sys.argv[1]) if m.mtime != 315532800]
sys.exit(1 if bad else 0)
PY
    "$HPACK" extract "$H25" -o "$W/x1.zip"; "$HPACK" extract "$H25" -o "$W/x2.zip"
    cmp "$W/x1.zip" "$W/x2.zip" || fail "two zip extractions differ"
    cmp "$W/x1.zip" "$W/x1t.zip" || fail "the zip differs on one thread"
    python3 - "$W/x1.tar" "$W/x1.zip" "$W/rt-x" <<'PY' || fail "archive contents differ from the tree"
import hashlib, os, sys, tarfile, zipfile
tree = sys.argv[3]
def h(b): return hashlib.sha256(b).hexdigest()
want = {}
for d, _, fs in os.walk(tree):
    for f in fs:
        p = os.path.join(d, f)
        if not os.path.islink(p):
            want[os.path.relpath(p, tree)] = h(open(p, "rb").read())
with tarfile.open(sys.argv[1]) as t:
    got = {m.name: h(t.extractfile(m).read()) for m in t.getmembers() if m.isfile()}
assert got == want, "tar"
with zipfile.ZipFile(sys.argv[2]) as z:
    import stat
    got = {i.filename: h(z.read(i)) for i in z.infolist()
           if not i.filename.endswith("/") and not stat.S_ISLNK(i.external_attr >> 16)}
assert got == want, "zip"
PY
    [ "$(SOURCE_DATE_EPOCH=1700000000 "$HPACK" extract "$H25" -o "$W/x3.tar"; tar tvf "$W/x3.tar" | head -1 | awk '{print $4}')" = 2023-11-14 ] ||
        fail "SOURCE_DATE_EPOCH not honoured"
}
t_inspect_json_and_hash() {
    "$HPACK" inspect --json "$H25T" | python3 -m json.tool >/dev/null || fail "inspect --json is not JSON"
    "$HPACK" diff --json "$H25T0" "$H25T" | python3 -m json.tool >/dev/null || fail "diff --json is not JSON"
    local j; j=$("$HPACK" inspect --json "$H25T")
    python3 - <<PY || fail "inspect --json content"
import json
j = json.loads('''$j''')
assert j["base_hash"] == "$("$HPACK" hash --base "$H25T")"
assert j["full_hash"] == "$("$HPACK" hash --full "$H25T")"
assert j["cache"]["bound"] is True and j["cache"]["kind"] == "aot"
assert j["main_class"] == "demo.Main" and j["launcher_version"]
assert any(e["path"] == "runtime/lib/modules" and e["codec"] == "zstd" for e in j["entries"])
assert any(e["path"] == "app/hello.jar" and e["codec"] == "stored" for e in j["entries"])  # under 4 KiB
PY
    local rc=0; "$HPACK" diff "$H25T0" "$H25T" >/dev/null || rc=$?; [ $rc = 1 ] || fail "diff of different: $rc"
    rc=0; "$HPACK" diff "$H25T" "$H25T" >/dev/null || rc=$?; [ $rc = 0 ] || fail "diff of same: $rc"
    rc=0; "$HPACK" diff "$H25T" /etc/passwd >/dev/null 2>&1 || rc=$?; [ $rc = 2 ] || fail "diff error: $rc"
}
t_verify_names_the_entry() {
    "$HPACK" verify "$H25T" --expect-base "$("$HPACK" hash "$H25T")" --expect-full "$("$HPACK" hash --full "$H25T")" >/dev/null ||
        fail "verify of a good artifact"
    expect_status 1 "base hash is" "$HPACK" verify "$H25T" --expect-base 00000000000000000000000000000000
    local json; json=$("$HPACK" inspect --json "$H25T")
    # one byte in each of: the jar, a zstd entry, the cache, padding, the table, the footer
    while read -r off want; do
        cp "$H25T" "$W/v"
        local b; b=$(od -An -tu1 -j "$off" -N1 "$W/v" | tr -d ' ')
        printf "\\$(printf '%03o' $(( (b ^ 1) & 255 )))" | dd of="$W/v" bs=1 seek="$off" conv=notrunc 2>/dev/null
        local rc=0 err; err=$("$HPACK" verify "$W/v" 2>&1 >/dev/null) || rc=$?
        [ $rc != 0 ] || fail "flip at $off not reported"
        grep -q -- "$want" <<<"$err" || fail "flip at $off: '$err' does not name '$want'"
    done < <(python3 - "$json" <<'PY'
import json, sys
j = json.loads(sys.argv[1]); base = j["payload"]["offset"]
E = {e["path"]: e for e in j["entries"]}
cache = [e for e in j["entries"] if e["path"].endswith(".aot")][0]
for path in ["app/hello.jar", "runtime/lib/modules", "runtime/lib/server/libjvm.so", cache["path"]]:
    e = E[path]; print(base + e["offset"] + e["stored_size"] // 3, path)
# padding: zeros before a stored file that starts on a page (docs/format.md 2)
ents = sorted((e for e in j["entries"] if e["stored_size"]), key=lambda e: e["offset"])
gaps = [a["offset"] + a["stored_size"] for a, b in zip(ents, ents[1:]) if b["offset"] - a["offset"] - a["stored_size"] >= 8]
assert gaps, "no padding between entries"
print(base + gaps[0] + 3, "padding")
print(base + j["payload"]["toc_offset"] + 10, "table")
print(base + j["payload"]["size"] - 100, "footer")
PY
)
}
# An extraction appears only complete: the cache entries are written in
# the tree's own pass (layout/unpack.c), so a cache entry that fails its
# hash leaves no directory behind, for `hpack extract -o DIR` and for
# --hpack-extract alike (a second pass used to leave the tree in place
# without its cache, exit status and all).
t_extract_corrupt_cache_leaves_nothing() {
    local v=$W/xcorrupt.da1 off rc err
    cp "$H25T" "$v"
    off=$("$HPACK" inspect --json "$H25T" | python3 -c '
import json, sys
j = json.load(sys.stdin); e = [e for e in j["entries"] if e["path"] == j["cache"]["path"]][0]
print(j["payload"]["offset"] + e["offset"] + e["stored_size"] // 2)')
    printf '\xff\xff\xff\xff\xff\xff\xff\xff' | dd of="$v" bs=1 seek="$off" conv=notrunc status=none
    rc=0; err=$("$HPACK" extract "$v" -o "$W/xc1" 2>&1) || rc=$?
    [ $rc = 6 ] && grep -q 'cache/.*\.aot' <<<"$err" || fail "hpack extract: status $rc: $err"
    [ -z "$(ls -d "$W"/xc1* 2>/dev/null)" ] || fail "hpack extract left: $(ls -d "$W"/xc1*)"
    rc=0; err=$(cd "$W" && "$v" --hpack-extract xc2 2>&1) || rc=$?
    [ $rc = 121 ] && grep -q 'cache/.*\.aot' <<<"$err" || fail "--hpack-extract: status $rc: $err"
    [ -z "$(ls -d "$W"/xc2* 2>/dev/null)" ] || fail "--hpack-extract left: $(ls -d "$W"/xc2*)"
    # To an archive: the contents decoded one thread ahead (packer/ahead.c,
    # seen as a second thread), the cache last; nothing is left.
    command -v strace >/dev/null || fail "strace is missing (sh tests/setup-deps.sh)"
    local x
    for x in tar zip; do
        rc=0; err=$(HPACK_THREADS=2 strace -f -qq -e trace=clone,clone3 -e signal=none -o "$W/xc.$x.st" \
            "$HPACK" extract "$v" -o "$W/xc5.$x" 2>&1) || rc=$?
        [ $rc = 9 ] && grep -q 'cache/.*\.aot' <<<"$err" || fail "hpack extract -o .$x: status $rc: $err"
        grep -q 'clone3\?(.*CLONE_THREAD' "$W/xc.$x.st" || fail "-o .$x: no thread decoded ahead: $(cat "$W/xc.$x.st")"
        [ -z "$(ls -d "$W"/xc5* 2>/dev/null)" ] || fail "hpack extract -o .$x left: $(ls -d "$W"/xc5*)"
    done
    # The same artifact unharmed: both extract, the cache with the tree.
    "$HPACK" extract "$H25T" -o "$W/xc3" >/dev/null && ls "$W"/xc3/cache/*.aot >/dev/null || fail "hpack extract -o DIR of DA1"
    (cd "$W" && "$H25T" --hpack-extract xc4 >/dev/null) && cmp "$W"/xc3/cache/*.aot "$W"/xc4/cache/*.aot ||
        fail "--hpack-extract of DA1"
}
t_lock_and_locked() {
    local rt; rt=$(rt25)
    mkdir -p "$W/lk"; cp "$SAMPLES/hello.jar" "$W/lk/"
    "$HPACK" build -q --runtime "$rt" --jar "$W/lk/hello.jar" -o "$W/art/lk1" --lock "$W/hpack.lock"
    grep -q "app/hello.jar <- $W/lk/hello.jar" "$W/hpack.lock" || fail "lock lacks the jar"
    "$HPACK" build -q --runtime "$rt" --jar "$W/lk/hello.jar" -o "$W/art/lk2" --locked "$W/hpack.lock" || fail "--locked refused the same inputs"
    cmp "$W/art/lk1" "$W/art/lk2" || fail "locked build differs"
    (cd "$W/lk" && echo extra >NOTE && "$J25/bin/jar" --update --file hello.jar NOTE)
    expect_status 8 "lk/hello.jar for app/hello.jar differs" "$HPACK" build --runtime "$rt" --jar "$W/lk/hello.jar" -o "$W/art/lk3" --locked "$W/hpack.lock"
    [ ! -e "$W/art/lk3" ] || fail "output written"
    expect_status 8 "hpack/launch differs" "$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" --jvm-opt=-Xmx64m -o "$W/art/lk4" --locked "$W/hpack.lock"
}

# --app-dist: an application distribution (directory, zip or tar.gz with one
# top directory) shipped whole under app/; relative --cp entries and
# wildcards name jars inside it; resources reach the app through ${HPACK_APP}.
make_dist() { # DIR: myapp-1.0/{lib/hello.jar, lib/util.jar, conf/app.properties, bin/tool}
    local d=$1/myapp-1.0
    mkdir -p "$d/lib" "$d/conf" "$d/bin"
    cp "$SAMPLES/hello.jar" "$d/lib/hello.jar"
    cp "$SAMPLES/http.jar" "$d/lib/util.jar"
    echo "greeting=hi from the distribution" >"$d/conf/app.properties"
    printf '#!/bin/sh\necho tool\n' >"$d/bin/tool"; chmod 755 "$d/bin/tool"
}
t_app_dist_archive_and_dir() {
    local rt; rt=$(rt25)
    mkdir -p "$W/ad1" "$W/ad2"
    make_dist "$W/ad1"
    # the archives are made from a second copy, with other mtimes and order
    # (made under umask 077: its files are 0600 and its directories 0700)
    (umask 077; make_dist "$W/ad2"); touch -d 2001-01-01 "$W/ad2/myapp-1.0/lib/hello.jar"
    [ "$(stat -c %a "$W/ad2/myapp-1.0/lib/hello.jar")" = 600 ] || fail "the second copy is not under umask 077"
    (cd "$W/ad2" && python3 -m zipfile -c ../app.zip myapp-1.0 && tar czf ../app.tgz myapp-1.0/conf myapp-1.0/bin myapp-1.0/lib)
    local src h=""
    for src in "$W/ad1/myapp-1.0" "$W/app.zip" "$W/app.tgz"; do
        "$HPACK" build -q --runtime "$rt" --app-dist "$src" --cp 'lib/*' --main-class demo.Main \
            --arg '${HPACK_APP}/conf/app.properties' -o "$W/art/ad.$(basename "$src")"
        local now; now=$("$HPACK" hash "$W/art/ad.$(basename "$src")")
        [ -z "$h" ] || [ "$now" = "$h" ] || fail "$src: base hash $now, directory gave $h"
        h=$now
    done
    # the second copy, other mtimes, umask 077, TZ and LANG: the same bytes
    (umask 077; cd "$W/ad2" && TZ=Asia/Tokyo LANG=C.UTF-8 "$HPACK" build -q --runtime "$rt" --app-dist myapp-1.0 \
        --cp 'lib/*' --main-class demo.Main --arg '${HPACK_APP}/conf/app.properties' -o "$W/art/ad.copy")
    [ "$(sha256sum <"$W/art/ad.copy")" = "$(sha256sum <"$W/art/ad.myapp-1.0")" ] || fail "two copies of the distribution: other bytes"
    local j; j=$("$HPACK" inspect --json "$W/art/ad.app.zip")
    python3 - "$j" <<'PY' || fail "inspect: unexpected class path or entries"
import json, sys
j = json.loads(sys.argv[1])
assert j["class_path"] == ["app/lib/hello.jar", "app/lib/util.jar"], j["class_path"]
paths = {e["path"]: e for e in j["entries"]}
for p in ("app/conf/app.properties", "app/bin/tool", "app/lib/hello.jar"):
    assert p in paths, p
assert paths["app/bin/tool"]["mode"] in ("0755", "755", 0o755, 493), paths["app/bin/tool"]["mode"]
PY
    # ${HPACK_APP} is the unpacked app directory on this host, with the resources in it
    local out f; out=$(HPACK_CACHE_DIR=$W/adc run_clean "$W/art/ad.app.zip")
    grep -q 'Hello from hpack' <<<"$out" || fail "does not run: $out"
    f=$(sed -n 's/^arg\[\(.*\)\]$/\1/p' <<<"$out" | head -1)
    [[ $f == "$W/adc/$h/app/conf/app.properties" ]] || fail "\${HPACK_APP} expanded to $f"
    grep -q 'hi from the distribution' "$f" || fail "the resource is not at $f"
    # errors name the distribution and what is missing in it
    expect_status 4 "app.zip: no lib/nope.jar in the application distribution" \
        "$HPACK" build --runtime "$rt" --app-dist "$W/app.zip" --cp lib/nope.jar --main-class demo.Main -o "$W/art/x"
    expect_status 4 "no jars match" "$HPACK" build --runtime "$rt" --app-dist "$W/app.zip" --cp 'conf/*' --main-class demo.Main -o "$W/art/x"
    # an archive whose single top directory is lib/: stripped, and the error says so
    (cd "$W/ad1/myapp-1.0" && python3 -m zipfile -c "$W/libonly.zip" lib)
    expect_status 4 "libonly.zip: no directory lib in the application distribution (paths are relative to its single top directory lib/)" \
        "$HPACK" build --runtime "$rt" --app-dist "$W/libonly.zip" --cp 'lib/*' --main-class demo.Main -o "$W/art/x"
    expect_status 4 "app-dist" "$HPACK" build --runtime "$rt" --app-dist "$W/nope.zip" --cp 'lib/*' --main-class demo.Main -o "$W/art/x"
    expect_status 2 'unknown variable ${HPACK_AP}' \
        "$HPACK" build --runtime "$rt" --app-dist "$W/app.zip" --cp 'lib/*' --main-class demo.Main --jvm-opt '-Dx=${HPACK_AP}' -o "$W/art/x"
    [ ! -e "$W/art/x" ] || fail "a failed build left its output"
    # a lock names a changed member of the archive by its entry
    "$HPACK" build -q --runtime "$rt" --app-dist "$W/app.tgz" --cp 'lib/*' --main-class demo.Main --lock "$W/ad.lock" -o "$W/art/x1"
    echo changed >"$W/ad2/myapp-1.0/conf/app.properties"
    (cd "$W/ad2" && tar czf ../app.tgz myapp-1.0)
    expect_status 8 "app/conf/app.properties" \
        "$HPACK" build --runtime "$rt" --app-dist "$W/app.tgz" --cp 'lib/*' --main-class demo.Main --locked "$W/ad.lock" -o "$W/art/x2"
}

# The launcher's variables, with a fake JVM that prints its command line.
t_launcher_variables() {
    fake_runtime "$W/lv-rt"
    mkdir -p "$W/lv/d"
    "$HPACK" build -q --runtime "$W/lv-rt" --jar "$SAMPLES/hello.jar" --jvm-opt '-Dapp=${HPACK_APP}' \
        --jvm-opt '-Drt=${HPACK_RUNTIME}/lib' --jvm-opt '-Dexe=${HPACK_EXE}' --arg '${HPACK_CWD}' \
        --arg 'keep ${HOME} and $HPACK_APP' -o "$W/lv/app"
    local out; out=$(cd "$W/lv/d" && env -i HPACK_CACHE_DIR="$W/lv/c" PATH=/usr/bin:/bin "$W/lv/app")
    local h; h=$("$HPACK" hash "$W/lv/app")
    grep -qF -- "-Dapp=$W/lv/c/$h/app -Drt=$W/lv/c/$h/runtime/lib -Dexe=$W/lv/app " <<<"$out" || fail "JVM options: $out"
    grep -qF -- "demo.Main $W/lv/d keep \${HOME} and \$HPACK_APP" <<<"$out" || fail "arguments: $out"
    # a relative HPACK_CACHE_DIR still gives absolute paths (the app may chdir)
    out=$(cd "$W/lv" && env -i HPACK_CACHE_DIR=c PATH=/usr/bin:/bin "$W/lv/app")
    grep -qF -- "-Dapp=$W/lv/c/$h/app -Drt=$W/lv/c/$h/runtime/lib " <<<"$out" || fail "relative cache dir: $out"
    # a working directory that is gone: a clear error, not an empty path
    mkdir -p "$W/lv/gone"
    local rc=0; out=$(cd "$W/lv/gone" && rmdir "$W/lv/gone" && env -i HPACK_CACHE_DIR="$W/lv/c" PATH=/usr/bin:/bin "$W/lv/app" 2>&1) || rc=$?
    [ $rc = 126 ] && grep -qF 'cannot expand ${HPACK_CWD}' <<<"$out" || fail "deleted cwd: status $rc: $out"
}

# --env: variables the launcher sets for the JVM and what it runs, their
# ${HPACK_*} expanded (a script the app runs finds the packed JVM through
# JAVA_HOME); the artifact's value wins over the host's.
t_launcher_env() {
    local d=$W/lenv rt; rt=$(rt25)
    mkdir -p "$d/o"
    "$HPACK" build -q --runtime "$rt" --jar "$SAMPLES/hello.jar" --env 'JAVA_HOME=${HPACK_RUNTIME}' \
        --env 'GREETING=a b=c' -o "$d/app" || fail "build"
    local h out; h=$("$HPACK" hash "$d/app")
    out=$(env -i HPACK_CACHE_DIR="$d/c" PATH=/usr/bin:/bin GREETING=host "$d/app" --env JAVA_HOME --env GREETING) ||
        fail "run: $out"
    grep -qx "JAVA_HOME=$d/c/$h/runtime" <<<"$out" && grep -qx 'GREETING=a b=c' <<<"$out" || fail "env: $out"
    [ -x "$d/c/$h/runtime/bin/java" ] || fail "JAVA_HOME has no bin/java"
    # shown, one line each, by hpack inspect, its --json and --hpack-info
    out=$("$HPACK" inspect "$d/app")
    grep -qx 'env:            JAVA_HOME=${HPACK_RUNTIME}' <<<"$out" && grep -qx 'env:            GREETING=a b=c' <<<"$out" ||
        fail "inspect: $out"
    [ "$("$HPACK" inspect --json "$d/app" | python3 -c 'import json,sys; print(json.load(sys.stdin)["env"])')" = \
        "['JAVA_HOME=\${HPACK_RUNTIME}', 'GREETING=a b=c']" ] || fail "inspect --json"
    out=$(HPACK_CACHE_DIR="$d/c" "$d/app" --hpack-info)
    grep -qx 'env: GREETING=a b=c' <<<"$out" || fail "--hpack-info: $out"
    # a training run (HPACK_TRAIN) has them too: what it records is what a start sees
    out=$(env -i HPACK_CACHE_DIR="$d/c" PATH=/usr/bin:/bin HPACK_TRAIN="$d/t.aot" "$d/app" --env GREETING) ||
        fail "training run: $out"
    grep -qx 'GREETING=a b=c' <<<"$out" && [ -s "$d/t.aot" ] || fail "training run: $out"
    # the launcher's own variables, the JVM's option variables (the cache
    # was trained without them: --jvm-opt), what is not NAME=VALUE, an
    # unknown ${HPACK_...}: each said on one line, whatever the value holds
    local v why
    for v in HPACK_CACHE_DIR=/x JAVA_TOOL_OPTIONS=-Xint _JAVA_OPTIONS=-Xint JDK_JAVA_OPTIONS=-Xint NOVALUE 1X=y =y \
        $'A-B=x\nhpack: forged' 'X=${HPACK_APPDIR}'; do
        case $v in
            HPACK_*) why="HPACK_\* are the launcher's own variables" ;;
            *_OPTIONS=*) why="the JVM takes options from it, .*: use --jvm-opt" ;;
            'X=${HPACK_APPDIR}') why='unknown variable ${HPACK_APPDIR' ;;
            *) why="expected NAME=VALUE, NAME a variable's name" ;;
        esac
        local rc=0 err; err=$("$HPACK" build --runtime "$rt" --jar "$SAMPLES/hello.jar" --env "$v" -o "$d/o/bad" 2>&1) || rc=$?
        [ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "^hpack build: --env .*: $why" <<<"$err" ||
            fail "--env $v: status $rc: $err"
    done
    no_leftovers "$d/o"
}

# DA1 is DA0 plus the startup cache: `hpack diff` reports that as one
# entry, the cache file, with its cache/ directory and provenance folded in.
# Uses build_trained's DA0 and DA1.
t_da0_da1_diff_is_the_cache() {
    local base; base=$("$HPACK" hash --base "$H25T0")
    [ "$base" = "$("$HPACK" hash --base "$H25T")" ] || fail "base hashes differ"
    local c size
    read -r c size < <("$HPACK" inspect --json "$H25T" | python3 -c '
import json,sys; c=json.load(sys.stdin)["cache"]; print(c["path"], c["size"])')
    [[ $c == cache/*.aot ]] || fail "no AOT cache in the DA1: $c"
    local out rc=0; out=$("$HPACK" diff "$H25T0" "$H25T") || rc=$?
    [ $rc = 1 ] || fail "diff status $rc, expected 1"
    local want="added    cache     $c  (startup cache, aot, $size bytes; with cache/ and provenance ${c%.aot}.prov)"
    [ "$(grep -cE '^(added|removed|changed) ' <<<"$out")" = 1 ] || fail "not one change: $out"
    grep -qxF "$want" <<<"$out" || fail "the change is not '$want': $out"
    grep -qxF "1 added, 0 removed, 0 changed; base same ($base)" <<<"$out" || fail "summary: $out"
    # the other way round: one removed
    out=$("$HPACK" diff "$H25T" "$H25T0") || true
    [ "$(grep -cE '^(added|removed|changed) ' <<<"$out")" = 1 ] && grep -qxF "removed  ${want#added    }" <<<"$out" ||
        fail "reverse diff: $out"
    rc=0; "$HPACK" diff --json "$H25T0" "$H25T" >"$W/diff.json" || rc=$?
    [ $rc = 1 ] || fail "diff --json status $rc, expected 1"
    python3 -m json.tool "$W/diff.json" >/dev/null || fail "diff --json is not JSON"
    python3 - "$W/diff.json" "$c" "$size" "$base" <<'PY' || fail "diff --json: $(cat "$W/diff.json")"
import json, sys
j = json.load(open(sys.argv[1])); c, size, base = sys.argv[2], int(sys.argv[3]), sys.argv[4]
added = [x for x in j["changes"] if x["change"] == "added"]
assert len(j["changes"]) == 1 and len(added) == 1, j["changes"]
x = added[0]
assert x["role"] == "cache" and x["path"] == c, x
assert x["startup_cache"] == "aot" and x["size"] == size, x
assert x["includes"] == ["cache", c[:-4] + ".prov"], x
assert (j["added"], j["removed"], j["changed"]) == (1, 0, 0), j
assert j["same_base"] is True and j["identical"] is False and j["base_a"] == j["base_b"] == base, j
PY
}
# What is folded into a cache file and what is not (crafted artifacts).
t_diff_folds_cache_bookkeeping() {
    local d=$W/dfold; mkdir -p "$d"
    "$CRAFT" "$d/none" d:runtime d:app f:app/a.jar:1
    "$CRAFT" "$d/prov" d:runtime d:app f:app/a.jar:1 d:cache c:cache/x.prov:p
    "$CRAFT" "$d/c1" d:runtime d:app f:app/a.jar:1 d:cache c:cache/x.aot:A c:cache/x.prov:p
    "$CRAFT" "$d/c2" d:runtime d:app f:app/a.jar:1 d:cache c:cache/y.jsa:BB c:cache/y.prov:q
    "$CRAFT" "$d/c3" d:runtime d:app f:app/a.jar:1 d:cache c:cache/x.aot:C c:cache/x.prov:r
    changes() { "$HPACK" diff "$@" | grep -E '^(added|removed|changed) ' || true; }
    # a provenance and a cache/ without a cache file are reported as themselves
    [ "$(changes "$d/none" "$d/prov")" = "added    cache     cache
added    cache     cache/x.prov" ] || fail "lone provenance: $(changes "$d/none" "$d/prov")"
    [ "$(changes "$d/prov" "$d/c1")" = "added    cache     cache/x.aot  (startup cache, aot, 1 bytes)" ] ||
        fail "cache added beside an existing provenance: $(changes "$d/prov" "$d/c1")"
    # another cache: one removed, one added, each with its provenance; cache/ stays
    [ "$(changes "$d/c1" "$d/c2")" = "removed  cache     cache/x.aot  (startup cache, aot, 1 bytes; with provenance cache/x.prov)
added    cache     cache/y.jsa  (startup cache, cds, 2 bytes; with provenance cache/y.prov)" ] ||
        fail "other cache: $(changes "$d/c1" "$d/c2")"
    "$HPACK" diff "$d/c1" "$d/c2" | grep -qx '1 added, 1 removed, 0 changed; .*' || fail "other cache: counts"
    # the same name, other content: one change
    [ "$(changes "$d/c1" "$d/c3")" = "changed  cache     cache/x.aot  (startup cache, aot, 1 bytes; with provenance cache/x.prov)" ] ||
        fail "changed cache: $(changes "$d/c1" "$d/c3")"
    "$HPACK" diff --json "$d/c1" "$d/c2" | python3 -c '
import json, sys; j = json.load(sys.stdin)
assert [(x["change"], x["path"], x["includes"]) for x in j["changes"]] == [
    ("removed", "cache/x.aot", ["cache/x.prov"]), ("added", "cache/y.jsa", ["cache/y.prov"])], j
assert (j["added"], j["removed"], j["changed"]) == (1, 1, 0), j' || fail "diff --json of two caches"
    "$HPACK" diff --json "$d/none" "$d/prov" | python3 -c '
import json, sys; j = json.load(sys.stdin)
assert [x["path"] for x in j["changes"]] == ["cache", "cache/x.prov"] and j["added"] == 2, j
assert not any("includes" in x for x in j["changes"]), j' || fail "diff --json of a lone provenance"
}

t_zstd8m_trained_cache() {
    # A trained DA1 at zstd:9: the AOT cache (over 2 MiB, appended after
    # training) is in 8 MiB frames too; the first start unpacks it in the
    # launcher's second pass and the JVM must use it.
    local rt; rt=$(rt25)
    "$HPACK" build -q --train --compress zstd:9 --runtime "$rt" --jar "$SAMPLES/hello.jar" -o "$W/art/z9" ||
        fail "zstd:9 --train build failed"
    local t; t=$("$HPACK" inspect "$W/art/z9")
    awk '$NF ~ /^cache\/.*\.(aot|jsa)$/ && $6 == "zstd8m" {ok = 1} END {exit !ok}' <<<"$t" ||
        fail "the cache is not in 8 MiB frames: $(grep cache/ <<<"$t")"
    HPACK_CACHE_DIR=$W/z9c HPACK_AOT=require "$W/art/z9" | grep -q 'Hello from hpack' || fail "DA1 does not run with its cache"
    HPACK_CACHE_DIR=$W/z9c "$W/art/z9" --hpack-verify >/dev/null || fail "--hpack-verify"
}

# Codecs (docs/format.md 5.3): zstd by default, in 2 MiB frames; a file much
# like an earlier one (the JDK's CDS archives) as its difference (zstdref),
# one merely alike in name as frames; the bytes do not depend on the number
# of threads that compressed them; zlib (what older hpack wrote) and stored
# entries still unpack; every codec unpacks on one thread or several to the
# same tree; --compress is checked.
t_compress_codecs_and_threads() {
    local d=$W/codecs/rt
    mkdir -p "$W/codecs"; fake_runtime "$d"
    seq 1 1300000 >"$d/lib/big.txt"                          # 9.3 MB: 5 zstd frames, 2 zstd8m frames
    seq 1 150000 >"$d/lib/mid.txt"                           # 1 MB: one frame either way
    head -c $((5 * 1048576 + 77)) /dev/urandom >"$d/lib/random.bin"  # incompressible: stored, 3 slices
    head -c 4095 /dev/urandom >"$d/lib/page-1.bin"              # stored, packed after the entry before
    head -c 4096 /dev/urandom >"$d/lib/page.bin"                # stored, on a page (T10)
    # A zip container (members deflated, headers and directory plain): zstd
    # takes a third off this one, so it is compressed like any other file.
    python3 - "$d/lib/classes.jar" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(3000):
        z.writestr(zipfile.ZipInfo("org/example/pkg%d/Class%d.class" % (i % 40, i), (1980, 1, 1, 0, 0, 0)),
                   b"\xca\xfe\xba\xbe" + b"%d" % (i * 7919 % 100003) * 9)
PY
    # Three archives alike in name and size (base64: zstd takes a quarter
    # off): b is a with lines changed and added, c is unrelated.
    mkdir -p "$d/lib/server"
    head -c $((3 * 1048576)) /dev/urandom | base64 >"$d/lib/server/a.jsa"
    { sed '1000s/^./#/; 30000d' "$d/lib/server/a.jsa"; head -c 100000 /dev/urandom | base64; } >"$d/lib/server/b.jsa"
    head -c $((3 * 1048576)) /dev/urandom | base64 >"$d/lib/server/c.jsa"
    local a=$W/codecs/art
    for t in 1 2 3; do
        HPACK_THREADS=$t "$HPACK" build -q --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a.t$t"
    done
    cmp "$a.t1" "$a.t2" && cmp "$a.t1" "$a.t3" || fail "the artifact depends on the number of threads"
    local t; t=$("$HPACK" inspect "$a.t1")
    awk '$NF == "runtime/lib/big.txt" && $6 == "zstd" && $5 < $4 / 3 {ok = 1} END {exit !ok}' <<<"$t" ||
        fail "big.txt is not zstd-compressed: $(grep big.txt <<<"$t")"
    awk '$NF == "runtime/lib/random.bin" && $6 == "stored" {ok = 1} END {exit !ok}' <<<"$t" || fail "random.bin is not stored"
    awk '$NF == "runtime/lib/classes.jar" && $6 == "zstd" && $5 < $4 * 0.8 {ok = 1} END {exit !ok}' <<<"$t" ||
        fail "the jar is not compressed: $(grep classes.jar <<<"$t")"
    awk '$NF == "runtime/lib/server/a.jsa" && $6 == "zstd" {ok = 1} END {exit !ok}' <<<"$t" || fail "a.jsa is not zstd"
    awk '$NF == "runtime/lib/server/b.jsa" && $6 == "zstdref" && $5 < $4 / 20 {ok = 1} END {exit !ok}' <<<"$t" ||
        fail "b.jsa is not stored as its difference from a.jsa: $(grep b.jsa <<<"$t")"
    awk '$NF == "runtime/lib/server/c.jsa" && $6 == "zstd" {ok = 1} END {exit !ok}' <<<"$t" ||
        fail "c.jsa, unlike a.jsa, is not in frames: $(grep c.jsa <<<"$t")"
    "$HPACK" build -q --compress zlib:6 --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a.zlib"
    "$HPACK" build -q --compress none --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a.none"
    for t in 1 2; do # level 9: big.txt in 8 MiB frames, the same bytes on any thread count
        HPACK_THREADS=$t "$HPACK" build -q --compress zstd:9 --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a.z9t$t"
    done
    cmp "$a.z9t1" "$a.z9t2" || fail "zstd:9: the artifact depends on the number of threads"
    mv "$a.z9t1" "$a.z9"
    t=$("$HPACK" inspect "$a.z9")
    awk '$NF == "runtime/lib/big.txt" && $6 == "zstd8m" {ok = 1} END {exit !ok}' <<<"$t" ||
        fail "zstd:9 did not write big.txt in 8 MiB frames: $(grep big.txt <<<"$t")"
    awk '$NF == "runtime/lib/mid.txt" && $6 == "zstd" {ok = 1} END {exit !ok}' <<<"$t" ||
        fail "zstd:9 wrote a file of one frame as zstd8m: $(grep mid.txt <<<"$t")"
    grep -q ' zlib .* runtime/lib/big.txt$' <<<"$("$HPACK" inspect "$a.zlib")" || fail "--compress zlib:6 wrote no zlib"
    [ -z "$("$HPACK" inspect "$a.none" | awk '$6 == "zstd" || $6 == "zlib"')" ] || fail "--compress none compressed"
    ! cmp -s "$a.z9" "$a.t1" || fail "--compress zstd:9 wrote the bytes of the default level"
    # A stored file of a page or more starts on a page (rule T10); links,
    # small files and compressed bytes are packed together, right after the
    # previous entry's (the fake runtime's small files and links, big.txt).
    "$HPACK" inspect "$a.t1" | awk '$1 ~ /^(runtime|classpath|config)$/ && $5 > 0 {
        if ($6 == "stored" && $5 >= 4096 && $7 % 4096) bad = bad " " $NF
        if ($5 < 4096 && $7 % 4096) small++; if ($6 != "stored" && $7 % 4096) packed++ }
        $NF == "runtime/lib/page.bin" && $6 == "stored" && $7 % 4096 == 0 { page = 1 }
        END { if (bad != "" || small < 3 || packed < 1 || !page) { print "misaligned:" bad ", packed " small " " packed; exit 1 } }' ||
        fail "entry placement"
    # The reader of docs/format.md section 14, written from the document,
    # reads every codec and checks every entry's data, and lists what hpack
    # inspect lists.
    awk '/^## 14. A reader in Python/ {f = 1} f && /^```python/ {c = 1; next} c && /^```/ {exit} c' \
        "$ROOT/docs/format.md" >"$W/codecs/hpkread.py"
    [ -s "$W/codecs/hpkread.py" ] || fail "no reader in docs/format.md section 14"
    for v in t1 zlib none z9; do
        python3 "$W/codecs/hpkread.py" "$a.$v" --check-data >"$W/codecs/read.$v" 2>&1 ||
            fail "$v: the documented reader fails: $(tail -3 "$W/codecs/read.$v")"
        diff <("$HPACK" inspect "$a.$v" | awk '$1 ~ /^(runtime|classpath|config)$/ {print $4, $6, $7, $NF}') \
            <(awk '$1 ~ /^(runtime|classpath|config)$/ {print $3, $5, $6, $NF}' "$W/codecs/read.$v") >&2 ||
            fail "$v: the documented reader lists other entries than hpack inspect"
    done
    for v in t1 zlib none z9; do
        [ "$("$HPACK" hash "$a.$v")" = "$("$HPACK" hash "$a.t1")" ] || fail "$v: another base hash"
        "$HPACK" verify "$a.$v" >/dev/null || fail "$v does not verify"
        for th in 1 2; do
            rm -rf "$W/codecs/x"
            HPACK_THREADS=$th "$a.$v" --hpack-extract "$W/codecs/x" >/dev/null || fail "$v: extract, $th threads"
            diff -r "$d" "$W/codecs/x/runtime" >/dev/null || fail "$v, $th threads: the tree differs from the runtime"
            HPACK_THREADS=$th HPACK_CACHE_DIR=$W/codecs/c$v$th "$a.$v" x | grep -q '^FAKE-JAVA' || fail "$v: does not run"
        done
    done
    # Stored pieces are copied with copy_file_range; to another file system
    # (tmpfs from here, usually) the kernel refuses and pwrite takes over.
    local shm; shm=$(mktemp -d /dev/shm/hpack-codecs.XXXXXX)
    "$a.none" --hpack-extract "$shm/x" >/dev/null || { rm -rf "$shm"; fail "none: extract to $shm"; }
    diff -r "$d" "$shm/x/runtime" >/dev/null || { rm -rf "$shm"; fail "none: the tree in $shm differs"; }
    rm -rf "$shm"
    expect_status 2 "--compress" "$HPACK" build --compress zstd:0 --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a.bad"
    expect_status 2 "--compress" "$HPACK" build --compress zlib:10 --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a.bad"
    expect_status 2 "--compress" "$HPACK" build --compress lz4 --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a.bad"
    [ ! -e "$a.bad" ] || fail "a refused build wrote its output"
}

# A zstdref entry is decoded with its reference in memory (docs/format.md
# 5.3): where memory runs out, the start fails as an unpack that could not
# be done (123, naming the entry and the reason), not as a corrupt payload,
# and leaves no tree; with the memory it runs.
t_zstdref_out_of_memory() {
    local d=$W/zoom/rt a=$W/zoom/art c=$W/zoom/c rc=0 err
    mkdir -p "$W/zoom"; fake_runtime "$d"
    seq 1 6000000 >"$d/lib/a.txt"                             # 47 MB: 2 MB of frames
    sed '100s/^./#/' "$d/lib/a.txt" >"$d/lib/b.txt"            # as its difference: 5 KB
    "$HPACK" build -q --runtime "$d" --jar "$SAMPLES/hello.jar" -o "$a"
    "$HPACK" inspect "$a" | awk '$NF == "runtime/lib/b.txt" && $6 == "zstdref" {ok = 1} END {exit !ok}' ||
        fail "b.txt is not zstdref"
    # 60 MB of address space: a.txt's frames decode, b.txt and a.txt (94 MB) do not fit.
    err=$(ulimit -v 60000; HPACK_THREADS=1 HPACK_CACHE_DIR=$c "$a" 2>&1 >/dev/null) || rc=$?
    [ "$rc" = 123 ] || fail "out of memory: status $rc, not 123: $err"
    grep -qF "cannot unpack runtime/lib/b.txt: out of memory" <<<"$err" || fail "message: $err"
    [ -z "$(find "$c" -path '*/runtime/lib/*.txt' 2>/dev/null)" ] || fail "files left: $(find "$c" -name '*.txt')"
    HPACK_CACHE_DIR=$c "$a" x | grep -q '^FAKE-JAVA' || fail "does not run with the memory it needs"
    cmp "$d/lib/b.txt" "$c"/*/runtime/lib/b.txt || fail "b.txt unpacked wrong"
}
