# Real applications nobody here wrote, from Debian's packages (sourced by
# integration.sh): Apache Maven, Apache Ant and Jython, each packed from its
# installed distribution with a runtime jlinked from Temurin 25, trained on
# a real use, then run where no Java and none of the distribution's files
# exist, and compared with the distribution's own launcher script.
# tests/setup-deps.sh installs the packages (make check runs it).

# How each application is packed: Debian's launcher script's exec line,
# expressed in hpack's terms (tests and tests/bench-apps.sh share these).
# Maven: plexus-classworlds from boot/, m2.conf, maven.home, and the project
# directory from the working directory. Guava (in lib/) uses sun.misc.Unsafe,
# which JDK 25 warns about and JDK 17 (the script's Java) does not: allowed,
# so the outputs compare.
APP_MAVEN=(--app-dist /usr/share/maven --cp 'boot/*' --main-class org.codehaus.plexus.classworlds.launcher.Launcher
    --jvm-opt='-Dclassworlds.conf=${HPACK_APP}/bin/m2.conf' --jvm-opt='-Dmaven.home=${HPACK_APP}'
    --jvm-opt='-Dlibrary.jansi.path=${HPACK_APP}/lib/jansi-native'
    --jvm-opt='-Dmaven.multiModuleProjectDirectory=${HPACK_CWD}' --jvm-opt=--sun-misc-unsafe-memory-access=allow)
# Ant: launch.Launcher, ant.home and ant.library.dir. The whole lib/ is on the
# class path, so Ant's classes come from the JVM's own loader (which the AOT
# cache covers), not from Launcher's.
APP_ANT=(--app-dist /usr/share/ant --cp 'lib/*' --main-class org.apache.tools.ant.launch.Launcher
    --jvm-opt='-Dant.home=${HPACK_APP}' --jvm-opt='-Dant.library.dir=${HPACK_APP}/lib')
# Jython: java -jar jython.jar (whose manifest Class-Path names absolute
# jars: packed) with python.home and python.executable as Jython options.
APP_JYTHON=(--app-dist /usr/share/jython --jar /usr/share/java/jython.jar
    --arg='-Dpython.home=${HPACK_APP}' --arg='-Dpython.executable=${HPACK_EXE}'
    --arg=-Dpython.console=org.python.util.JLineConsole)

# The training workloads, real uses of each: a project's offline validate,
# a three-target build file, a script.
write_mvn_project() {
    mkdir -p "$1"
    cat >"$1/pom.xml" <<'POM'
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>demo</groupId>
  <artifactId>tiny</artifactId>
  <version>1.0</version>
  <packaging>pom</packaging>
  <name>hpack tiny project</name>
</project>
POM
}
write_ant_project() {
    mkdir -p "$1"
    cat >"$1/build.xml" <<'XML'
<project name="tiny" default="all" basedir=".">
  <property name="out" value="${basedir}/out"/>
  <target name="clean"><delete dir="${out}"/></target>
  <target name="prepare" depends="clean">
    <mkdir dir="${out}"/>
    <echo file="${out}/greeting.txt">hello @WHO@ from ant</echo>
  </target>
  <target name="all" depends="prepare">
    <copy file="${out}/greeting.txt" tofile="${out}/filtered.txt">
      <filterset><filter token="WHO" value="hpack"/></filterset>
    </copy>
    <loadfile property="msg" srcFile="${out}/filtered.txt"/>
    <echo message="${msg}"/>
    <length file="${out}/filtered.txt" property="len"/>
    <echo message="length ${len} home ${ant.home}"/>
    <concat><fileset dir="${out}" includes="*.txt"/></concat>
  </target>
</project>
XML
}
write_jython_script() {
    mkdir -p "$1"
    cat >"$1/x.py" <<'PY'
import sys, os, re, json
from java.util import ArrayList
l = ArrayList()
for w in re.findall(r"[a-z]+", "jython runs on the jvm"):
    l.add(w.upper())
print(json.dumps({"words": list(l), "n": len(l)}, sort_keys=True))
print(sum(x * x for x in range(10)))
print(os.path.basename(sys.executable))
PY
}

# no_java_host CMD...: CMD in a private mount namespace where the JDKs, the
# distributions and Debian's jar directory are empty tmpfs mounts: a host
# without Java. Needs root (CI and the developers' machines run as root).
no_java_host() {
    [ "$(id -u)" = 0 ] || fail "no_java_host needs root (unshare -m and tmpfs mounts)"
    unshare -m sh -c 'for d in /usr/lib/jvm /usr/share/java /usr/share/maven /usr/share/maven-repo /usr/share/ant \
        /usr/share/jython /usr/share/tomcat10 /etc/tomcat10 /var/lib/tomcat10 /etc/maven /etc/java-17-openjdk; do [ -d "$d" ] && mount -t tmpfs none "$d"; done
        [ ! -e /usr/bin/java ] && [ ! -e /usr/share/java/jython.jar ] || { echo "java still visible" >&2; exit 99; }
        exec "$@"' sh env -i HOME="$W/home" PATH=/usr/bin:/bin "$@"
}

# app_build NAME BUILD-OPTIONS...: NAME (DA1) and NAME-da0 under $W/apps.
app_build() {
    local n=$1; shift
    mkdir -p -m 700 "$W/jlc-apps"
    local t0=$EPOCHREALTIME
    HPACK_JLINK_CACHE=$W/jlc-apps "$HPACK" build -q --jdk "$J25" "$@" --train --keep-da0 "$W/apps/$n-da0" \
        -o "$W/apps/$n" || fail "hpack build of $n failed"
    echo "INFO: $n: built and trained in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s," \
        "DA1 $(($(stat -c %s "$W/apps/$n") / 1048576)) MB, modules $("$HPACK" inspect --json "$W/apps/$n" |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("modules"))')"
}

# same_output WHAT FILTER A B: compare two outputs after dropping lines that
# differ by nature (timings), showing the difference on failure.
same_output() {
    local what=$1 filter=$2
    diff <(grep -Ev "$filter" <<<"$3") <(grep -Ev "$filter" <<<"$4") >&2 || fail "$what: output differs from the script's"
}

need_app() {
    [ -n "$J25" ] || fail "JDK 25 (Temurin) not found under /usr/lib/jvm: the real-application tests need it"
    command -v "$1" >/dev/null || fail "$1 is not installed: run tests/setup-deps.sh (make check does)"
}

t_app_maven() {
    need_app mvn
    local p=$W/apps/mvnproj
    write_mvn_project "$p"
    (cd "$p" && app_build maven "${APP_MAVEN[@]}" --train-arg=-o --train-arg=-q --train-arg=validate)
    local want got
    want=$(cd "$p" && env -i HOME="$W/home" PATH=/usr/bin:/bin mvn -o validate 2>&1)
    got=$(cd "$p" && no_java_host "$W/apps/maven" -o validate 2>&1)
    grep -q 'BUILD SUCCESS' <<<"$got" || fail "mvn validate failed: $got"
    grep -q 'hpack tiny project' <<<"$got" || fail "the project was not read: $got"
    same_output "mvn -o validate" 'Total time|Finished at' "$want" "$got"
    got=$(no_java_host "$W/apps/maven" -v 2>&1)
    grep -q "Maven home: $W/home/.cache/hpack/$("$HPACK" hash "$W/apps/maven")/app" <<<"$got" ||
        fail "maven.home is not the unpacked distribution: $got"
    [ "$(head -1 <<<"$got")" = "$(env -i PATH=/usr/bin:/bin mvn -v | head -1)" ] || fail "mvn -v: other version line: $got"
    # on this host, its jars in place, the artifact opens none of them, not
    # even those the distribution's own jars name (classworlds loads
    # lib/cdi-api.jar, whose manifest names /usr/share/java/... jars)
    command -v strace >/dev/null || fail "strace is not installed (tests/setup-deps.sh installs it)"
    env -i HOME="$W/home" PATH=/usr/bin:/bin strace -f -qq -e trace=open,openat -o "$W/apps/maven.strace" \
        "$W/apps/maven" -v >/dev/null 2>&1 || fail "mvn -v under strace failed"
    grep -q "$W/home/.cache/hpack/" "$W/apps/maven.strace" || fail "strace saw no open in the tree"
    ! grep '"/usr/share/\(java\|maven\)' "$W/apps/maven.strace" || fail "opened the host's jars"
}

t_app_ant() {
    need_app ant
    local p=$W/apps/antproj
    write_ant_project "$p"
    app_build ant "${APP_ANT[@]}" --train-arg=-f --train-arg="$p/build.xml"
    local want got h
    want=$(cd "$p" && env -i HOME="$W/home" PATH=/usr/bin:/bin ant 2>&1)
    got=$(cd "$p" && no_java_host "$W/apps/ant" 2>&1)
    grep -q 'BUILD SUCCESSFUL' <<<"$got" || fail "ant failed: $got"
    h=$("$HPACK" hash "$W/apps/ant")
    same_output "ant" 'Total time' "$want" "${got//$W\/home\/.cache\/hpack\/$h\/app//usr/share/ant}"
    grep -q "home $W/home/.cache/hpack/$h/app" <<<"$got" || fail "ant.home is not the unpacked distribution"
}

t_app_jython() {
    need_app jython
    local p=$W/apps/jy
    write_jython_script "$p"
    app_build jython "${APP_JYTHON[@]}" --train-arg="$p/x.py"
    local want got
    want=$(env -i HOME="$W/home" PATH=/usr/bin:/bin jython "$p/x.py")
    got=$(no_java_host "$W/apps/jython" "$p/x.py")
    grep -q '"JYTHON"' <<<"$got" || fail "jython did not run the script: $got"
    same_output "jython x.py" '^$' "$want" "$got"
}

# Tomcat 10 (Debian's): a server that Bootstrap starts from bin/, loading
# lib/ with its own class loader; every jar there is modular and jdeps
# cannot analyse one (they require modules Debian does not ship), so the
# JDK modules their module-info requires are linked (java.naming...).
# Trained until it answers HTTP, then driven; run on a host without Java
# from a catalina.base of the user's (the working directory).
tc_base() { # DIR PORT: a catalina.base like Debian's /var/lib/tomcat10, on PORT, no shutdown port
    mkdir -p "$1/logs" "$1/work" "$1/temp"
    cp -rL /etc/tomcat10 "$1/conf"
    cp -r /var/lib/tomcat10/webapps "$1/"
    sed -i "s/port=\"8080\"/port=\"$2\"/; s/port=\"8005\"/port=\"-1\"/" "$1/conf/server.xml"
}
t_app_tomcat() {
    [ -n "$J25" ] || fail "JDK 25 (Temurin) not found under /usr/lib/jvm: the real-application tests need it"
    [ -f /usr/share/tomcat10/bin/bootstrap.jar ] || fail "tomcat10 is not installed: run tests/setup-deps.sh apps (make check does)"
    local b=$W/apps/tcbase port; port=$(free_port)
    tc_base "$b" "$port"
    (cd "$b" && app_build tomcat --app-dist /usr/share/tomcat10 --cp bin/bootstrap.jar:bin/tomcat-juli.jar \
        --main-class org.apache.catalina.startup.Bootstrap --jvm-opt='-Dcatalina.home=${HPACK_APP}' \
        --jvm-opt='-Dcatalina.base=${HPACK_CWD}' --jvm-opt='-Djava.io.tmpdir=${HPACK_CWD}/temp' \
        --jvm-opt=-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager \
        --jvm-opt='-Djava.util.logging.config.file=${HPACK_CWD}/conf/logging.properties' --arg start \
        --train-ready "http:http://127.0.0.1:$port/" \
        --train-workload 'for i in 1 2 3 4 5; do curl -fsS "http://127.0.0.1:$HPACK_TRAIN_PORT/" >/dev/null; done')
    "$HPACK" inspect --json "$W/apps/tomcat" | python3 -c 'import json,sys; m=json.load(sys.stdin)["modules"]; assert "java.naming" in m.split(","), m' ||
        fail "java.naming not linked"
    rm -rf "$b/logs/"* "$b/work/"*
    (cd "$b" && no_java_host env HPACK_AOT=require HPACK_JAVA_OPTS=-Xlog:class+load "$W/apps/tomcat") \
        >"$W/apps/tomcat.out" 2>&1 &
    local pid=$!
    WAIT_LOG=$W/apps/tomcat.out wait_for 120 "Tomcat on port $port to answer" http_up "$port"
    local body; body=$(curl -fs "http://127.0.0.1:$port/")
    pkill -f -- "-Dcatalina.base=$b " || true
    wait $pid || true
    grep -q '<title>Apache Tomcat' <<<"$body" || fail "no Tomcat page: $body"
    grep -q 'org.apache.catalina.startup.Bootstrap source: shared objects file' "$W/apps/tomcat.out" ||
        fail "Bootstrap not from the cache: $(tail -5 "$W/apps/tomcat.out")"
    grep -q 'Server startup in' "$W/apps/tomcat.out" || fail "no startup line: $(tail -5 "$W/apps/tomcat.out")"
    no_process "-Dcatalina.base=$b " || fail "Tomcat left running"
}
