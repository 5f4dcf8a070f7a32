#!/bin/sh
# Install the Debian packages hpack builds and tests with, if missing.
# Run by `make` (once per build directory); needs root or sudo when a
# package is missing. `setup-deps.sh apps` adds the real applications the
# tests package (make check): Maven, Ant, Jython, Tomcat; Clojure, which make bench
# packs (tests/bench-first.sh); Debian's jaxb-api and activation jars (make
# bench 3c); and the container tools the image tests check hpack's images
# with: skopeo, umoci, podman; and fontconfig and DejaVu, which an image of
# an app that draws text carries (t_image_fonts).
set -e
need=""
pkgs="gcc make pkg-config libelf-dev libarchive-dev libxxhash-dev libcmocka-dev zlib1g-dev libzstd-dev binutils python3 curl groff-base bsdutils util-linux strace unzip"
[ "${1:-}" = apps ] && pkgs="maven ant jython clojure tomcat10 libjaxb-api-java libactivation-java skopeo umoci podman fonts-dejavu-core fontconfig"
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
if [ -n "$need" ]; then
    echo "hpack: installing Debian packages:$need" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    # One apt at a time: `make -j check` runs the build's and the apps' set-up
    # together, and apt refuses (not waits) when another holds its lock.
    $SUDO flock /var/lib/dpkg/hpack-setup.lock sh -c "apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need" >&2
fi
