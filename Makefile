# troupe — the two quick-start commands:
#   make demo   set up (Debian packages, configure, build) and run the main demo
#   make test   set up the same way and run the whole test suite
# Also: make build, make tsan (tests under ThreadSanitizer), make asan,
#       make ubsan (UndefinedBehaviorSanitizer), make bench,
#       make install PREFIX=...

BUILD      ?= build
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_TYPE ?= RelWithDebInfo
PREFIX     ?= /usr/local
DEB_PKGS   := cmake make gcc pkg-config libck-dev libjemalloc-dev libcmocka-dev
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup deps configure build demo test tsan asan ubsan bench install clean

# Install the Debian packages that are missing (apt, with sudo when not root).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
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

clean:
	rm -rf build build-tsan build-asan build-ubsan build-release
