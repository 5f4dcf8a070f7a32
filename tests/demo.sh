#!/bin/bash
# make demo: pack samples/hello with a jlinked Temurin 25 runtime, train it,
# and run DA0 and DA1 side by side from another directory with no Java.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out=$ROOT/build/demo
mkdir -p "$out"
rt=$(rt25)
echo "== hpack build --train (runtime: jlinked Temurin 25 at $rt)"
"$HPACK" build --train --runtime "$rt" --jar "$SAMPLES/hello.jar" --arg "from the demo" \
    --keep-da0 "$out/hello.da0" -o "$out/hello"
echo
echo "== the artifact"
ls -l "$out/hello.da0" "$out/hello"
"$HPACK" inspect "$out/hello" | sed -n '1,9p'
echo
echo "== run it as a user would: no Java on PATH, no JAVA_HOME, another directory"
export HPACK_CACHE_DIR=$out/cache
cd /
env -i HPACK_CACHE_DIR="$HPACK_CACHE_DIR" PATH=/usr/bin:/bin "$out/hello" "an argument"
echo
echo "== start-up time, DA0 (no cache) vs DA1 (trained), 5 runs each, warm"
for a in hello.da0 hello; do
    "$out/$a" >/dev/null
    t=$(for i in 1 2 3 4 5; do s=$(date +%s%N); "$out/$a" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); done | median)
    printf '  %-10s median %s ms\n' "$a" "$t"
done
