# hpack - hermetic single-executable packager for Java.
#
#   make            build build/hpack (the launcher is embedded in it)
#   make check      all tests (installs missing Debian packages first)
#   make demo       pack samples/hello and run it
#   make bench      benchmarks (numbers, not pass/fail); bench-tune: --tune's figures
#   make install PREFIX=/usr/local
#
# SANITIZE=1 builds everything with AddressSanitizer and UBSan.

PREFIX ?= /usr/local
CC ?= cc
VERSION := 0.1.0

PKG_CONFIG ?= pkg-config
WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-format-truncation
BASE_CFLAGS := $(WARN) -O2 -g -ffile-prefix-map=$(CURDIR)=. -D_FILE_OFFSET_BITS=64 -D_DEFAULT_SOURCE -DHPK_VERSION='"$(VERSION)"'
ifeq ($(SANITIZE),1)
B ?= build-san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# ASan cannot link statically: a sanitized launcher is dynamic (tests only).
LAUNCHER_LINK := $(SAN)
else
SAN :=
LAUNCHER_LINK := -static
endif
B ?= build
CFLAGS ?=
CFLAGS += $(BASE_CFLAGS) $(SAN)

LAYOUT_SRC := layout/layout.c layout/kv.c layout/artifact.c layout/config.c layout/cpus.c layout/hostfit.c layout/hostprobe.c
# Trees: unpacking, extraction, directory safety, the system store. Both the
# launcher and the packer (extract, install, image) link them.
TREE_SRC := layout/unpack.c layout/filewriter.c layout/treedir.c layout/verify.c layout/rmtree.c \
            layout/dirsafe.c layout/store.c layout/marker.c
LAUNCHER_SRC := launcher/main.c launcher/tree.c launcher/jvmline.c launcher/train.c launcher/commands.c \
                launcher/fit.c launcher/heal.c launcher/cachedir.c $(TREE_SRC)
# The input services: the snapshot and its readers (packer/hpk_inputs.h).
INPUTS_SRC := packer/snapshot.c packer/inputfile.c packer/linkpath.c packer/treewalk.c packer/archive.c \
              packer/archlinks.c packer/runtime.c
PACKER_SRC := packer/hpack.c packer/util.c $(INPUTS_SRC) packer/jar.c packer/payload.c packer/elfout.c \
              packer/build.c packer/assemble.c packer/train.c packer/trainrun.c packer/ready.c packer/verifyrun.c packer/child.c packer/tune.c packer/tuneopts.c packer/tunetable.c packer/tuneheap.c packer/inspect.c packer/jsonout.c packer/hash.c packer/verify.c packer/diffx.c packer/ahead.c packer/lock.c packer/jlink.c packer/jdeps.c packer/provmods.c packer/argfile.c \
              packer/closure.c packer/cppath.c packer/artifacts.c packer/image.c packer/ocibase.c packer/ocidoc.c packer/ocilayer.c packer/elfdeps.c packer/imagefonts.c packer/fonts.c packer/sha256.c packer/store.c \
              packer/variant.c
HDRS := $(wildcard layout/*.h launcher/*.h packer/*.h)

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags libelf libarchive zlib libzstd)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs libelf libarchive zlib libzstd)

all: $(B)/hpack

$(B)/.deps-ok: tests/setup-deps.sh
	@mkdir -p $(B) build
	@sh tests/setup-deps.sh
	@touch $@

# Its bytes are in every artifact: rebuilt when the flags change too. The
# source directory is mapped to "." in its debug information (and so its
# build ID): the same sources give the same launcher wherever they lie.
$(B)/hpack-launcher: $(LAUNCHER_SRC) $(LAYOUT_SRC) $(HDRS) Makefile | $(B)/.deps-ok
	$(CC) $(CFLAGS) -o $@ $(LAUNCHER_SRC) $(LAYOUT_SRC) $(LAUNCHER_LINK) -lzstd -lz -lpthread

# Embedded stripped: every artifact carries it (symbols stay in hpack-launcher).
$(B)/hpack-launcher.stripped: $(B)/hpack-launcher
	strip --strip-all -o $@ $<

$(B)/launcher_blob.o: packer/launcher_blob.S $(B)/hpack-launcher.stripped
	$(CC) -c -DHPK_LAUNCHER_PATH='"$(B)/hpack-launcher.stripped"' -o $@ packer/launcher_blob.S

# The packer depends on layout/ only, never on launcher/ (it embeds the
# launcher as bytes: launcher_blob.o). extract, install and image unpack
# with the launcher's own code, which is layout/'s (TREE_SRC).
$(B)/hpack: $(PACKER_SRC) $(LAYOUT_SRC) $(TREE_SRC) $(HDRS) $(B)/launcher_blob.o
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $(PACKER_SRC) $(LAYOUT_SRC) $(TREE_SRC) \
	    $(B)/launcher_blob.o $(PKG_LIBS) -lpthread

# Test builds: the same sources with the test hooks compiled in
# (-DHPK_TEST_HOOKS: HPACK_TEST_* variables). Only the tests use them; the
# hpack that is installed and the launcher it embeds read no test variable.
$(B)/hpack-launcher-test: $(LAUNCHER_SRC) $(LAYOUT_SRC) $(HDRS) | $(B)/.deps-ok
	$(CC) $(CFLAGS) -DHPK_TEST_HOOKS -o $@ $(LAUNCHER_SRC) $(LAYOUT_SRC) $(LAUNCHER_LINK) -lzstd -lz -lpthread

$(B)/hpack-launcher-test.stripped: $(B)/hpack-launcher-test
	strip --strip-all -o $@ $<

$(B)/launcher_blob_test.o: packer/launcher_blob.S $(B)/hpack-launcher-test.stripped
	$(CC) -c -DHPK_LAUNCHER_PATH='"$(B)/hpack-launcher-test.stripped"' -o $@ packer/launcher_blob.S

$(B)/hpack-test: $(PACKER_SRC) $(LAYOUT_SRC) $(TREE_SRC) $(HDRS) $(B)/launcher_blob_test.o
	$(CC) $(CFLAGS) -DHPK_TEST_HOOKS $(PKG_CFLAGS) -o $@ $(PACKER_SRC) $(LAYOUT_SRC) $(TREE_SRC) \
	    $(B)/launcher_blob_test.o $(PKG_LIBS) -lpthread

# ---- tests ----
$(B)/test_layout: tests/unit/test_layout.c $(LAYOUT_SRC) $(HDRS) | $(B)/.deps-ok
	$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ tests/unit/test_layout.c $(LAYOUT_SRC) \
	    $(shell $(PKG_CONFIG) --libs cmocka) -lzstd -lz

$(B)/test_config: tests/unit/test_config.c $(LAYOUT_SRC) $(HDRS) | $(B)/.deps-ok
	$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ tests/unit/test_config.c $(LAYOUT_SRC) \
	    $(shell $(PKG_CONFIG) --libs cmocka) -lzstd -lz

$(B)/test_hostfit: tests/unit/test_hostfit.c $(LAYOUT_SRC) $(HDRS) | $(B)/.deps-ok
	$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ tests/unit/test_hostfit.c $(LAYOUT_SRC) \
	    $(shell $(PKG_CONFIG) --libs cmocka) -lzstd -lz

$(B)/test_sha256: tests/unit/test_sha256.c packer/sha256.c packer/hpk_sha256.h | $(B)/.deps-ok
	$(CC) $(CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ tests/unit/test_sha256.c packer/sha256.c \
	    $(shell $(PKG_CONFIG) --libs cmocka)

# The packer's pure parts: every packer file but the one with main() (with
# the test hooks: HPACK_TEST_HASH_AFTER, payload.c).
$(B)/test_packer: tests/unit/test_packer.c $(PACKER_SRC) $(LAYOUT_SRC) $(TREE_SRC) $(HDRS) $(B)/launcher_blob.o
	$(CC) $(CFLAGS) -DHPK_TEST_HOOKS $(PKG_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ tests/unit/test_packer.c \
	    $(filter-out packer/hpack.c,$(PACKER_SRC)) $(LAYOUT_SRC) $(TREE_SRC) $(B)/launcher_blob.o \
	    $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka) -lpthread

# The input services alone (the directory walk's link rules, link arithmetic,
# mapped inputs: with the test hooks, HPACK_TEST_MAP maps a file just made).
$(B)/test_inputs: tests/unit/test_inputs.c packer/util.c packer/elfout.c $(INPUTS_SRC) $(LAYOUT_SRC) $(TREE_SRC) $(HDRS) $(B)/launcher_blob.o
	$(CC) $(CFLAGS) -DHPK_TEST_HOOKS $(PKG_CFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka) -o $@ tests/unit/test_inputs.c \
	    packer/util.c packer/elfout.c $(INPUTS_SRC) $(LAYOUT_SRC) $(TREE_SRC) $(B)/launcher_blob.o \
	    $(PKG_LIBS) $(shell $(PKG_CONFIG) --libs cmocka) -lpthread

$(B)/craft: tests/tools/craft.c packer/elfout.c packer/util.c $(INPUTS_SRC) $(LAYOUT_SRC) $(TREE_SRC) $(HDRS) $(B)/launcher_blob.o
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ tests/tools/craft.c packer/elfout.c packer/util.c $(INPUTS_SRC) $(LAYOUT_SRC) $(TREE_SRC) \
	    $(B)/launcher_blob.o $(PKG_LIBS)

samples: $(B)/.deps-ok
	@sh samples/build.sh build/samples

unit: $(B)/test_layout $(B)/test_config $(B)/test_hostfit $(B)/test_sha256 $(B)/test_packer $(B)/test_inputs
	$(B)/test_layout
	$(B)/test_config
	$(B)/test_hostfit
	$(B)/test_sha256
	$(B)/test_packer
	$(B)/test_inputs

$(B)/.apps-ok: tests/setup-deps.sh
	@sh tests/setup-deps.sh apps
	@touch $@

check: all unit samples $(B)/craft $(B)/hpack-test fuzz-regress $(B)/.apps-ok
	@HPACK_BUILD=$(abspath $(B)) bash tests/integration.sh

valgrind: $(B)/test_layout $(B)/test_config $(B)/test_hostfit $(B)/test_packer $(B)/test_inputs
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all $(B)/test_hostfit
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all $(B)/test_layout
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all $(B)/test_config
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all $(B)/test_packer
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all $(B)/test_inputs

demo: all samples
	@HPACK_BUILD=$(abspath $(B)) bash tests/demo.sh

bench: all samples $(B)/.apps-ok
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench.sh
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-first.sh
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-apps.sh
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-image.sh
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-variants.sh
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-tune.sh

bench-variants: all samples
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-variants.sh

bench-tune: all samples $(B)/.apps-ok
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-tune.sh

bench-image: all samples $(B)/.apps-ok
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-image.sh

bench-first: all samples $(B)/.apps-ok
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-first.sh

bench-apps: all samples $(B)/.apps-ok
	@HPACK_BUILD=$(abspath $(B)) bash tests/bench-apps.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(B)/hpack $(DESTDIR)$(PREFIX)/bin/hpack
	install -m 0644 docs/hpack.1 $(DESTDIR)$(PREFIX)/share/man/man1/hpack.1

clean:
	rm -rf $(B)

.PHONY: all check unit samples demo bench bench-apps bench-first bench-image bench-variants bench-tune install clean valgrind

# ---- fuzzing (issue: reliability) ----
FUZZ_TIME ?= 60
$(B)/fuzz_artifact: tests/fuzz/fuzz_artifact.c $(LAYOUT_SRC) $(HDRS)
	clang -g -O1 -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined -o $@ tests/fuzz/fuzz_artifact.c $(LAYOUT_SRC) -lzstd -lz

$(B)/fuzz_replay: tests/fuzz/fuzz_artifact.c tests/fuzz/replay.h $(LAYOUT_SRC) $(HDRS) | $(B)/.deps-ok
	$(CC) $(CFLAGS) -DHPK_FUZZ_REPLAY -o $@ tests/fuzz/fuzz_artifact.c $(LAYOUT_SRC) -lzstd -lz

fuzz: $(B)/fuzz_artifact
	mkdir -p $(B)/fuzz-corpus
	$(B)/fuzz_artifact -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 $(B)/fuzz-corpus tests/fuzz/corpus

# The packer's jar reader (packer/jar.c): jars come from third parties.
JAR_FUZZ_SRC := tests/fuzz/fuzz_jar.c packer/jar.c layout/dirsafe.c layout/layout.c
$(B)/fuzz_jar: $(JAR_FUZZ_SRC) $(HDRS)
	clang -g -O1 -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -o $@ $(JAR_FUZZ_SRC) -larchive -lz

$(B)/fuzz_jar_replay: $(JAR_FUZZ_SRC) tests/fuzz/replay.h $(HDRS) | $(B)/.deps-ok
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -DHPK_FUZZ_REPLAY -o $@ $(JAR_FUZZ_SRC) -larchive -lz

fuzz-jar: $(B)/fuzz_jar
	mkdir -p $(B)/fuzz-corpus-jar
	$(B)/fuzz_jar -max_total_time=$(FUZZ_TIME) -max_len=16384 -timeout=10 $(B)/fuzz-corpus-jar tests/fuzz/corpus-jar

fuzz-regress: $(B)/fuzz_replay $(B)/fuzz_jar_replay
	$(B)/fuzz_replay tests/fuzz/corpus/*
	$(B)/fuzz_jar_replay tests/fuzz/corpus-jar/*

.PHONY: fuzz fuzz-jar fuzz-regress
