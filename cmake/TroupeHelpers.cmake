# CMake helpers for troupe's tests and examples, in the manner of nng's
# cmake/NNGHelpers.cmake (nng_test): every source is listed by hand (no
# GLOB), so adding a file is a visible line in review.

# troupe_test(<name> [SOURCES <file>...] [LIBS <target>...] [TIMEOUT <s>]
#             [LABELS <label>...])
#
# Builds the cmocka test program <name> from SOURCES (default: <name>.c),
# linked with the shared test-support library troupe_testutil, LIBS
# (default: troupe_testing, the static library with the private headers in
# view) and cmocka, and registers it with CTest under the same name, with a
# TIMEOUT in seconds (default 120), the LABELS given, and the environment in
# TROUPE_TEST_ENVIRONMENT (examples directory, sanitizer options).
function(troupe_test name)
  cmake_parse_arguments(PARSE_ARGV 1 TT "" "TIMEOUT" "SOURCES;LIBS;LABELS")
  if(TT_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "troupe_test(${name}): unknown arguments ${TT_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TT_SOURCES)
    set(TT_SOURCES ${name}.c)
  endif()
  if(NOT TT_LIBS)
    set(TT_LIBS troupe_testing)
  endif()
  if(NOT TT_TIMEOUT)
    set(TT_TIMEOUT 120)
  endif()
  add_executable(${name} ${TT_SOURCES})
  target_compile_options(${name} PRIVATE ${TROUPE_WARNINGS})
  target_link_libraries(${name} PRIVATE troupe_testutil ${TT_LIBS} PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${TT_TIMEOUT}
    ENVIRONMENT "${TROUPE_TEST_ENVIRONMENT}")
  if(TT_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${TT_LABELS}")
  endif()
endfunction()

# troupe_example(<name> SOURCES <file>...)
#
# Builds the example program <name> (into the examples build directory)
# from SOURCES, linked with the static library. When cross-compiling with
# an emulator (make aarch64), the tests run under the emulator and exec the
# examples by path, so the program also gets a small wrapper script,
# ${PROJECT_BINARY_DIR}/examples-emulated/<name>, that starts it under the
# same emulator (no binfmt_misc registration needed).
function(troupe_example name)
  cmake_parse_arguments(PARSE_ARGV 1 TE "" "" "SOURCES")
  if(TE_UNPARSED_ARGUMENTS OR NOT TE_SOURCES)
    message(FATAL_ERROR "troupe_example(${name} SOURCES ...): bad arguments")
  endif()
  add_executable(${name} ${TE_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  target_compile_options(${name} PRIVATE ${TROUPE_WARNINGS})
  target_link_libraries(${name} PRIVATE troupe_static)
  if(CMAKE_CROSSCOMPILING AND CMAKE_CROSSCOMPILING_EMULATOR)
    set(emu "")
    foreach(word ${CMAKE_CROSSCOMPILING_EMULATOR})
      string(APPEND emu "'${word}' ")
    endforeach()
    set(wrapper ${PROJECT_BINARY_DIR}/examples-emulated/${name})
    file(WRITE ${wrapper} "#!/bin/sh\nexec ${emu}'${CMAKE_CURRENT_BINARY_DIR}/${name}' \"$@\"\n")
    file(CHMOD ${wrapper} FILE_PERMISSIONS
      OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endif()
endfunction()
