# The Hugging Face importer (safetensors, config.json), llama2.c's headers, and ingotc on a directory.
ingot_add_test(NAME model_hf_import_test SOURCES model/hf_import_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
target_compile_definitions(model_hf_import_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(model_hf_import_test ingotc)
