# registry area: HTTP server core and router tests.
docket_test(net_router_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/router_test.cpp
  DEPS docket_net)
docket_test(net_http_server_test LABEL integration
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/http_server_test.cpp
  DEPS docket_net)
