# Interop: GPTQ checkpoints in and out (AutoGPTQ / GPTQModel layout), GGUF in.
ingot_add_test(NAME interop_gptq_import_test SOURCES interop/gptq_import_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support nlohmann_json::nlohmann_json)
target_include_directories(interop_gptq_import_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
ingot_add_test(NAME interop_gptq_export_test SOURCES interop/gptq_export_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support nlohmann_json::nlohmann_json)
target_include_directories(interop_gptq_export_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(interop_gptq_export_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(interop_gptq_export_test ingotc)
# GGUF import: the reader, the importer and the dequantizer of quantized types (gguf_dequant_test.cpp
# compares with gguf-py, run from the venv of tests/oracle/oracle_venv.sh; skips without PyPI). One
# executable, so CI's AddressSanitizer stage (scripts/test.sh) covers all of it.
ingot_add_test(NAME interop_gguf_import_test SOURCES interop/gguf_import_test.cpp interop/gguf_dequant_test.cpp
               LABELS "model;format"
               LIBS ingot_compiler ingot_runtime ingot_test_support nlohmann_json::nlohmann_json)
target_include_directories(interop_gguf_import_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(interop_gguf_import_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(interop_gguf_import_test ingotc)
