ingot_add_test(NAME runtime_sampler_test SOURCES runtime/sampler_test.cpp LABELS "unit" LIBS ingot_runtime)
