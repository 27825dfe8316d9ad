# GPTQ / RTN against a float64 unblocked reference written in the test.
ingot_add_test(NAME gptq_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/gptq_test.cpp LABELS "unit" LIBS ingot_compiler TIMEOUT 300)
