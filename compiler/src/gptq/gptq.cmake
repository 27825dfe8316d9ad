# GPTQ / RTN quantizers and the Hessian accumulator (BLAS for the products, LAPACKE for Cholesky).
find_package(OpenMP REQUIRED COMPONENTS CXX)
pkg_check_modules(INGOT_GPTQ_LAPACK REQUIRED IMPORTED_TARGET GLOBAL lapacke openblas)

target_sources(ingot_compiler PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gptq.cpp
  ${CMAKE_CURRENT_LIST_DIR}/hessian.cpp)
# PUBLIC: users of the quantizers (tests, bench) set BLAS and OpenMP threads.
target_link_libraries(ingot_compiler PUBLIC PkgConfig::INGOT_GPTQ_LAPACK OpenMP::OpenMP_CXX)
