# Repository editor and changelist tests (the tufedit work area).
docket_test(tuf_changelist_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/changelist_test.cpp
  DEPS docket_tuf)

docket_test(tuf_editor_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/editor_test.cpp
          ${CMAKE_CURRENT_SOURCE_DIR}/tests/repo_store_test.cpp
  DEPS docket_tuf docket_net)

# Interop with Debian's notary-server and notary CLI (skipped when they are not installed).
# Needs the HTTP client (net/) and the updater (tuf/updater.h) for the read-back half.
if(EXISTS ${CMAKE_SOURCE_DIR}/net/http_client.h AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/updater.h)
  docket_test(tuf_notary_interop_test LABEL interop TIMEOUT 300
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/interop_notary_test.cpp
    DEPS docket_tuf docket_net)
endif()
