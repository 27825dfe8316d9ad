# The chat-template engine: unit tests of its pieces (hand-written expectations from Jinja2's
# documented behaviour) and the conformance test against Jinja2 on the real templates (fetches
# its oracle into ~/.cache/ingot/chat-templates once; skips without PyPI).
ingot_add_test(NAME chat_template_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_test.cpp
               LABELS "unit;template" LIBS ingot_runtime)
ingot_add_test(NAME chat_template_conformance_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/conformance_test.cpp
               LABELS "unit;template" LIBS ingot_runtime ingot_test_support TIMEOUT 900)
target_compile_definitions(chat_template_conformance_test PRIVATE
                           INGOT_TEMPLATE_WORK_DIR="${CMAKE_CURRENT_BINARY_DIR}")
set_tests_properties(chat_template_conformance_test PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
# The container's template through the C API and `ingot chat` (stories260K-hf from shared/).
ingot_add_test(NAME chat_template_model_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_template_test.cpp
               LABELS "unit;model;template" LIBS ingot_shared ingot_test_support)
target_compile_definitions(chat_template_model_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>"
                           INGOT_BIN="$<TARGET_FILE:ingot>")
add_dependencies(chat_template_model_test ingotc ingot)
ingot_test_needs(LABELS unit model template TARGETS ingotc ingot)
