# LoadPilot: the two commands of the quick start.
#   make demo   set up, build, run examples/checkout.py against the demo API
#   make test   set up, build, run every test suite (unit, Python, end-to-end)
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
LOADPILOT := $(BUILD_DIR)/engine/loadpilot

.PHONY: all deps build demo test bench format clean

all: build

# The install script does nothing when every package is present.
deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	@bash scripts/demo.sh $(LOADPILOT)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: build
	@LOADPILOT_BENCH=1 bash scripts/install-deps.sh
	@bash bench/run.sh $(LOADPILOT)
	@bash bench/python_vs_locust.sh $(LOADPILOT)

format:
	clang-format -i $$(git ls-files 'engine/*.cc' 'engine/*.h')

clean:
	rm -rf $(BUILD_DIR)
