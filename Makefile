# troupe — the two quick-start commands:
#   make demo   set up (Debian packages, configure, build) and run the main demo
#   make test   set up the same way and run the whole test suite
# Also: make build, make tsan (tests under ThreadSanitizer), make asan,
#       make ubsan (UndefinedBehaviorSanitizer), make bench,
#       make install PREFIX=..., make consumer (build against an installed troupe),
#       make aarch64 (cross build for arm64, test suite under qemu-user)
# DEPS=0 (or TROUPE_NO_APT=1 in the environment) skips the apt step: the
# packages are only checked, e.g. make test DEPS=0.

BUILD      ?= build
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_TYPE ?= RelWithDebInfo
PREFIX     ?= /usr/local
DEB_PKGS   := cmake make gcc g++ pkg-config libck-dev libjemalloc-dev libcmocka-dev \
              libboost-context-dev libhiredis-dev redis-server redis-tools
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEPS       ?= $(if $(filter-out 0,$(TROUPE_NO_APT)),0,1)

# aarch64 cross build: host packages (apt), and the arm64 builds of the
# libraries, downloaded with apt-get download and unpacked into a sysroot
# under the build directory. They are not installed as :arm64 packages
# because Debian's libck0/libck-dev and libjemalloc-dev are not Multi-Arch
# co-installable: installing the arm64 ones removes the amd64 ones.
A64_BUILD      ?= build-aarch64
A64_SYSROOT    := $(abspath $(A64_BUILD))/sysroot
A64_HOST_PKGS  := cmake make pkg-config gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
                  libstdc++6-arm64-cross qemu-user
A64_ARM64_PKGS := libck-dev libck0 libjemalloc-dev libjemalloc2 libcmocka-dev libcmocka0 \
                  libboost-context1.74-dev libboost-context1.74.0
A64_CTEST_ARGS ?=

.PHONY: setup deps configure build demo test tsan asan ubsan bench install consumer clean aarch64 \
        aarch64-deps

# Install the Debian packages that are missing (apt, with sudo when not
# root); with DEPS=0 only say which are missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ] && [ "$(DEPS)" = 0 ]; then \
	  echo "troupe: DEPS=0, not installing the missing Debian packages:$$missing"; \
	elif [ -n "$$missing" ]; then \
	  echo "troupe: installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

setup: build

demo: build
	$(BUILD)/examples/worker_pool
	$(BUILD)/examples/worker_pool --dir /usr/share/doc --crash-every 50

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

tsan:
	$(MAKE) test BUILD=build-tsan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS="-DTROUPE_SANITIZER=thread -DTROUPE_BUILD_BENCH=OFF"

asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DTROUPE_SANITIZER=address -DTROUPE_BUILD_BENCH=OFF"

ubsan:
	$(MAKE) test BUILD=build-ubsan BUILD_TYPE=RelWithDebInfo CMAKE_ARGS="-DTROUPE_SANITIZER=undefined -DTROUPE_BUILD_BENCH=OFF"

bench:
	$(MAKE) build BUILD=build-release BUILD_TYPE=Release

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Install to a temporary prefix and build programs against it as an
# application would: pkg-config (shared, static), CMake find_package (both
# targets), C++17 (test/consumer/run.sh).
consumer: build
	test/consumer/run.sh $(BUILD)

# The arm64 toolchain and qemu-user (apt, with sudo when not root), the arm64
# package list (dpkg --add-architecture arm64), and the unpacked sysroot.
aarch64-deps:
	@missing=""; for p in $(A64_HOST_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ] && [ "$(DEPS)" = 0 ]; then \
	  echo "troupe: DEPS=0, not installing the missing Debian packages:$$missing"; \
	elif [ -n "$$missing" ]; then \
	  echo "troupe: installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if ! dpkg --print-foreign-architectures | grep -qx arm64; then \
	  echo "troupe: dpkg --add-architecture arm64"; \
	  $(SUDO) dpkg --add-architecture arm64 && $(SUDO) apt-get update -qq; \
	fi
	@if [ "$$(cat "$(A64_SYSROOT)/.unpacked" 2>/dev/null)" != "$(strip $(A64_ARM64_PKGS))" ]; then \
	  pkgs=""; for p in $(A64_ARM64_PKGS); do pkgs="$$pkgs $$p:arm64"; done; \
	  echo "troupe: unpacking$$pkgs into $(A64_SYSROOT)"; \
	  rm -rf "$(A64_SYSROOT)" "$(A64_BUILD)/debs" && mkdir -p "$(A64_BUILD)/debs" && \
	  { (cd "$(A64_BUILD)/debs" && apt-get download -qq $$pkgs 2>/dev/null) || \
	    { $(SUDO) apt-get update -qq && (cd "$(A64_BUILD)/debs" && apt-get download -qq $$pkgs); }; } && \
	  for d in "$(A64_BUILD)"/debs/*.deb; do dpkg-deb -x "$$d" "$(A64_SYSROOT)" || exit 1; done && \
	  echo "$(strip $(A64_ARM64_PKGS))" > "$(A64_SYSROOT)/.unpacked"; \
	fi

# Cross-compile for aarch64 (build-aarch64/) and run the whole test suite
# under qemu-user (cmake/aarch64-linux-gnu.cmake). A64_CTEST_ARGS passes
# extra ctest arguments (e.g. -R or -E to pick tests).
aarch64: aarch64-deps
	cmake -S . -B $(A64_BUILD) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake \
	  -DTROUPE_AARCH64_SYSROOT=$(A64_SYSROOT) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DTROUPE_BUILD_BENCH=OFF
	cmake --build $(A64_BUILD) -j $(JOBS)
	cd $(A64_BUILD) && ctest --output-on-failure -j $(JOBS) $(A64_CTEST_ARGS)

clean:
	rm -rf build build-tsan build-asan build-ubsan build-release build-aarch64
