ingot_add_test(NAME model_cli_test SOURCES cli/model_cli_test.cpp LABELS "model;cli"
               LIBS ingot_test_support nlohmann_json::nlohmann_json)
target_compile_definitions(model_cli_test PRIVATE INGOT_BIN="$<TARGET_FILE:ingot>" INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(model_cli_test ingot ingotc)
