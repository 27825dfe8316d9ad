# GPTQ / RTN quantizers and the Hessian accumulator (BLAS for the products, LAPACKE for Cholesky),
# the calibration loader and the model-level driver (docs/gptq.md).
find_package(OpenMP REQUIRED COMPONENTS CXX)
pkg_check_modules(INGOT_GPTQ_LAPACK REQUIRED IMPORTED_TARGET GLOBAL lapacke openblas)

target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gptq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hessian.cpp
  ${CMAKE_CURRENT_LIST_DIR}/calibration.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantize_model.cpp)
# PUBLIC: users of the quantizers (tests, bench) set BLAS and OpenMP threads.
target_link_libraries(ingot_compiler PUBLIC PkgConfig::INGOT_GPTQ_LAPACK OpenMP::OpenMP_CXX)
# The calibration tokenizer and the layer forward reuse the runtime's tokenizer and CPU kernels.
target_link_libraries(ingot_compiler PUBLIC ingot_runtime ingot_kernels_cpu)
