ingot_add_test(NAME runtime_sampler_test SOURCES runtime/sampler_test.cpp LABELS "unit" LIBS ingot_runtime)
ingot_add_test(NAME runtime_rope_test SOURCES runtime/rope_test.cpp LABELS "unit" LIBS ingot_kernels_cpu)
