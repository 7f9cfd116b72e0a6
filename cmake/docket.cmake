# docket_library(NAME SOURCES... DEPS...): the folder's static library, headers included as
# "<folder>/<file>.h" from the project root.
function(docket_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS})
endfunction()

# docket_test(NAME LABEL unit|integration|interop SOURCES... DEPS... [TIMEOUT s]):
# a GoogleTest binary registered with ctest, each test case carrying LABEL. Tests find
# the shared/ reference material through DOCKET_SHARED_DIR and their own data through
# DOCKET_SOURCE_DIR (both compile definitions).
function(docket_test name)
  cmake_parse_arguments(A "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  if(NOT DOCKET_TESTS)
    return()
  endif()
  if(NOT A_LABEL)
    set(A_LABEL unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    DOCKET_SHARED_DIR="${DOCKET_SHARED_DIR}"
    DOCKET_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    DOCKET_BINARY_DIR="${CMAKE_BINARY_DIR}")
  gtest_discover_tests(${name}
    PROPERTIES LABELS ${A_LABEL} TIMEOUT ${A_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()
