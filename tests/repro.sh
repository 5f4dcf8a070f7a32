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
t_extract_round_trip() {
    "$HPACK" extract "$H25" -o "$W/rt-x" || fail "extract to a directory"
    local cp; cp=$("$HPACK" inspect --json "$H25" | python3 -c 'import json,sys; print(json.load(sys.stdin)["class_path"][0])')
    "$HPACK" build -q --runtime "$W/rt-x/runtime" --cp "$W/rt-x/$cp" --main-class demo.Main -o "$W/art/rt"
    [ "$("$HPACK" hash "$W/art/rt")" = "$("$HPACK" hash "$H25")" ] || fail "round trip changed the base hash"
    # archives: standard, deterministic, and hold the same files
    "$HPACK" extract "$H25" -o "$W/x1.tar"; sleep 1; "$HPACK" extract "$H25" -o "$W/x2.tar"
    cmp "$W/x1.tar" "$W/x2.tar" || fail "two tar extractions differ"
    "$HPACK" extract "$H25" -o "$W/x1.zip"; "$HPACK" extract "$H25" -o "$W/x2.zip"
    cmp "$W/x1.zip" "$W/x2.zip" || fail "two zip extractions differ"
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
assert any(e["path"] == "runtime/lib/modules" and e["codec"] == "zlib" for e in j["entries"])
assert any(e["path"] == "app/hello.jar" and e["codec"] == "stored" for e in j["entries"])
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
    # one byte in each of: a stored jar, a zlib entry, the cache, padding, the table, the footer
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
e = E["app/hello.jar"]; print(base + e["offset"] + e["stored_size"] + 5, "padding")
print(base + j["payload"]["toc_offset"] + 10, "table")
print(base + j["payload"]["size"] - 100, "footer")
PY
)
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
