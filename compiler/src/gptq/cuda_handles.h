// The CUDA stream and the cuBLAS / cuSOLVER handles of ingotc's device work (gptq_cuda.cpp,
// hessian_cuda.cpp), made once per process on device 0 and kept to the end: a handle costs
// milliseconds to make, and a 7B model has hundreds of weights and Hessians. They are left to the
// process's exit on purpose (destroying them from a static destructor can run after the CUDA
// runtime has shut down). CUDA builds only.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include "ingot/format/status.h"

namespace ingot::compiler {

struct CudaHandles {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;  // on `stream`, CUBLAS_DEFAULT_MATH (no TF32)
  cusolverDnHandle_t solver = nullptr;  // on `stream`
};

// The process's handles; fails (and keeps failing, with the same message) when there is no
// device or a handle cannot be made.
format::Status cuda_handles(CudaHandles** out);

}  // namespace ingot::compiler
