# GPTQ / RTN quantizers and the Hessian accumulator (BLAS for the products, LAPACKE for Cholesky),
# the calibration loader and the model-level driver (docs/gptq.md).
find_package(OpenMP REQUIRED COMPONENTS CXX)
pkg_check_modules(INGOT_GPTQ_LAPACK REQUIRED IMPORTED_TARGET GLOBAL lapacke openblas)

target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gptq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hessian.cpp
  ${CMAKE_CURRENT_LIST_DIR}/calibration.cpp
  ${CMAKE_CURRENT_LIST_DIR}/quantize_model.cpp)
# The device half of GPTQ (--device cuda): cuSOLVER for the factorization, cuBLAS for the products,
# our column-loop kernel (kernels/cuda/gptq_columns.cu); without CUDA a stub that refuses it.
if(INGOT_HAVE_CUDA)
  target_sources(ingot_compiler PRIVATE ${CMAKE_CURRENT_LIST_DIR}/gptq_cuda.cpp ${CMAKE_CURRENT_LIST_DIR}/hessian_cuda.cpp)
  target_link_libraries(ingot_compiler PRIVATE ingot_kernels_cuda CUDA::cudart CUDA::cublas CUDA::cusolver)
else()
  target_sources(ingot_compiler PRIVATE ${CMAKE_CURRENT_LIST_DIR}/gptq_cuda_stub.cpp
                 ${CMAKE_CURRENT_LIST_DIR}/hessian_cuda_stub.cpp)
endif()
# PUBLIC: users of the quantizers (tests, bench) set BLAS and OpenMP threads.
target_link_libraries(ingot_compiler PUBLIC PkgConfig::INGOT_GPTQ_LAPACK OpenMP::OpenMP_CXX)
# The calibration tokenizer and the layer forward reuse the runtime's tokenizer and CPU kernels.
target_link_libraries(ingot_compiler PUBLIC ingot_runtime ingot_kernels_cpu)
