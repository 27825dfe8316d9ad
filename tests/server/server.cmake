# `ingot serve` and its scheduler (docs/serving.md).
# The scheduler without HTTP, on stories260K from shared/ (compiled by the test with ingotc).
ingot_add_test(NAME scheduler_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/scheduler_test.cpp LABELS "unit;model"
               LIBS ingot_runtime ingot_test_support)
target_compile_definitions(scheduler_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>" INGOT_BIN="$<TARGET_FILE:ingot>")
add_dependencies(scheduler_test ingotc ingot)
ingot_test_needs(LABELS unit model TARGETS ingotc ingot)
# The server driven by the real `openai` Python package (tests/server/server_venv.sh; exit 77, a
# skip, without PyPI or shared/) and by raw HTTP for every error status. Labelled `format` as well so
# scripts/test.sh's AddressSanitizer stage (ctest -L format) runs it against an ASan-built server.
if(TARGET ingot_server)
  add_test(NAME server_openai_test
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/server_test.sh $<TARGET_FILE:ingot> $<TARGET_FILE:ingotc>
                   ${CMAKE_CURRENT_BINARY_DIR}/server_test)
  set_tests_properties(server_openai_test PROPERTIES LABELS "model;server;format" TIMEOUT 900 SKIP_RETURN_CODE 77
                       ENVIRONMENT "INGOT_SHARED_DEFAULT=${INGOT_SHARED_DEFAULT}")
  ingot_test_needs(LABELS model server format TARGETS ingotc ingot)
endif()
