// hessian.h's device side: H (or GPTAQ's cross term) as a device matrix updated with cuBLAS,
// f32 with TF32 off (CUBLAS_DEFAULT_MATH; cuBLAS uses TF32 only when asked), the batches
// uploaded as they come. The CPU's row-major products map onto cuBLAS's column-major ones: a
// row-major (k, in) x is the column-major (in, k) matrix X = xᵀ, and the row-major upper
// triangle of C is the column-major lower one.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "gptq/cuda_handles.h"
#include "gptq/hessian.h"

namespace ingot::compiler {

using format::fail;
using format::Status;
using format::StatusCode;

struct DeviceAccumulator {
  size_t in = 0;
  cudaStream_t stream = nullptr;  // the process's (cuda_handles.h); every call ends synchronized
  cublasHandle_t blas = nullptr;
  float* c = nullptr;             // (in, in)
  float* x = nullptr;             // a batch (capacity floats)
  float* dx = nullptr;            // GPTAQ: its difference (capacity floats)
  size_t capacity = 0;
  ~DeviceAccumulator() {
    cudaFree(c);
    cudaFree(x);
    cudaFree(dx);
  }
};

void DeviceAccumulatorDeleter::operator()(DeviceAccumulator* d) const { delete d; }

namespace {

Status cuda_ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::success();
  return fail(StatusCode::io_error, "Hessians on the device: ", what, ": ", cudaGetErrorString(e));
}
Status blas_ok(cublasStatus_t e, const char* what) {
  if (e == CUBLAS_STATUS_SUCCESS) return Status::success();
  return fail(StatusCode::io_error, "Hessians on the device: cuBLAS ", what, ": status ", int(e));
}

// Room for `count` floats of batch (and of its difference when `cross`).
Status reserve(DeviceAccumulator& d, size_t count, bool cross) {
  if (count <= d.capacity && (!cross || d.dx != nullptr)) return Status::success();
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaStreamSynchronize(d.stream), "synchronize"));
  const size_t want = std::max(count, d.capacity);
  cudaFree(d.x);
  cudaFree(d.dx);
  d.x = d.dx = nullptr;
  d.capacity = 0;
  const std::string bytes = std::to_string(want * sizeof(float));
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaMalloc(&d.x, want * sizeof(float)), ("a batch of " + bytes + " bytes").c_str()));
  if (cross) INGOT_RETURN_IF_ERROR(cuda_ok(cudaMalloc(&d.dx, want * sizeof(float)), "a batch's difference"));
  d.capacity = want;
  return Status::success();
}

}  // namespace

Status device_accumulator_create(size_t in, DeviceAccumulatorPtr* out) {
  CudaHandles* h = nullptr;
  INGOT_RETURN_IF_ERROR(cuda_handles(&h));
  DeviceAccumulatorPtr d(new DeviceAccumulator);
  d->in = in;
  d->stream = h->stream;
  d->blas = h->blas;
  const size_t bytes = std::max<size_t>(1, in * in) * sizeof(float);
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaMalloc(&d->c, bytes), ("the (in, in) matrix, " + std::to_string(bytes) + " bytes").c_str()));
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaMemsetAsync(d->c, 0, bytes, d->stream), "zero"));
  *out = std::move(d);
  return Status::success();
}

Status device_syrk(DeviceAccumulator& d, const float* x, size_t k, float alpha, float beta) {
  INGOT_RETURN_IF_ERROR(reserve(d, k * d.in, false));
  INGOT_RETURN_IF_ERROR(
      cuda_ok(cudaMemcpyAsync(d.x, x, k * d.in * sizeof(float), cudaMemcpyHostToDevice, d.stream), "upload"));
  const int n = int(d.in);
  // Column-major: C = alpha · X·Xᵀ + beta · C, X (in, k) = xᵀ; C's lower part = the row-major upper.
  INGOT_RETURN_IF_ERROR(
      blas_ok(cublasSsyrk(d.blas, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, n, int(k), &alpha, d.x, n, &beta, d.c, n),
              "ssyrk"));
  // The upload reads host memory the caller may reuse at once: wait for it.
  return cuda_ok(cudaStreamSynchronize(d.stream), "synchronize");
}

Status device_cross(DeviceAccumulator& d, const float* dx, const float* x, size_t k, float alpha, float beta) {
  INGOT_RETURN_IF_ERROR(reserve(d, k * d.in, true));
  const size_t bytes = k * d.in * sizeof(float);
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaMemcpyAsync(d.dx, dx, bytes, cudaMemcpyHostToDevice, d.stream), "upload"));
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaMemcpyAsync(d.x, x, bytes, cudaMemcpyHostToDevice, d.stream), "upload"));
  const int n = int(d.in);
  // Row-major C = alpha · dxᵀ·x + beta · C is column-major Cᵀ = alpha · X·DXᵀ + beta · Cᵀ.
  INGOT_RETURN_IF_ERROR(blas_ok(cublasSgemm(d.blas, CUBLAS_OP_N, CUBLAS_OP_T, n, n, int(k), &alpha, d.x, n, d.dx, n,
                                            &beta, d.c, n),
                                "sgemm"));
  return cuda_ok(cudaStreamSynchronize(d.stream), "synchronize");
}

Status device_read(DeviceAccumulator& d, float* c) {
  INGOT_RETURN_IF_ERROR(
      cuda_ok(cudaMemcpyAsync(c, d.c, d.in * d.in * sizeof(float), cudaMemcpyDeviceToHost, d.stream), "download"));
  return cuda_ok(cudaStreamSynchronize(d.stream), "synchronize");
}

}  // namespace ingot::compiler
