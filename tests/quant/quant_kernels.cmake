# GptqPackedK packing and the CPU quantized matmul against float64; the second entry runs the
# same binary on the portable loops.
ingot_add_test(NAME quant_kernels_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/quant_kernels_test.cpp LABELS "unit"
               LIBS ingot_kernels_cpu)
add_test(NAME quant_kernels_portable_test COMMAND quant_kernels_test --gtest_brief=1)
set_tests_properties(quant_kernels_portable_test PROPERTIES LABELS "unit"
                     ENVIRONMENT "INGOT_NO_SIMD=1;${INGOT_GTEST_OUTPUT}/quant_kernels_portable_test.xml")

# The int8-activation kernels against float64 and their error bound: every path this CPU has in one
# run, then the dispatcher under INGOT_NO_SIMD=1 (portable) and INGOT_SIMD=avx2.
ingot_add_test(NAME quant_int8_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/quant_int8_test.cpp LABELS "unit"
               LIBS ingot_kernels_cpu)
add_test(NAME quant_int8_portable_test COMMAND quant_int8_test --gtest_brief=1)
set_tests_properties(quant_int8_portable_test PROPERTIES LABELS "unit"
                     ENVIRONMENT "INGOT_NO_SIMD=1;${INGOT_GTEST_OUTPUT}/quant_int8_portable_test.xml")
add_test(NAME quant_int8_avx2_test COMMAND quant_int8_test --gtest_brief=1)
set_tests_properties(quant_int8_avx2_test PROPERTIES LABELS "unit"
                     ENVIRONMENT "INGOT_SIMD=avx2;${INGOT_GTEST_OUTPUT}/quant_int8_avx2_test.xml")

# The sorted act-order layout (GptqPackedKSorted): the spec example, dequantize and both products
# against float64 from the g_idx definition, the int8 dispatch, corrupt input orders refused.
ingot_add_test(NAME quant_sorted_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/quant_sorted_test.cpp LABELS "unit"
               LIBS ingot_kernels_cpu)
