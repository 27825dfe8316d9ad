ingot_add_test(NAME model_stories260k_test SOURCES model/stories260k_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
ingot_add_test(NAME model_quantized_runtime_test SOURCES model/quantized_runtime_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
ingot_add_test(NAME model_batch_test SOURCES model/batch_test.cpp LABELS "model;kv"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
# f16 against f32 KV pages on SmolLM2-135M (imported from the shared GGUF with ingotc).
ingot_add_test(NAME model_smollm2_kv_test SOURCES model/smollm2_kv_test.cpp LABELS "model;slow;kv"
               LIBS ingot_runtime ingot_test_support TIMEOUT 900)
target_compile_definitions(model_smollm2_kv_test PRIVATE INGOTC_BIN="$<TARGET_FILE:ingotc>")
add_dependencies(model_smollm2_kv_test ingotc)
# The forward pass under a backend that records steps (the CUDA graphs' contract), on the CPU.
ingot_add_test(NAME model_step_recording_test SOURCES model/step_recording_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
