#!/bin/bash
# make bench (and make bench-image): what `hpack image` gives a container.
# Size of the image against the artifact, and the first start of the app in
# the image's root file system (unpacked by umoci, run read-only as uid
# 65532 in a mount namespace of its own, as an engine would: every start
# there is a container's first) against the artifact's own first start on
# an empty cache and its warm start, all alternated in one loop.
#
#   BENCH_RUNS   runs per timing (default 15)
#   BENCH_DIR    scratch directory (default build/bench-image; wiped first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/bench-lib.sh"
export LC_ALL=C

for t in skopeo umoci unshare; do
    command -v $t >/dev/null || { echo "$t is missing: sh tests/setup-deps.sh apps" >&2; exit 1; }
done
bench_init bench-image 15
RT=$(rt25)

row() { printf '  %-52s %9s ms   [min %s, max %s]\n' "$1" "$(med "$2")" "$(sort -g "$T/$2" | head -1 | awk '{printf "%.1f", $1 / 1000}')" "$(sort -g "$T/$2" | tail -1 | awk '{printf "%.1f", $1 / 1000}')"; }
rrow() { printf '  %-52s %9s (paired median)\n' "$1" "$(pratio "$2" "$3")"; }
mb() { awk -v b="$1" 'BEGIN {printf "%.2f MB", b / 1e6}'; }

echo "hpack image benchmark: $RUNS runs per timing, alternated; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$HPACK" build -q --train --runtime "$RT" --jar "$SAMPLES/hello.jar" -o "$B/hello.da1" >"$B/build.log" 2>&1 ||
    { cat "$B/build.log" >&2; exit 1; }
t0=${EPOCHREALTIME/[.,]/}
"$HPACK" image -q "$B/hello.da1" -o "$B/hello.tar" >/dev/null
t1=${EPOCHREALTIME/[.,]/}
skopeo copy -q "oci-archive:$B/hello.tar" "oci:$B/oci:img"
umoci unpack --image "$B/oci:img" "$B/bundle" >/dev/null
R=$B/bundle/rootfs

echo "== image size (samples/hello DA1, jlinked Temurin 25 runtime)"
ART=$(stat -c %s "$B/hello.da1")
IMG=$(stat -c %s "$B/hello.tar")
printf '  %-52s %12s bytes  %s\n' "artifact" "$ART" "$(mb "$ART")" "image archive (oci-archive)" "$IMG" "$(mb "$IMG")"
tar -tvf "$B/hello.tar" | awk '$3 > 100000 {print $3}' | sort -n | while read -r s; do
    printf '  %-52s %12s bytes  %s\n' "  a layer (gzip)" "$s" "$(mb "$s")"
done
printf '  %-52s %12s\n' "ratio image / artifact" "$(awk -v a="$IMG" -v b="$ART" 'BEGIN {printf "%.3f", a / b}')"
printf '  %-52s %12s\n' "rootfs on disk (umoci unpack)" "$(du -sm "$R" | cut -f1) MB"
printf '  %-52s %12s\n' "hpack image time" "$(awk -v a=$((t1 - t0)) 'BEGIN {printf "%.1f s", a / 1e6}')"
echo

echo "== first start in the image's rootfs vs the artifact's first (empty cache) and warm start"
# ctr CMD...: in the rootfs as a container: namespace, read-only bind, /proc, chroot, uid 65532
ctr() {
    unshare -m --fork sh -c 'r=$1; shift
        mount --bind "$r" "$r" && mount -o remount,bind,ro "$r" && mount -t proc proc "$r/proc" && exec env -i "$@"' \
        sh "$R" /usr/sbin/chroot --userspec=65532:65532 "$R" "$@"
}
ctr /app/hello.da1 | grep -qx 'Hello from hpack!' || { echo "the app does not run in the rootfs" >&2; exit 1; }
export HPACK_CACHE_DIR=$B/cache
unset HPACK_DEBUG HPACK_JAVA_OPTS HPACK_AOT HPACK_TRAIN
"$B/hello.da1" >/dev/null
run_img() { ctr /app/hello.da1 >/dev/null; }
run_wrap() { ctr /app/hello.da1 --hpack-help >/dev/null; }
pre_cold() { rm -rf "$B/cold"; sync; }
run_cold() { HPACK_CACHE_DIR=$B/cold "$B/hello.da1" >/dev/null; }
run_warm() { "$B/hello.da1" >/dev/null; }
WARMUP=1 bench "$RUNS" img cold warm wrap
row "image rootfs, first (= every) start" img
row "artifact, first start on an empty cache" cold
row "artifact, warm start" warm
row "container set-up alone (unshare, mounts, chroot; --hpack-help)" wrap
rrow "ratio image first start / artifact warm start" img warm
rrow "ratio artifact first start / image first start" cold img
printf '  %-52s %9s ms\n' "image first start minus set-up" \
    "$(awk -v a="$(median <"$T/img")" -v b="$(median <"$T/wrap")" 'BEGIN {printf "%.1f", (a - b) / 1000}')"
printf '  %-52s %9s (paired median; goal: 1)\n' "ratio (image first start - set-up) / warm start" \
    "$(paste "$T/img" "$T/wrap" "$T/warm" | awk '{print ($1 - $2) / $3}' | median | awk '{printf "%.3f", $1}')"
rm -rf "$B/cold"
