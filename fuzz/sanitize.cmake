# Included by the top-level CMakeLists.txt when STREAMER_BUILD_FUZZ is ON: compiles
# every library with libFuzzer coverage hooks, AddressSanitizer and UBSan (UB aborts,
# so libFuzzer reports it as a crash). The fuzz targets themselves add
# -fsanitize=fuzzer at link time (fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "STREAMER_BUILD_FUZZ needs clang (e.g. CC=clang-14 CXX=clang++-14)")
endif()
set(STREAMER_BUILD_TESTS OFF CACHE BOOL "Build unit tests" FORCE)
set(STREAMER_BUILD_BENCH OFF CACHE BOOL "Build the load generator" FORCE)
set(STREAMER_SANITIZERS address,undefined)
add_compile_options(-fsanitize=fuzzer-no-link,${STREAMER_SANITIZERS} -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer -gline-tables-only -O1)
add_link_options(-fsanitize=${STREAMER_SANITIZERS})
# Asserts stay on in fuzz builds whatever the build type.
add_compile_options(-UNDEBUG)
