# `streamer call` (one request from the command line), included from src/app/CMakeLists.txt.
# streamer_call_lib: run_call_command() and its I/O-free message handler.
add_library(streamer_call_lib STATIC ${CMAKE_CURRENT_LIST_DIR}/call_command.cpp)
target_include_directories(streamer_call_lib PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(streamer_call_lib PUBLIC streamer_boost streamer_core Boost::json Boost::url)
streamer_add_test(streamer_call_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/call_command_test.cpp
  LIBS streamer_call_lib)
