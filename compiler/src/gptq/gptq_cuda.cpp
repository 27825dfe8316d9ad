// GPTQ's factorization and column loop on the device (gptq_cuda.h). Mirrors gptq.cpp
// gptq_core's CPU branch step for step: inverse_factor's damp raises, GPTAQ's P, the blocks of
// bs columns with the lazy update of everything after each block.
#include "gptq/gptq_cuda.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "cuda/ops.h"
#include "gptq/cuda_handles.h"

namespace ingot::compiler {
namespace {

using format::fail;
using format::Status;
using format::StatusCode;

// The same limits as gptq.cpp's CPU factorization (kept equal by gptq_cuda_test).
constexpr int kMaxDampRaises = 6;
constexpr double kDampFromZero = 1e-3;
constexpr double kMinRelativePivot = 1e-10;

// Device memory of one call, freed on every return; counts what it holds at most.
class Arena {
 public:
  explicit Arena(cudaStream_t stream) : stream_(stream) {}
  // Nothing queued may still use a block when it is freed.
  ~Arena() {
    cudaStreamSynchronize(stream_);
    for (void* p : blocks_) cudaFree(p);
  }
  template <typename T>
  Status alloc(size_t count, const char* what, T** out) {
    void* p = nullptr;
    const size_t bytes = std::max<size_t>(1, count) * sizeof(T);
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      size_t free_b = 0, total_b = 0;
      cudaMemGetInfo(&free_b, &total_b);
      return fail(StatusCode::io_error, "gptq --device cuda: ", bytes, " bytes of device memory for ", what,
                  " did not fit (", held_, " held by this weight, ", free_b, " of ", total_b, " free): ",
                  cudaGetErrorString(e));
    }
    blocks_.push_back(p);
    sizes_.push_back(bytes);
    held_ += bytes;
    peak_ = std::max(peak_, held_);
    *out = static_cast<T*>(p);
    return Status::success();
  }
  void release(void* p) {
    for (size_t i = 0; i < blocks_.size(); ++i) {
      if (blocks_[i] != p) continue;
      cudaStreamSynchronize(stream_);
      cudaFree(p);
      held_ -= sizes_[i];
      blocks_.erase(blocks_.begin() + std::ptrdiff_t(i));
      sizes_.erase(sizes_.begin() + std::ptrdiff_t(i));
      return;
    }
  }
  size_t peak() const { return peak_; }

 private:
  cudaStream_t stream_;
  std::vector<void*> blocks_;
  std::vector<size_t> sizes_;
  size_t held_ = 0, peak_ = 0;
};

Status cuda_ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::success();
  return fail(StatusCode::io_error, "gptq --device cuda: ", what, ": ", cudaGetErrorString(e));
}
Status blas_ok(cublasStatus_t e, const char* what) {
  if (e == CUBLAS_STATUS_SUCCESS) return Status::success();
  return fail(StatusCode::io_error, "gptq --device cuda: cuBLAS ", what, ": status ", int(e));
}
Status solver_ok(cusolverStatus_t e, const char* what) {
  if (e == CUSOLVER_STATUS_SUCCESS) return Status::success();
  return fail(StatusCode::io_error, "gptq --device cuda: cuSOLVER ", what, ": status ", int(e));
}

template <typename T>
Status upload(T* d, const T* h, size_t count, cudaStream_t s) {
  return cuda_ok(cudaMemcpyAsync(d, h, count * sizeof(T), cudaMemcpyHostToDevice, s), "copy to device");
}
template <typename T>
Status download(T* h, const T* d, size_t count, cudaStream_t s) {
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaMemcpyAsync(h, d, count * sizeof(T), cudaMemcpyDeviceToHost, s), "copy to host"));
  return cuda_ok(cudaStreamSynchronize(s), "synchronize");
}

// inverse_factor (gptq.cpp) on the device: U (in, in) row-major in `u`.
Status inverse_factor_cuda(const CudaHandles& hd, Arena& arena, const float* d_h, size_t n, const QuantConfig& c,
                           const std::vector<float>& hp, double* u, float* damp_used, int* damp_raises) {
  double mean_diag = 0.0, max_diag = 0.0;
  for (size_t i = 0; i < n; ++i) {
    mean_diag += hp[i * n + i];
    max_diag = std::max(max_diag, double(hp[i * n + i]));
  }
  mean_diag /= double(n);
  const int ni = int(n);
  double* b = nullptr;
  int32_t* info = nullptr;
  INGOT_RETURN_IF_ERROR(arena.alloc(n * n, "the factorization", &b));
  INGOT_RETURN_IF_ERROR(arena.alloc(2, "the factorization's status", &info));
  int lwork = 0;
  INGOT_RETURN_IF_ERROR(solver_ok(cusolverDnDpotrf_bufferSize(hd.solver, CUBLAS_FILL_MODE_LOWER, ni, b, ni, &lwork),
                                  "potrf workspace"));
  size_t trtri_dev = 0, trtri_host = 0;
  INGOT_RETURN_IF_ERROR(solver_ok(cusolverDnXtrtri_bufferSize(hd.solver, CUBLAS_FILL_MODE_LOWER,
                                                              CUBLAS_DIAG_NON_UNIT, int64_t(n), CUDA_R_64F, b,
                                                              int64_t(n), &trtri_dev, &trtri_host),
                                  "trtri workspace"));
  double* work = nullptr;
  uint8_t* trtri_work = nullptr;
  INGOT_RETURN_IF_ERROR(arena.alloc(size_t(std::max(lwork, 1)), "the factorization's workspace", &work));
  INGOT_RETURN_IF_ERROR(arena.alloc(std::max<size_t>(trtri_dev, 1), "the inversion's workspace", &trtri_work));
  std::vector<uint8_t> trtri_host_work(std::max<size_t>(trtri_host, 1));
  std::vector<double> diag(n);

  double pd = c.damp;
  const int max_raises =
      c.damp_auto ? std::max(0, int(std::ceil((1.0 - pd) / double(c.damp_auto_increment)))) : kMaxDampRaises;
  for (int raise = 0; raise <= max_raises; ++raise) {
    if (raise > 0) pd = c.damp_auto ? pd + double(c.damp_auto_increment) : pd > 0.0 ? pd * 10.0 : kDampFromZero;
    const double damp = pd * mean_diag;
    INGOT_RETURN_IF_ERROR(cuda_ok(cuda::gptq_reversed_damped(d_h, uint32_t(n), damp, b, hd.stream), "damped H"));
    INGOT_RETURN_IF_ERROR(solver_ok(
        cusolverDnDpotrf(hd.solver, CUBLAS_FILL_MODE_LOWER, ni, b, ni, work, lwork, info), "potrf"));
    int32_t h_info = 0;
    INGOT_RETURN_IF_ERROR(download(&h_info, info, 1, hd.stream));
    if (h_info != 0) continue;  // not positive definite (or a bad argument): raise
    // The pivot test: min pivot² ≥ 1e-10 · (max diag + damp), the diagonal read with one
    // strided copy.
    INGOT_RETURN_IF_ERROR(cuda_ok(cudaMemcpy2DAsync(diag.data(), sizeof(double), b, (n + 1) * sizeof(double),
                                                    sizeof(double), n, cudaMemcpyDeviceToHost, hd.stream),
                                  "pivots"));
    INGOT_RETURN_IF_ERROR(cuda_ok(cudaStreamSynchronize(hd.stream), "synchronize"));
    double min_pivot2 = INFINITY;
    for (double v : diag) min_pivot2 = std::min(min_pivot2, v * v);
    if (!(min_pivot2 >= kMinRelativePivot * (max_diag + damp))) continue;
    INGOT_RETURN_IF_ERROR(solver_ok(cusolverDnXtrtri(hd.solver, CUBLAS_FILL_MODE_LOWER, CUBLAS_DIAG_NON_UNIT,
                                                     int64_t(n), CUDA_R_64F, b, int64_t(n), trtri_work, trtri_dev,
                                                     trtri_host_work.data(), trtri_host, info),
                                    "trtri"));
    INGOT_RETURN_IF_ERROR(download(&h_info, info, 1, hd.stream));
    if (h_info != 0) continue;
    INGOT_RETURN_IF_ERROR(cuda_ok(cudaMemsetAsync(info + 1, 0, sizeof(int32_t), hd.stream), "flag"));
    INGOT_RETURN_IF_ERROR(cuda_ok(cuda::gptq_upper_from_reversed(b, uint32_t(n), u, info + 1, hd.stream), "U"));
    int32_t bad = 0;
    INGOT_RETURN_IF_ERROR(download(&bad, info + 1, 1, hd.stream));
    if (bad != 0) continue;
    *damp_used = float(pd);
    *damp_raises = raise;
    arena.release(b);
    arena.release(work);
    arena.release(trtri_work);
    return Status::success();
  }
  return fail(StatusCode::invalid_argument, "gptq: H + damp·I is not positive definite even after ", max_raises,
              " raises of the damp (", c.damp_auto ? "+ damp_auto_increment" : "x10", " each, last percdamp ", pd,
              ", mean diag(H) ", mean_diag, "); H is not a Gram matrix or holds too few samples");
}

}  // namespace

Status cuda_handles(CudaHandles** out) {
  static CudaHandles* made = nullptr;
  static Status failed = Status::success();
  if (made == nullptr && failed.ok()) {
    auto h = std::make_unique<CudaHandles>();
    failed = [&]() -> Status {
      int n = 0;
      const cudaError_t probe = cudaGetDeviceCount(&n);
      if (probe != cudaSuccess || n == 0) {
        return fail(StatusCode::invalid_argument, "--device cuda: no CUDA device (",
                    probe != cudaSuccess ? cudaGetErrorString(probe) : "none found", "); use --device cpu");
      }
      INGOT_RETURN_IF_ERROR(cuda_ok(cudaSetDevice(0), "cudaSetDevice"));
      INGOT_RETURN_IF_ERROR(cuda_ok(cudaStreamCreateWithFlags(&h->stream, cudaStreamNonBlocking), "stream"));
      INGOT_RETURN_IF_ERROR(blas_ok(cublasCreate(&h->blas), "create"));
      INGOT_RETURN_IF_ERROR(blas_ok(cublasSetStream(h->blas, h->stream), "stream"));
      INGOT_RETURN_IF_ERROR(blas_ok(cublasSetMathMode(h->blas, CUBLAS_DEFAULT_MATH), "math mode"));
      INGOT_RETURN_IF_ERROR(solver_ok(cusolverDnCreate(&h->solver), "create"));
      return solver_ok(cusolverDnSetStream(h->solver, h->stream), "stream");
    }();
    if (failed.ok()) made = h.release();  // kept to the process's exit (cuda_handles.h)
  }
  if (!failed.ok()) return failed;
  *out = made;
  return Status::success();
}

bool gptq_cuda_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

Status gptq_columns_cuda(DeviceColumns& d, float* damp_used, int* damp_raises, size_t* peak_bytes) {
  int n_dev = 0;
  const cudaError_t probe = cudaGetDeviceCount(&n_dev);
  if (probe != cudaSuccess || n_dev == 0) {
    return fail(StatusCode::invalid_argument, "gptq --device cuda: no CUDA device (",
                probe != cudaSuccess ? cudaGetErrorString(probe) : "none found", "); use --device cpu");
  }
  const QuantConfig& c = d.config;
  const size_t out = d.out, in = d.in;
  if (out > UINT32_MAX || in > uint32_t(INT32_MAX)) {
    return fail(StatusCode::invalid_argument, "gptq --device cuda: weight (", out, ", ", in, ") too large");
  }
  CudaHandles* handles = nullptr;
  INGOT_RETURN_IF_ERROR(cuda_handles(&handles));
  const CudaHandles& hd = *handles;
  Arena arena(hd.stream);

  float* d_h = nullptr;
  double* d_u = nullptr;
  INGOT_RETURN_IF_ERROR(arena.alloc(in * in, "H", &d_h));
  INGOT_RETURN_IF_ERROR(arena.alloc(in * in, "the inverse factor U", &d_u));
  INGOT_RETURN_IF_ERROR(upload(d_h, d.hp.data(), in * in, hd.stream));
  INGOT_RETURN_IF_ERROR(inverse_factor_cuda(hd, arena, d_h, in, c, d.hp, d_u, damp_used, damp_raises));
  arena.release(d_h);

  const int ni = int(in);
  double* d_p = nullptr;
  if (!d.dp.empty()) {
    // P = α · triu₁(D · Uᵀ) · U, row-major; cuBLAS is column-major, where a row-major X reads as
    // Xᵀ: stored(D · Uᵀ) = U · Dᵀ = op_T(stored U) · stored D, stored(T · U) = stored U · stored T.
    double *d_d = nullptr, *d_a = nullptr;
    INGOT_RETURN_IF_ERROR(arena.alloc(in * in, "GPTAQ's D", &d_d));
    INGOT_RETURN_IF_ERROR(arena.alloc(in * in, "GPTAQ's D·Uᵀ", &d_a));
    INGOT_RETURN_IF_ERROR(upload(d_d, d.dp.data(), in * in, hd.stream));
    const double one = 1.0, zero = 0.0, alpha = double(c.gptaq_alpha);
    INGOT_RETURN_IF_ERROR(blas_ok(
        cublasDgemm(hd.blas, CUBLAS_OP_T, CUBLAS_OP_N, ni, ni, ni, &one, d_u, ni, d_d, ni, &zero, d_a, ni), "D·Uᵀ"));
    INGOT_RETURN_IF_ERROR(cuda_ok(cuda::gptq_strict_upper(d_a, uint32_t(in), hd.stream), "triu"));
    arena.release(d_d);
    INGOT_RETURN_IF_ERROR(arena.alloc(in * in, "GPTAQ's P", &d_p));
    INGOT_RETURN_IF_ERROR(blas_ok(
        cublasDgemm(hd.blas, CUBLAS_OP_N, CUBLAS_OP_N, ni, ni, ni, &alpha, d_u, ni, d_a, ni, &zero, d_p, ni), "P"));
    arena.release(d_a);
  }

  const bool grouped = c.group_size != -1;
  const size_t g = grouped ? size_t(c.group_size) : in;
  const size_t n_groups = (in + g - 1) / g;
  const size_t bs = std::min(size_t(c.block_size), in);
  cuda::GptqColumns k{};
  double* d_w = nullptr;
  INGOT_RETURN_IF_ERROR(arena.alloc(out * in, "the weights", &d_w));
  INGOT_RETURN_IF_ERROR(upload(d_w, d.wp.data(), out * in, hd.stream));
  k.w = d_w;
  k.hinv = d_u;
  k.pmat = d_p;
  if (c.foem_beta != 0.0f) {
    double* d_fp = nullptr;
    INGOT_RETURN_IF_ERROR(arena.alloc(out * in, "FOEM's full-precision weights", &d_fp));
    INGOT_RETURN_IF_ERROR(upload(d_fp, d.wp.data(), out * in, hd.stream));
    k.wfp = d_fp;
  }
  double* d_hdiag = nullptr;
  int32_t* d_perm = nullptr;
  cuda::QParams* d_params = nullptr;
  uint8_t* d_q = nullptr;
  double *d_err = nullptr, *d_xval = nullptr, *d_gbuf = nullptr, *d_loss = nullptr;
  INGOT_RETURN_IF_ERROR(arena.alloc(in, "diag(H)", &d_hdiag));
  INGOT_RETURN_IF_ERROR(arena.alloc(in, "the permutation", &d_perm));
  INGOT_RETURN_IF_ERROR(arena.alloc(n_groups * out, "the grids", &d_params));
  INGOT_RETURN_IF_ERROR(arena.alloc(out * in, "the integers", &d_q));
  INGOT_RETURN_IF_ERROR(arena.alloc(out * bs, "the block's errors", &d_err));
  if (d_p != nullptr) INGOT_RETURN_IF_ERROR(arena.alloc(out * bs, "the block's weights (GPTAQ)", &d_xval));
  if (grouped && !c.static_groups) INGOT_RETURN_IF_ERROR(arena.alloc(out * g, "the group values", &d_gbuf));
  INGOT_RETURN_IF_ERROR(arena.alloc(out, "the row losses", &d_loss));
  INGOT_RETURN_IF_ERROR(upload(d_hdiag, d.hdiag_p.data(), in, hd.stream));
  INGOT_RETURN_IF_ERROR(upload(d_perm, d.perm.data(), in, hd.stream));
  INGOT_RETURN_IF_ERROR(upload(d_params, d.params.data(), n_groups * out, hd.stream));
  INGOT_RETURN_IF_ERROR(cuda_ok(cudaMemsetAsync(d_loss, 0, out * sizeof(double), hd.stream), "losses"));
  k.hdiag = d_hdiag;
  k.perm = d_perm;
  k.params = d_params;
  k.q = d_q;
  k.err = d_err;
  k.xval = d_xval;
  k.gbuf = d_gbuf;
  k.row_loss = d_loss;
  k.out = uint32_t(out);
  k.in = uint32_t(in);
  k.bs = uint32_t(bs);
  k.group_size = grouped ? int32_t(g) : -1;
  k.static_groups = grouped && c.static_groups;
  k.sym = c.sym;
  k.grid = c.grid == GridSearch::minmax ? cuda::Grid::minmax
           : c.grid == GridSearch::mse  ? cuda::Grid::mse
                                        : cuda::Grid::hessian;
  k.n_try = int32_t(double(c.grid_maxshrink) * double(c.grid_points));
  k.grid_points = c.grid_points;
  k.norm = double(c.grid_norm);
  k.maxq = double((1 << c.bits) - 1);
  k.beta = double(c.foem_beta);

  // The blocks, each followed by the lazy update of the columns after it:
  // W[:, i2:] −= Err · U[i1:i2, i2:] (and += X · P[i1:i2, i2:] for GPTAQ), as column-major
  // products on the row-major arrays: stored(W[:, i2:]) −= stored(U[i1:i2, i2:]) · stored(Err).
  const double minus_one = -1.0, one = 1.0;
  for (size_t i1 = 0; i1 < in; i1 += bs) {
    const size_t i2 = std::min(i1 + bs, in), count = i2 - i1;
    INGOT_RETURN_IF_ERROR(cuda_ok(cuda::gptq_block(k, uint32_t(i1), uint32_t(count), hd.stream), "column loop"));
    if (i2 == in) break;
    const int rest = int(in - i2);
    INGOT_RETURN_IF_ERROR(blas_ok(cublasDgemm(hd.blas, CUBLAS_OP_N, CUBLAS_OP_N, rest, int(out), int(count),
                                              &minus_one, d_u + i1 * in + i2, ni, d_err, int(bs), &one, d_w + i2, ni),
                                  "lazy update"));
    if (d_p != nullptr) {
      INGOT_RETURN_IF_ERROR(blas_ok(cublasDgemm(hd.blas, CUBLAS_OP_N, CUBLAS_OP_N, rest, int(out), int(count), &one,
                                                d_p + i1 * in + i2, ni, d_xval, int(bs), &one, d_w + i2, ni),
                                    "GPTAQ's lazy update"));
    }
  }
  INGOT_RETURN_IF_ERROR(download(d.qp.data(), d_q, out * in, hd.stream));
  INGOT_RETURN_IF_ERROR(download(d.params.data(), d_params, n_groups * out, hd.stream));
  INGOT_RETURN_IF_ERROR(download(d.row_loss.data(), d_loss, out, hd.stream));
  *peak_bytes = arena.peak();
  return Status::success();
}

}  // namespace ingot::compiler
