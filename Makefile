# LoadPilot: the two commands of the quick start.
#   make demo   set up, build, run examples/checkout.py against the demo API
#   make test   set up, build, run every test suite (unit, Python, end-to-end)
# Installing (docs/install.md):
#   make install PREFIX=DIR   build, then install bin/loadpilot and its Python package under DIR
#   make deb                  build, then a Debian package in build/packages/
# Checking builds (docs/testing.md), each in a folder of its own:
#   make test-asan   every suite against an ASan + UBSan build (build-asan/)
#   make build-asan  that build and the fuzz harnesses alone, no tests run
#   make test-tsan   every suite against a TSan build (build-tsan/)
#   make fuzz        each libFuzzer harness for FUZZ_SECONDS (built in build-asan/)
#   make test-nightly  what CI leaves out (docs/testing.md#nightly): the TSan
#                    suites, each fuzz harness for NIGHTLY_FUZZ_SECONDS, the
#                    soak and the 1,000-agent bench
# Container images (docs/kubernetes.md#container-images):
#   make images       loadpilot-coordinator:local and loadpilot-agent:local
#   make test-images  run them on loopback against the host build
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
LOADPILOT := $(BUILD_DIR)/engine/loadpilot
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
PREFIX ?= /usr/local
CMAKE_ARGS ?=

.PHONY: all deps build demo test install deb build-asan test-asan test-tsan fuzz test-nightly images test-images bench format clean

all: build

# The install script does nothing when every package is present.
deps:
	@bash scripts/install-deps.sh

# CMAKE_ARGS: more cache settings for a new build/ (.ci/run passes
# -DLOADPILOT_DEBUG_LEVEL=1).
$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

# A build folder that `make demo` configured without the tests gets them
# back here.
build: deps $(BUILD_DIR)/CMakeCache.txt
	@if grep -q '^LOADPILOT_TESTS:BOOL=OFF' $(BUILD_DIR)/CMakeCache.txt; then \
	  cmake $(BUILD_DIR) -DLOADPILOT_TESTS=ON; fi
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The demo needs the program alone: only its packages (no test tools,
# Chromium, Go or Prometheus) and only the target loadpilot. A build folder
# made by `make test` is reused as it is.
demo:
	@LOADPILOT_DEPS=program bash scripts/install-deps.sh
	@test -f $(BUILD_DIR)/CMakeCache.txt || cmake -S . -B $(BUILD_DIR) -G Ninja \
	  -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DLOADPILOT_TESTS=OFF
	cmake --build $(BUILD_DIR) -j $(JOBS) --target loadpilot
	@bash scripts/demo.sh $(LOADPILOT)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

# DESTDIR, when set, is honoured by cmake --install (staged installs).
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

deb: build
	cd $(BUILD_DIR) && cpack -G DEB

# The checking builds use clang (why: CMakeLists.txt, docs/testing.md).
$(ASAN_DIR)/CMakeCache.txt:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER=clang++ -DLOADPILOT_SANITIZE=address

$(TSAN_DIR)/CMakeCache.txt:
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DCMAKE_CXX_COMPILER=clang++ -DLOADPILOT_SANITIZE=thread

# The ASan build and the libFuzzer harnesses, without running anything:
# .ci/run makes it in the background, at idle CPU priority, while the g++
# suites run (README.md#tests-and-how-long-they-take).
build-asan: deps $(ASAN_DIR)/CMakeCache.txt
	cmake --build $(ASAN_DIR) -j $(JOBS) --target all fuzz_harnesses

# The sanitizer suites leave out what runs no code of ours under the
# sanitizer: the chart's rendering, the scripts and the packaging checks.
SANITIZER_SKIP ?= ^(chart|scripts|packaging)$$
test-asan: deps $(ASAN_DIR)/CMakeCache.txt
	cmake --build $(ASAN_DIR) -j $(JOBS)
	@bash engine/tests/sanitizers/run-tests.sh $(ASAN_DIR) -j $(JOBS) -LE '$(SANITIZER_SKIP)'

test-tsan: deps $(TSAN_DIR)/CMakeCache.txt
	cmake --build $(TSAN_DIR) -j $(JOBS)
	@bash engine/tests/sanitizers/run-tests.sh $(TSAN_DIR) -j $(JOBS) -LE '$(SANITIZER_SKIP)'

# The harnesses link the ASan build's libraries (docs/testing.md#fuzzing):
# after `make test-asan` only the harnesses themselves are compiled.
fuzz: deps $(ASAN_DIR)/CMakeCache.txt
	cmake --build $(ASAN_DIR) -j $(JOBS) --target fuzz_harnesses
	@bash engine/fuzz/run.sh $(ASAN_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Too long for CI (about 75 min on 2 cores), for a machine that has the
# time: the TSan suites, long fuzzing (new inputs stay in build-asan/), the
# 10-minute soak with 10,000 connections (bench/soak.sh) and one coordinator
# with 10 to 1,000 simulated agents (bench/distributed.sh scale). Each stops
# the target when it fails; the soak and the bench print figures to read.
NIGHTLY_FUZZ_SECONDS ?= 600
test-nightly: build
	$(MAKE) test-tsan
	$(MAKE) fuzz FUZZ_SECONDS=$(NIGHTLY_FUZZ_SECONDS)
	@bash bench/soak.sh $(LOADPILOT)
	@bash bench/distributed.sh scale $(LOADPILOT)

# scripts/images.sh installs docker.io and debootstrap when missing, starts
# a Docker daemon when none answers and makes the base image when docker
# lacks it; IMAGE_TAG overrides the tag `local`. The images carry the host
# build (on a Debian 12 host; LOADPILOT_IMAGE_FROM=source compiles in
# Docker instead), which also coordinates test-images' distributed run.
images: build
	@bash scripts/images.sh $(LOADPILOT)

test-images: build images
	@bash engine/tests/images/test_images.sh $(LOADPILOT)

bench: build
	@LOADPILOT_BENCH=1 bash scripts/install-deps.sh
	@bash bench/run.sh $(LOADPILOT)
	@bash bench/python_vs_locust.sh $(LOADPILOT)

format:
	clang-format -i $$(git ls-files 'engine/*.cc' 'engine/*.h')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
