#!/bin/sh
# Compile the samples into OUT/{hello,http,providers,text}.jar with the JDK found.
# Jars are made reproducible (--date), and compiled for Java 17 so that
# both this machine's JDKs (Temurin 25, OpenJDK 17) run them.
set -e
out=${1:-build/samples}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/jdks.sh"
jdk=$(hpk_find_jdk 17) || jdk=$(hpk_find_jdk 25) || { echo "samples: no JDK 17 or 25 found in /usr/lib/jvm" >&2; exit 1; }
mkdir -p "$out"
for app in hello:demo.Main http:demo.http.Server providers:demo.providers.Main text:demo.text.Main; do
    name=${app%%:*} main=${app#*:}
    jar="$out/$name.jar"
    newest=$(find "$here/$name/src" -name '*.java' -newer "$jar" 2>/dev/null | head -1)
    if [ -f "$jar" ] && [ -z "$newest" ]; then continue; fi
    rm -rf "$out/$name.classes"
    "$jdk/bin/javac" --release 17 -d "$out/$name.classes" $(find "$here/$name/src" -name '*.java' | LC_ALL=C sort)
    "$jdk/bin/jar" --create --date=1980-01-01T00:00:02Z --file "$jar.tmp" --main-class "$main" -C "$out/$name.classes" .
    mv "$jar.tmp" "$jar"
    echo "samples: built $jar with $jdk" >&2
done
