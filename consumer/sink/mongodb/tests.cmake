# tests.cmake
#    Tests of the MongoDB target, included by consumer/CMakeLists.txt.

target_sources(walapply_unit_tests PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/document_test.cc
  ${CMAKE_CURRENT_LIST_DIR}/config_test.cc
)

# End-to-end: real clusters, walapply, and the MongoDB-wire server of
# tests/mongo/ (or the MongoDB that MONGO_URI names).
foreach(e2e IN ITEMS mongo_types mongo_crash)
  add_test(NAME walapply_e2e_${e2e}
    COMMAND ${WALAPPLY_BASH} ${CMAKE_CURRENT_SOURCE_DIR}/tests/e2e_${e2e}.sh
            $<TARGET_FILE:walapply>)
  set_tests_properties(walapply_e2e_${e2e} PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE)
endforeach()

# The MongoDB-wire test server itself.
add_test(NAME mongo_test_server
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/tests/mongo/server_test.py 55479)
set_tests_properties(mongo_test_server PROPERTIES TIMEOUT 120)
