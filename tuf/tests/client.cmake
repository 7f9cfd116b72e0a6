# Client side of tuf/: model, verification, trusted set, updater (unit tests).
docket_test(tuf_model_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/metadata_test.cpp ${CMAKE_CURRENT_LIST_DIR}/delegation_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/verify_test.cpp
  DEPS docket_tuf docket_keys)
docket_test(tuf_client_test LABEL unit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trusted_set_test.cpp ${CMAKE_CURRENT_LIST_DIR}/updater_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/notary_samples_test.cpp
  DEPS docket_tuf docket_keys)
