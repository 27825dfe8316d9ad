# The CUDA kernels' arithmetic and launch configurations, on the host: built and run everywhere,
# with or without nvcc (the .cuh headers compile as plain C++).
ingot_add_test(NAME cuda_math_test SOURCES cuda/cuda_math_test.cpp LABELS "unit" LIBS ingot_kernels_cpu)

if(INGOT_HAVE_CUDA)
  # Every kernel against the CPU reference; stories260K end to end. Skipped (not passed) without a device.
  ingot_add_test(NAME cuda_kernels_test SOURCES gpu/cuda_kernels_test.cpp LABELS "gpu"
                 LIBS ingot_kernels_cuda ingot_kernels_cpu CUDA::cudart)
  set_tests_properties(cuda_kernels_test PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  ingot_add_test(NAME cuda_backend_test SOURCES gpu/cuda_backend_test.cpp LABELS "gpu;model"
                 LIBS ingot_compiler ingot_runtime ingot_kernels_cuda ingot_test_support)
  set_tests_properties(cuda_backend_test PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  # GPTQ's device path (ingotc --device cuda) against the CPU quantizer on random layers.
  ingot_add_test(NAME gptq_cuda_test SOURCES gpu/gptq_cuda_test.cpp LABELS "gpu" LIBS ingot_compiler)
  set_tests_properties(gptq_cuda_test PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
  # Compiles every kernels/cuda/*.cu for sm_80 and sm_90, warnings as errors, and fails on
  # register spills or local memory (kernels/cuda/ptxas_check.cmake).
  add_test(NAME cuda_ptxas_check
           COMMAND ${CMAKE_COMMAND} -DNVCC=${CMAKE_CUDA_COMPILER} -DSOURCE_DIR=${PROJECT_SOURCE_DIR}/kernels
                   -DARCHS=80,90 -DWORK=${CMAKE_CURRENT_BINARY_DIR}/ptxas_check
                   -P ${PROJECT_SOURCE_DIR}/kernels/cuda/ptxas_check.cmake)
  set_tests_properties(cuda_ptxas_check PROPERTIES LABELS "unit;cuda" TIMEOUT 1200)
  ingot_test_needs(LABELS unit cuda TARGETS ingot_kernels_cuda)
endif()
