ingot_add_test(NAME scripting_logits_test SOURCES scripting/logits_binding_test.cpp LABELS "unit;scripting"
               LIBS ingot_scripting)
ingot_add_test(NAME scripting_sandbox_test SOURCES scripting/sandbox_test.cpp LABELS "unit;scripting"
               LIBS ingot_scripting)
ingot_add_test(NAME scripting_samples_test SOURCES scripting/samples_test.cpp LABELS "model;scripting;cli"
               LIBS ingot_scripting ingot_compiler ingot_test_support nlohmann_json::nlohmann_json)
target_compile_definitions(scripting_samples_test PRIVATE INGOT_BIN="$<TARGET_FILE:ingot>")
add_dependencies(scripting_samples_test ingot)
