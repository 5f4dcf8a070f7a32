# Shell helpers: find the JDKs this machine kind ships (sourced).
# hpk_find_jdk MAJOR: print the Java home of a full JDK (with javac and jlink)
# of that major version under /usr/lib/jvm, newest first; fail if none.
hpk_find_jdk() {
    for d in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | LC_ALL=C sort -r); do
        d=${d%/}
        [ -L "$d" ] && continue
        [ -f "$d/release" ] && [ -x "$d/bin/javac" ] || continue
        v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
        if [ "$v" = "$1" ]; then echo "$d"; return 0; fi
    done
    return 1
}
