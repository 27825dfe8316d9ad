ingot_add_test(NAME runtime_sampler_test SOURCES runtime/sampler_test.cpp LABELS "unit" LIBS ingot_runtime)
ingot_add_test(NAME runtime_rope_test SOURCES runtime/rope_test.cpp LABELS "unit" LIBS ingot_kernels_cpu)
ingot_add_test(NAME cpu_kernels_test SOURCES runtime/cpu_kernels_test.cpp LABELS "unit" LIBS ingot_kernels_cpu)
add_test(NAME cpu_kernels_portable_test COMMAND cpu_kernels_test --gtest_brief=1)
set_tests_properties(cpu_kernels_portable_test PROPERTIES LABELS "unit"
                     ENVIRONMENT "INGOT_NO_SIMD=1;${INGOT_GTEST_OUTPUT}/cpu_kernels_portable_test.xml")
ingot_add_test(NAME runtime_kv_pages_test SOURCES runtime/kv_pages_test.cpp LABELS "unit;kv" LIBS ingot_runtime)
# The kernels' worker pool; label "capi" puts it in scripts/test.sh's ThreadSanitizer stage.
ingot_add_test(NAME worker_pool_test SOURCES runtime/worker_pool_test.cpp LABELS "unit;capi" LIBS ingot_kernels_cpu)
