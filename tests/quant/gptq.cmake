# GPTQ / RTN against a float64 unblocked reference written in the test.
ingot_add_test(NAME gptq_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/gptq_test.cpp LABELS "unit" LIBS ingot_compiler TIMEOUT 300)
# The options past the paper's code (grid searches, GPTAQ, damping, static groups) against float64
# implementations written in the test.
ingot_add_test(NAME gptq_options_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/gptq_options_test.cpp LABELS "unit"
               LIBS ingot_compiler TIMEOUT 300)
# ingotc's GPTQ options on stories260K (skips without shared/): the default is the hessian grid,
# --gptq-preset paper writes the bytes of before that default (a pinned hash, and with
# INGOT_REFERENCE_INGOTC set to an older build's ingotc, that build's), every option is
# deterministic across --threads 1/2, bad values are refused by name.
ingot_add_test(NAME gptq_options_cli_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/gptq_options_cli_test.cpp
               LABELS "model;cli" LIBS ingot_test_support nlohmann_json::nlohmann_json PkgConfig::XXHASH TIMEOUT 900)
target_compile_definitions(gptq_options_cli_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(gptq_options_cli_test ingotc)
