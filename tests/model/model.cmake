ingot_add_test(NAME model_stories260k_test SOURCES model/stories260k_test.cpp LABELS "model"
               LIBS ingot_compiler ingot_runtime ingot_test_support)
