# Client side of tuf/: model, verification, trusted set, updater (unit tests).
docket_test(tuf_model_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/metadata_test.cpp ${CMAKE_CURRENT_LIST_DIR}/delegation_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/verify_test.cpp ${CMAKE_CURRENT_LIST_DIR}/fast_parse_test.cpp
  DEPS docket_tuf docket_keys)
docket_test(tuf_client_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trusted_set_test.cpp ${CMAKE_CURRENT_LIST_DIR}/updater_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/notary_samples_test.cpp
  DEPS docket_tuf docket_keys)

# The HTTP fetcher lives in docket_tuf and uses net::HttpClient. The fuzz build (clang) does
# not link net: its fuzz targets never use the fetcher, and net's Asio coroutines do not
# compile with clang against libstdc++ 12.
if(NOT DOCKET_FUZZ)
  target_link_libraries(docket_tuf PUBLIC docket_net)
  docket_test(tuf_fetcher_test LABEL unit
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/fetcher_prefetch_test.cpp
    DEPS docket_tuf)
endif()

# docket-tuf end to end: the real binary against a loopback HTTP/1.0 server serving a
# simulator-generated repository, with exact request sequences and file-layout checks.
docket_test(docket_tuf_cli_test LABEL integration
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli_test.cpp ${CMAKE_CURRENT_LIST_DIR}/cli_conformance_test.cpp
  DEPS docket_tuf docket_keys docket_net docket_net_testing)
if(TARGET docket_tuf_cli_test)
  add_dependencies(docket_tuf_cli_test docket-tuf)
endif()
