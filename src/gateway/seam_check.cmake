# The gateway depends on the service only through core/service_interface.hpp: no file
# of src/gateway may include the service's implementation, the jobs, the router or the
# handlers. service/metrics.hpp (counters both record) is the one service header allowed.
#   cmake -DGATEWAY_DIR=src/gateway -P seam_check.cmake
file(GLOB sources "${GATEWAY_DIR}/*.hpp" "${GATEWAY_DIR}/*.cpp")
set(violations "")
foreach(f IN LISTS sources)
  file(STRINGS "${f}" includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
  foreach(line IN LISTS includes)
    if(line MATCHES "\"(jobs|router|handlers|app|artifacts)/" OR
       (line MATCHES "\"service/" AND NOT line MATCHES "\"service/metrics\\.hpp\""))
      string(APPEND violations "\n  ${f}: ${line}")
    endif()
  endforeach()
endforeach()
list(LENGTH sources count)
if(count EQUAL 0)
  message(FATAL_ERROR "no gateway sources under ${GATEWAY_DIR}")
endif()
if(violations)
  message(FATAL_ERROR "the gateway reaches past the service interface:${violations}")
endif()
message(STATUS "gateway seam: ${count} files include only gateway/, core/, auth/ and service/metrics.hpp")
