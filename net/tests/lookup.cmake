# lookup area (the trust lookup path): OpenSSL's first-use set-up ahead of the first TLS
# connection (net/tls_warmup.h).
docket_test(net_tls_warmup_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/tls_warmup_test.cpp
  DEPS docket_net docket_net_testing)
docket_test(net_tls_warmup_strings_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/tls_warmup_strings_test.cpp
  DEPS docket_net)
