# troupe — CMake toolchain file: cross-compile for aarch64 (arm64) Linux on
# a Debian x86-64 host, and run the test programs under qemu-user.
# `make aarch64` uses it (see the Makefile); by hand:
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         [-DTROUPE_AARCH64_SYSROOT=/path/to/unpacked/arm64/debs]
#   cmake --build build-aarch64 && (cd build-aarch64 && ctest)
#
# Host packages: gcc-aarch64-linux-gnu (with libc6-dev-arm64-cross and
# libstdc++6-arm64-cross) and qemu-user.
#
# The arm64 builds of ck, jemalloc, cmocka and Boost.Context come from one
# of two places:
# - TROUPE_AARCH64_SYSROOT: a directory into which the arm64 .debs
#   (libck-dev libck0 libjemalloc-dev libjemalloc2 libcmocka-dev libcmocka0
#   libboost-context1.74-dev libboost-context1.74.0)
#   were unpacked with dpkg-deb -x. This is what `make aarch64` does, because
#   Debian's libck0/libck-dev and libjemalloc-dev are not Multi-Arch
#   co-installable: `apt-get install libck-dev:arm64 libjemalloc-dev:arm64`
#   removes the amd64 packages the native build needs.
# - otherwise the system's arm64 multiarch directories
#   (/usr/lib/aarch64-linux-gnu, from apt-get install <pkg>:arm64).
#
# Under qemu-user on an x86-64 host, guest memory accesses keep the host's
# strong (TSO) ordering: the run shows the arm64 build works, not that its
# memory orders are sufficient on real arm64 hardware.
#
# ctest runs every test through CMAKE_CROSSCOMPILING_EMULATOR: qemu-aarch64
# with the cross C library's root as its -L prefix, and LD_LIBRARY_PATH
# pointing the guest's loader at that same C library. (Without it, the
# cross loader also searches /lib/aarch64-linux-gnu, finds the libc of a
# host-installed libc6:arm64 -- another build than the loader's -- and the
# program hangs in its first pthread_create.) The test programs find the
# sysroot's shared libraries through their build RPATH.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(TROUPE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${TROUPE_CROSS_TRIPLE}-gcc)

if(NOT DEFINED TROUPE_AARCH64_SYSROOT AND DEFINED ENV{TROUPE_AARCH64_SYSROOT})
  set(TROUPE_AARCH64_SYSROOT "$ENV{TROUPE_AARCH64_SYSROOT}")
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TROUPE_AARCH64_SYSROOT)

# Headers and libraries of the target: the cross toolchain's root (and the
# unpacked sysroot); programs (cmake, pkg-config) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${TROUPE_CROSS_TRIPLE} ${TROUPE_AARCH64_SYSROOT})
set(CMAKE_LIBRARY_ARCHITECTURE ${TROUPE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config reads the arm64 .pc files only, never the host's.
if(TROUPE_AARCH64_SYSROOT)
  set(ENV{PKG_CONFIG_LIBDIR} "${TROUPE_AARCH64_SYSROOT}/usr/lib/${TROUPE_CROSS_TRIPLE}/pkgconfig")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${TROUPE_AARCH64_SYSROOT}")
  # keep -I<sysroot>/usr/include and -L<sysroot>/usr/lib/...
  set(ENV{PKG_CONFIG_ALLOW_SYSTEM_CFLAGS} 1)
  set(ENV{PKG_CONFIG_ALLOW_SYSTEM_LIBS} 1)
else()
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${TROUPE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
endif()
set(ENV{PKG_CONFIG_PATH} "")

# Run target programs (tests) under qemu-user.
find_program(TROUPE_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(TROUPE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${TROUPE_QEMU_AARCH64};-L;/usr/${TROUPE_CROSS_TRIPLE};-E;LD_LIBRARY_PATH=/usr/${TROUPE_CROSS_TRIPLE}/lib")
endif()
