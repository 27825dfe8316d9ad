ingot_add_test(NAME model_stories260k_test SOURCES model/stories260k_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
ingot_add_test(NAME model_quantized_runtime_test SOURCES model/quantized_runtime_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
ingot_add_test(NAME model_batch_test SOURCES model/batch_test.cpp LABELS "model;kv"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
