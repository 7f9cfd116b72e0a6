# trust area: mutual TLS in the HTTP server core (used by `docket-server signer`).
docket_test(net_http_mtls_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_mtls_test.cpp
  DEPS docket_net docket_net_testing)
