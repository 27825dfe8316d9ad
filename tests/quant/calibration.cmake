# The calibration draws (gptq/calibration.h): the documents draw on synthetic token documents (unit),
# then through files with stories260K's tokenizer and through ingotc (skips without shared/).
ingot_add_test(NAME calibration_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/calibration_test.cpp LABELS "unit"
               LIBS ingot_compiler)
ingot_add_test(NAME calibration_model_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/calibration_model_test.cpp
               LABELS "model;cli" LIBS ingot_compiler ingot_runtime ingot_test_support nlohmann_json::nlohmann_json)
target_compile_definitions(calibration_model_test PRIVATE INGOT_BIN="$<TARGET_FILE:ingot>"
                                                          INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(calibration_model_test ingot ingotc)
ingot_test_needs(LABELS model cli TARGETS ingot ingotc)
