# The model-level GPTQ driver and calibration loader on stories260K (skips without shared/).
ingot_add_test(NAME quantize_model_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/quantize_model_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support TIMEOUT 600)
