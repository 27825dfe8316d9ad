ingot_add_test(NAME model_cli_test SOURCES cli/model_cli_test.cpp LABELS "model;cli"
               LIBS ingot_test_support nlohmann_json::nlohmann_json)
target_compile_definitions(model_cli_test PRIVATE INGOT_BIN="$<TARGET_FILE:ingot>" INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(model_cli_test ingot ingotc)

# SmolLM2-135M-Instruct (shared Q4_1 GGUF): build, inspect, chat; perplexity against llama.cpp (slow).
ingot_add_test(NAME smollm2_cli_test SOURCES cli/smollm2_cli_test.cpp LABELS "model;cli"
               LIBS ingot_test_support nlohmann_json::nlohmann_json TIMEOUT 900)
ingot_add_test(NAME smollm2_perplexity_test SOURCES cli/smollm2_perplexity_test.cpp LABELS "model;cli;slow"
               LIBS ingot_test_support nlohmann_json::nlohmann_json TIMEOUT 3600)
# Greedy generations against llama.cpp's llama-simple (a cached llama.cpp build only; slow).
ingot_add_test(NAME smollm2_llamacpp_test SOURCES cli/smollm2_llamacpp_test.cpp LABELS "model;cli;slow"
               LIBS ingot_test_support nlohmann_json::nlohmann_json TIMEOUT 1800)
foreach(t smollm2_cli_test smollm2_perplexity_test smollm2_llamacpp_test)
  target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_compile_definitions(${t} PRIVATE INGOT_BIN="$<TARGET_FILE:ingot>" INGOTC_BIN="$<TARGET_FILE:ingotc>")
  add_dependencies(${t} ingot ingotc)
endforeach()
