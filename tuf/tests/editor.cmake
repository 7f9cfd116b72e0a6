# Repository editor and changelist tests (the tufedit work area).
docket_test(tuf_changelist_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/changelist_test.cpp
  DEPS docket_tuf)

docket_test(tuf_editor_test LABEL unit
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tests/editor_test.cpp
  DEPS docket_tuf)
