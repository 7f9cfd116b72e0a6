# netauth area: HTTP client, auth building blocks, rate limiting, test helpers.

# Shared test utilities (loopback HTTP server, throwaway TLS PKI, process launcher, free
# ports) for every area's tests: link docket_net_testing.
file(GLOB net_testing_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/testing/*.cpp)
docket_library(docket_net_testing
  SOURCES ${net_testing_sources}
  DEPS docket_net docket::ssl Threads::Threads)

docket_test(net_http_client_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_client_test.cpp
  DEPS docket_net docket_net_testing)

docket_test(net_http_tls_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_tls_test.cpp
  DEPS docket_net docket_net_testing)

# The same two suites against the built-in transport (HttpTransport::native), plus what is
# particular to it (libcurl never loaded, fallbacks to libcurl).
docket_test(net_http_client_native_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_client_test.cpp
  DEPS docket_net docket_net_testing)
if(TARGET net_http_client_native_test)
  target_compile_definitions(net_http_client_native_test PRIVATE DOCKET_TEST_NATIVE_TRANSPORT)
endif()
docket_test(net_http_tls_native_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_tls_test.cpp
  DEPS docket_net docket_net_testing)
if(TARGET net_http_tls_native_test)
  target_compile_definitions(net_http_tls_native_test PRIVATE DOCKET_TEST_NATIVE_TRANSPORT)
endif()
docket_test(net_native_http_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/native_http_test.cpp
  DEPS docket_net docket_net_testing)

docket_test(net_http_peer_test LABEL integration
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_peer_test.cpp
  DEPS docket_net docket_net_testing)

docket_test(net_auth_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/auth_test.cpp
  DEPS docket_net docket_net_testing)

docket_test(net_token_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/token_test.cpp
  DEPS docket_net docket_net_testing)

docket_test(net_auth_interop_test LABEL interop
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/auth_interop_test.cpp
  DEPS docket_net docket_net_testing)

docket_test(net_auth_docs_test LABEL integration
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/auth_docs_test.cpp
  DEPS docket_net docket_net_testing)

docket_test(net_rate_limit_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/rate_limit_test.cpp
  DEPS docket_net)
