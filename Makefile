# fox — the two commands a fresh Debian 12 machine needs: `make run` and `make test`.
# Every target first runs third_party/fetch-deps.sh (idempotent: apt packages, deb-src entry,
# Debian source trees of libwebsockets/libuv/SQLite/mbedTLS); that step needs root or sudo.
BUILD ?= build
CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
RUN_ARGS ?=

.PHONY: all deps build cross test test-native test-sanitize test-cross test-fuzz fuzz fuzz-build \
        run bench sim size deb clean distclean

all: build

deps:
	@bash third_party/fetch-deps.sh

$(BUILD)/%/build.ninja $(BUILD)/%/Makefile: ; @true

define configure
	@if [ ! -f $(BUILD)/$(1)/CMakeCache.txt ]; then \
	  cmake -S . -B $(BUILD)/$(1) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=MinSizeRel $(2); fi
endef

build: deps
	$(call configure,native,)
	cmake --build $(BUILD)/native
	@echo "built $(BUILD)/native/fox"

cross: deps
	$(call configure,aarch64,-DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/boards/aarch64.cmake)
	$(call configure,armhf,-DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/boards/armhf.cmake)
	cmake --build $(BUILD)/aarch64
	cmake --build $(BUILD)/armhf
	@echo "built $(BUILD)/aarch64/fox $(BUILD)/armhf/fox"

test-native: build
	cd $(BUILD)/native && ctest --output-on-failure -j2

# The whole integration suite against an AddressSanitizer + UBSan build of fox ($(BUILD)/asan,
# FOX_SANITIZE: dynamically linked, only the fox binary is built). The harness fails a test whose
# fox printed a sanitizer report (UBSan halts on the first error; LeakSanitizer runs at exit).
test-sanitize: deps
	$(call configure,asan,-DFOX_SANITIZE=ON)
	cmake --build $(BUILD)/asan --target fox
	cd $(BUILD)/asan && ctest --output-on-failure -j2 -R '^it\.'

test-cross: cross
	cd $(BUILD)/aarch64 && ctest --output-on-failure
	cd $(BUILD)/armhf && ctest --output-on-failure

# Every test natively (unit + integration with the real binary), the integration suite again
# against the sanitizer build, every fuzz target for a short budget (regressions first), then the
# unit tests of both ARM builds under qemu-user, and the stripped sizes against the budget.
test: test-native test-sanitize test-fuzz test-cross
	@$(MAKE) --no-print-directory size

# libFuzzer targets of the codecs and config parsers (tests/fuzz/README.md), built with clang in
# $(BUILD)/fuzz. `make fuzz FUZZ_SECONDS=N` replays tests/fuzz/regressions/, then fuzzes each
# target N seconds on a scratch copy of its corpus; it fails if any target crashes, leaks, hits
# UB or times out. FUZZ_TARGETS="mqtt_codec config" runs some; FUZZ_PARALLEL=2 two at a time;
# FUZZ_ARGS passes libFuzzer flags. `make test-fuzz` runs every target TEST_FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 5
FUZZ_TARGETS ?=
FUZZ_PARALLEL ?= 1
FUZZ_ARGS ?=
export FUZZ_PARALLEL FUZZ_ARGS
FUZZ_CXX ?= clang++-16
FUZZ_CC ?= clang-16
fuzz-build: deps
	$(call configure,fuzz,-DFOX_FUZZ=ON -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) -DCMAKE_C_COMPILER=$(FUZZ_CC))
	cmake --build $(BUILD)/fuzz

fuzz: fuzz-build
	bash tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

test-fuzz: fuzz-build
	bash tests/fuzz/run.sh $(BUILD)/fuzz $(TEST_FUZZ_SECONDS) $(FUZZ_TARGETS)

run: build
	$(BUILD)/native/fox serve $(RUN_ARGS)

# The cluster simulation with more seeds than ctest runs: make sim SEEDS=5000 [FIRST=1].
SEEDS ?= 1000
FIRST ?= 1
sim: build
	cmake --build $(BUILD)/native --target fox_sim
	$(BUILD)/native/fox_sim --seeds $(SEEDS) --first $(FIRST)

# Throughput with SQLite (--data, sync normal and full) against --memory, and the memory per idle
# connection; not a test.
bench: build
	/usr/bin/python3 tests/bench/bench.py $(BENCH_ARGS)
	/usr/bin/python3 tests/bench/conn_memory.py
	/usr/bin/python3 tests/bench/ws_fanout.py
	/usr/bin/python3 tests/bench/mqtt_vs_mosquitto.py

# The stripped size of every fox binary built so far (native, and the ARM builds of `make cross`)
# against the 3.5 MB budget; fails when one is over it.
SIZE_LIMIT := 3500000
size: build
	@for arch in native aarch64 armhf; do \
	  bin=$(BUILD)/$$arch/fox; [ -f $$bin ] || continue; \
	  case $$arch in aarch64) strip=aarch64-linux-gnu-strip;; armhf) strip=arm-linux-gnueabihf-strip;; *) strip=strip;; esac; \
	  $$strip -o $$bin.stripped $$bin || exit 1; \
	  n=$$(stat -c %s $$bin.stripped); \
	  printf '%-8s %9d bytes stripped (limit %d)\n' $$arch $$n $(SIZE_LIMIT); \
	  [ $$n -le $(SIZE_LIMIT) ] || { echo "size: $$arch is over the limit"; exit 1; }; \
	done

# Debian packages of the three builds: $(BUILD)/deb/fox_<version>_{amd64,arm64,armhf}.deb (the
# static binary, a systemd unit, /etc/fox/fox.json, the licence notices; boards/README.md).
VERSION := $(shell sed -n '/^project/s/.*VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
deb: build cross
	@for a in "amd64 native strip" "arm64 aarch64 aarch64-linux-gnu-strip" \
	          "armhf armhf arm-linux-gnueabihf-strip"; do \
	  set -- $$a; bash boards/deb/build-deb.sh $$1 $(BUILD)/$$2/fox $(BUILD)/deb $(VERSION) $$3 || exit 1; \
	done

clean:
	rm -rf $(BUILD)

distclean: clean
	rm -rf third_party/src third_party/sysroot third_party/libwebsockets third_party/libuv third_party/mbedtls third_party/sqlite
