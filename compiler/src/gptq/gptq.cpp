// GPTQ and RTN for one linear layer. Read against IST-DASLab/gptq gptq.py `fasterquant` and
// quant.py `Quantizer.find_params` / `quantize` (see gptq.h); this is an independent C++ version.
//
// Layout of the work: every output channel (row of W) is quantized independently given Hinv, so
// fixed chunks of rows run the whole column loop each on one OpenMP thread: per block, the
// per-column loop row by row, then the lazy update of the chunk's later columns as one dgemm
// (rows × count × rest). Nothing is reduced across rows, so results do not depend on the thread
// count.
//
// Precision: H is accumulated in f32 (hessian.cpp, as the reference); from there on — Cholesky,
// the weights being updated, the errors, the group parameters — the work is in double, and only
// the results (scales, dequantized weights) are rounded to f32. The reference runs in f32, whose
// rounding of the updated weights is a sizeable part of an 8-bit error (|w − q| ≈ |w|/500): in
// double, integers and loss match the paper's algorithm evaluated in f64 to ~1e-9 instead of
// ~1e-5, for about twice the time of f32 lazy updates (docs/gptq.md).
#include "gptq/gptq.h"
#include "gptq/gptq_cuda.h"

#include <cblas.h>
#include <lapacke.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <climits>
#include <numeric>

#include "cuda/gptq_math.cuh"

namespace ingot::compiler {
namespace {

using format::fail;
using format::Status;
using format::StatusCode;

// Damp raises before giving up: 0.01 → 0.1 → … → 1e4 · mean(diag(H)).
constexpr int kMaxDampRaises = 6;
// A start of 0 cannot be multiplied up; the first raise goes here (a tenth of the reference's
// default percdamp).
constexpr double kDampFromZero = 1e-3;
// The Cholesky runs in double (more stable than the reference's f32), so a singular H that f32
// would reject can pass with pivots at double rounding level (≈ n · 1e-16 · max diag). Such a
// factor is useless to the updates; below this relative pivot² the matrix counts as not
// positive definite and the damp is raised. Damped matrices sit far above it: pivot² ≥ damp ≥
// percdamp · max_diag / in (1e-6 · max_diag for percdamp 0.01, in = 11008).
constexpr double kMinRelativePivot = 1e-10;
// Output rows per unit of parallel work (see the main loop).
constexpr size_t kRowChunk = 128;

class BlasSingleThreaded {
 public:
  BlasSingleThreaded() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~BlasSingleThreaded() { openblas_set_num_threads(saved_); }
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;

 private:
  int saved_;
};

using Params = cuda::QParams;
using cuda::dequantize;
using cuda::find_range;
using cuda::params_of_range;
using cuda::quantize_int;

// The value a kernel computes from the stored results: f32 scale · (q − zero), in f32.
inline float stored_dequantize(uint8_t q, const Params& p) { return float(p.scale) * (float(q) - float(p.zero)); }

// The params of one channel's group x[0, n) under config.grid. hdiag[0, n): diag(H) at the same
// columns (used by GridSearch::hessian only).
// mse: quant.py find_params with mse=True (IST-DASLab gptq): from the min/max range, try
// p = 1 − i/grid for i in [0, ⌊maxshrink·grid⌋), range [p·xmin, p·xmax], and keep the first p
// with the least Σ |w − q|^norm (a strictly smaller error replaces the best, so ties keep the wider
// range). hessian: the same candidates, error Σ diag(H)_c · (w_c − q_c)².
// Deviation: the asymmetric zero of a candidate is clamped to [0, maxq] as find_params' is above
// (quant.py leaves it unclamped; it is in range unless rounding pushes it out).
// The arithmetic is kernels/cuda/gptq_math.cuh's, which the device quantizer runs too.
template <typename T>
Params choose_params(const T* x, size_t n, const double* hdiag, double maxq, const QuantConfig& c) {
  double xmin, xmax;
  find_range(x, uint32_t(n), c.sym, &xmin, &xmax);
  Params best = params_of_range(xmin, xmax, maxq, c.sym);
  if (c.grid == GridSearch::minmax) return best;
  const int n_try = int(double(c.grid_maxshrink) * double(c.grid_points));
  const cuda::Grid grid = c.grid == GridSearch::mse ? cuda::Grid::mse : cuda::Grid::hessian;
  double best_err = INFINITY;
  for (int i = 0; i < n_try; ++i) {
    const Params cand = cuda::candidate_params(i, xmin, xmax, maxq, c.sym, c.grid_points);
    const double err = cuda::candidate_error(x, uint32_t(n), hdiag, cand, maxq, grid, double(c.grid_norm));
    if (err < best_err) {
      best_err = err;
      best = cand;
    }
  }
  return best;
}

Status validate(const float* W, size_t out, size_t in, const QuantConfig& c, QuantResult* result) {
  if (!result) return fail(StatusCode::invalid_argument, "quantize: result is null");
  if (!W) return fail(StatusCode::invalid_argument, "quantize: W is null");
  if (out == 0 || in == 0) return fail(StatusCode::invalid_argument, "quantize: empty weight (", out, ", ", in, ")");
  if (out > size_t(INT_MAX) || in > size_t(INT_MAX))
    return fail(StatusCode::invalid_argument, "quantize: weight (", out, ", ", in, ") exceeds BLAS int dimensions");
  if (c.bits < 1 || c.bits > 8) return fail(StatusCode::invalid_argument, "quantize: bits ", c.bits, " not in [1, 8]");
  if (c.group_size != -1 && c.group_size < 1)
    return fail(StatusCode::invalid_argument, "quantize: group_size ", c.group_size, " (need -1 or >= 1)");
  if (c.block_size < 1) return fail(StatusCode::invalid_argument, "quantize: block_size ", c.block_size, " < 1");
  if (!std::isfinite(c.damp) || c.damp < 0.0f)
    return fail(StatusCode::invalid_argument, "quantize: damp ", c.damp, " (need a finite value >= 0)");
  if (c.grid != GridSearch::minmax) {
    if (c.grid_points < 1 || c.grid_points > 100000)
      return fail(StatusCode::invalid_argument, "quantize: grid_points ", c.grid_points, " not in [1, 100000]");
    if (!(c.grid_maxshrink > 0.0f && c.grid_maxshrink <= 1.0f))
      return fail(StatusCode::invalid_argument, "quantize: grid_maxshrink ", c.grid_maxshrink, " not in (0, 1]");
    if (!(std::isfinite(c.grid_norm) && c.grid_norm > 0.0f))
      return fail(StatusCode::invalid_argument, "quantize: grid_norm ", c.grid_norm, " (need a finite value > 0)");
  }
  if (c.damp_auto && !(std::isfinite(c.damp_auto_increment) && c.damp_auto_increment > 0.0f &&
                       c.damp_auto_increment < 1.0f))
    return fail(StatusCode::invalid_argument, "quantize: damp_auto_increment ", c.damp_auto_increment,
                " not in (0, 1)");
  for (float d : c.damp_choices)
    if (!std::isfinite(d) || d < 0.0f)
      return fail(StatusCode::invalid_argument, "quantize: damp choice ", d, " (need finite values >= 0)");
  if (!std::isfinite(c.gptaq_alpha))
    return fail(StatusCode::invalid_argument, "quantize: gptaq_alpha ", c.gptaq_alpha, " is not finite");
  if (!(c.foem_beta >= 0.0f && c.foem_beta <= 1.0f))
    return fail(StatusCode::invalid_argument, "quantize: foem_beta ", c.foem_beta, " not in [0, 1]");
  for (size_t i = 0; i < out * in; ++i)
    if (!std::isfinite(W[i]))
      return fail(StatusCode::invalid_argument, "quantize: W[", i / in, "][", i % in, "] is not finite");
  return Status::success();
}

// Group count and width: group_size -1 is one group per output channel spanning all columns.
size_t group_width(const QuantConfig& c, size_t in) { return c.group_size == -1 ? in : size_t(c.group_size); }
size_t n_groups_of(const QuantConfig& c, size_t in) {
  const size_t g = group_width(c, in);
  return (in + g - 1) / g;
}

// H (n, n) permuted, f32 → the upper Cholesky factor U of (H + damp·I)⁻¹ (H⁻¹ = UᵀU) in double,
// strictly lower part zero: the Hinv of the reference's cholesky → cholesky_inverse →
// cholesky(upper).
// Deviation (same U in exact arithmetic, half the flops, more digits): in double, and by the
// reverse-order factorization instead of three factorizations. With J the reversal permutation
// and J·A·J = L̃L̃ᵀ (one dpotrf), A = ŨŨᵀ with Ũ = J·L̃·J upper triangular, so
// A⁻¹ = (Ũ⁻¹)ᵀ(Ũ⁻¹) and U = Ũ⁻¹ = J·L̃⁻¹·J (one dtrtri): n³/3 + n³/3 flops against the
// reference's n³/3 + 2n³/3 + n³/3. U has a positive diagonal, so it is the unique factor.
// The reference (and the GPU path) work in f32 throughout.
// Damp raises: x10 each (kMaxDampRaises of them), or with damp_auto + increment each until the
// relative damp would pass 1 (GPTQModel's damp_auto_increment).
Status inverse_factor(const std::vector<float>& H, size_t n, float percdamp, const QuantConfig& c,
                      std::vector<double>* hinv, float* damp_used, int* damp_raises) {
  double mean_diag = 0.0, max_diag = 0.0;
  for (size_t i = 0; i < n; ++i) {
    mean_diag += H[i * n + i];
    max_diag = std::max(max_diag, double(H[i * n + i]));
  }
  mean_diag /= double(n);

  // b: (n, n) column-major, b[i + j·n] = (J·A·J)[i][j] = A[n−1−i][n−1−j], lower triangle used.
  // Column-major so that LAPACKE makes no transposed copy.
  std::vector<double> b(n * n);
  double pd = percdamp;
  const int ni = int(n);
  const int max_raises =
      c.damp_auto ? std::max(0, int(std::ceil((1.0 - pd) / double(c.damp_auto_increment)))) : kMaxDampRaises;
  for (int raise = 0; raise <= max_raises; ++raise) {
    if (raise > 0) pd = c.damp_auto ? pd + double(c.damp_auto_increment) : pd > 0.0 ? pd * 10.0 : kDampFromZero;
    const double damp = pd * mean_diag;
    for (size_t j = 0; j < n; ++j) {
      // Column j for rows i >= j is row n−1−j of A (symmetric) read backwards, contiguously.
      const float* arow = H.data() + (n - 1 - j) * n;
      double* bcol = b.data() + j * n;
      for (size_t i = j; i < n; ++i) bcol[i] = arow[n - 1 - i];
      bcol[j] += damp;
    }
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', ni, b.data(), ni) != 0) continue;  // J·A·J = L̃L̃ᵀ
    double min_pivot2 = INFINITY;
    for (size_t i = 0; i < n; ++i) min_pivot2 = std::min(min_pivot2, b[i * n + i] * b[i * n + i]);
    if (!(min_pivot2 >= kMinRelativePivot * (max_diag + damp))) continue;
    if (LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'L', 'N', ni, b.data(), ni) != 0) continue;  // L̃⁻¹
    // U[i][j] = L̃⁻¹[n−1−i][n−1−j] for j >= i: column j of U is column n−1−j of L̃⁻¹ reversed,
    // contiguous in b.
    bool finite = true;
    hinv->assign(n * n, 0.0);
    for (size_t j = 0; j < n && finite; ++j) {
      const double* bcol = b.data() + (n - 1 - j) * n;  // column n−1−j of L̃⁻¹
      for (size_t i = 0; i <= j; ++i) {
        const double v = bcol[n - 1 - i];
        if (!std::isfinite(v) || (i == j && !(v > 0.0))) {
          finite = false;
          break;
        }
        (*hinv)[i * n + j] = v;
      }
    }
    if (!finite) continue;
    *damp_used = float(pd);
    *damp_raises = raise;
    return Status::success();
  }
  return fail(StatusCode::invalid_argument, "gptq: H + damp·I is not positive definite even after ", max_raises,
              " raises of the damp (", c.damp_auto ? "+ damp_auto_increment" : "x10", " each, last percdamp ", pd,
              ", mean diag(H) ", mean_diag, "); H is not a Gram matrix or holds too few samples");
}

// One GPTQ (or GPTAQ, with dxxt) run at config.damp; the arguments are validated.
Status gptq_core(const float* W, size_t out, size_t in, std::vector<float> H, const QuantConfig& config,
                 QuantResult* result, const float* dxxt) {
  const double maxq = double((1 << config.bits) - 1);
  const bool grouped = config.group_size != -1;
  const bool static_groups = grouped && config.static_groups;  // the reference needs a group size
  const size_t g = group_width(config, in);
  const size_t n_groups = n_groups_of(config, in);
  QuantResult& res = *result;
  res = QuantResult{};
  res.scales.assign(n_groups * out, 0.0f);
  res.zeros.assign(n_groups * out, 0);
  std::vector<Params> params(n_groups * out);  // (n_groups, out)

  std::vector<double> w(W, W + out * in);  // (out, in) working copy, original column order

  // diag(H) in the original column order: the weights of the Hessian grid search.
  std::vector<double> hdiag(in);
  for (size_t i = 0; i < in; ++i) hdiag[i] = H[i * in + i];

  // Per-channel params come from the original W, before dead columns are zeroed (the reference
  // calls find_params(W) first).
  if (!grouped)
    for (size_t r = 0; r < out; ++r) params[r] = choose_params(w.data() + r * in, in, hdiag.data(), maxq, config);

  // Dead inputs (never nonzero in the calibration data): H[i][i] = 1, W[:, i] = 0.
  std::vector<bool> dead(in, false);
  for (size_t i = 0; i < in; ++i) {
    if (H[i * in + i] != 0.0f) continue;
    dead[i] = true;
    H[i * in + i] = 1.0f;
    hdiag[i] = 1.0;
    for (size_t r = 0; r < out; ++r) w[r * in + i] = 0.0;
  }

  // Static groups: every group's params from the unpermuted W after the dead-column fix.
  if (static_groups)
    for (size_t k = 0; k < n_groups; ++k) {
      const size_t c0 = k * g, n = std::min(g, in - c0);
      for (size_t r = 0; r < out; ++r)
        params[k * out + r] = choose_params(w.data() + r * in + c0, n, hdiag.data() + c0, maxq, config);
    }

  // Act-order: columns by decreasing diag(H). Deviation: ties keep their original order (a stable
  // sort); torch.argsort(descending=True) is not stable, so its tie order is unspecified.
  std::vector<int32_t> perm(in);
  std::iota(perm.begin(), perm.end(), 0);
  if (config.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int32_t a, int32_t b) { return H[size_t(a) * in + a] > H[size_t(b) * in + b]; });

  // Permuted copies: wp (out, in) and hp (in, in); H itself is released early (it is large).
  std::vector<double> wp(out * in);
  for (size_t r = 0; r < out; ++r)
    for (size_t i = 0; i < in; ++i) wp[r * in + i] = w[r * in + size_t(perm[i])];
  std::vector<double>().swap(w);
  std::vector<double> hdiag_p(in);  // diag(H) in quantization order
  for (size_t i = 0; i < in; ++i) hdiag_p[i] = hdiag[size_t(perm[i])];
  // Group of quantization position i (a column of wp).
  auto group_of_position = [&](size_t i) -> size_t {
    if (!grouped) return 0;
    return static_groups ? size_t(perm[i]) / g : i / g;
  };
  std::vector<float> hp(in * in);  // H in quantization order
  for (size_t i = 0; i < in; ++i)
    for (size_t j = 0; j < in; ++j) hp[i * in + j] = H[size_t(perm[i]) * in + size_t(perm[j])];
  std::vector<float>().swap(H);
  // GPTAQ's D: the permuted dXXT with dead columns zeroed (as the authors' gptaq_utils.py
  // fasterquant and GPTQModel's gptaq.py).
  const auto permuted_cross = [&] {
    std::vector<double> dp(in * in);
    for (size_t i = 0; i < in; ++i)
      for (size_t j = 0; j < in; ++j) {
        const size_t pj = size_t(perm[j]);
        dp[i * in + j] = dead[pj] ? 0.0 : double(dxxt[size_t(perm[i]) * in + pj]);
      }
    return dp;
  };
  std::vector<uint8_t> qp(out * in);          // (out, in) integers in quantization order
  std::vector<double> row_loss(out, 0.0);     // per row, summed in row order at the end
  if (config.device == GptqDevice::cuda) {
    // The factorization, GPTAQ's P and the column loop on the device (gptq_cuda.cpp), the same
    // algorithm in the same arithmetic; the lazy updates and the factorization sum in cuBLAS's
    // and cuSOLVER's orders.
    DeviceColumns dc{out, in, config, hp, dxxt != nullptr ? permuted_cross() : std::vector<double>(),
                     hdiag_p, perm, wp, params, qp, row_loss};
    INGOT_RETURN_IF_ERROR(gptq_columns_cuda(dc, &res.damp_used, &res.damp_raises, &res.device_peak_bytes));
  } else {
    std::vector<double> hinv;
    INGOT_RETURN_IF_ERROR(inverse_factor(hp, in, config.damp, config, &hinv, &res.damp_used, &res.damp_raises));
    std::vector<float>().swap(hp);

    // GPTAQ: P = α · triu₁(D · Uᵀ) · U (in, in), D the permuted dXXT with dead columns zeroed. P is
    // strictly upper triangular: row i only reaches the columns after i. Two (in, in, in) products
    // in double.
    std::vector<double> pmat;
    if (dxxt != nullptr) {
      const std::vector<double> dp = permuted_cross();
      std::vector<double> a(in * in);
      const int ni = int(in);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, ni, ni, 1.0, dp.data(), ni, hinv.data(), ni, 0.0,
                  a.data(), ni);  // A = D · Uᵀ
      for (size_t i = 0; i < in; ++i)
        for (size_t k = 0; k <= i; ++k) a[i * in + k] = 0.0;  // triu, diagonal excluded
      pmat.assign(in * in, 0.0);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, double(config.gptaq_alpha), a.data(), ni,
                  hinv.data(), ni, 0.0, pmat.data(), ni);  // P = α · triu₁(A) · U
    }
    const bool gptaq = dxxt != nullptr;
    // FOEM: the weights before any update (quantization order, dead columns zeroed), w_fp.
    const double beta = double(config.foem_beta);
    const bool foem = beta != 0.0;
    const std::vector<double> wfp = foem ? wp : std::vector<double>();


    const size_t bs = std::min(size_t(config.block_size), in);
    const size_t n_chunks = (out + kRowChunk - 1) / kRowChunk;

    // Rows are independent given Hinv, so each chunk of kRowChunk rows runs the whole block loop on
    // its own: one OpenMP pool, no barrier per block, and BLAS single-threaded inside it (two
    // pools spinning against each other cost more than they give; see kernels/cpu/matmul.cpp).
    // The chunks are fixed, not per-thread slices, so every BLAS call has the same shape whatever
    // the thread count: results are bit-identical for any number of threads.
    const bool parallel = n_chunks > 1 && omp_get_max_threads() > 1;
  #pragma omp parallel if (parallel)
    {
      std::vector<double> err(kRowChunk * bs);  // (rows, bs) Err1 of the reference: (w − q) / d
      std::vector<double> xval(gptaq ? kRowChunk * bs : 0);  // (rows, bs) GPTAQ: w before rounding
      std::vector<double> group_buf;            // one row's current weights over one group
  #pragma omp for schedule(dynamic, 1)
      for (int chunk = 0; chunk < int(n_chunks); ++chunk) {
        const size_t r0 = size_t(chunk) * kRowChunk, n_rows = std::min(kRowChunk, out - r0);
        for (size_t i1 = 0; i1 < in; i1 += bs) {
          const size_t i2 = std::min(i1 + bs, in), count = i2 - i1;
          for (size_t r = r0; r < r0 + n_rows; ++r) {
            double* wr = wp.data() + r * in;  // this row; columns [i1, i2) are the block
            double* er = err.data() + (r - r0) * bs;
            double* xr = gptaq ? xval.data() + (r - r0) * bs : nullptr;
            double loss = 0.0;
            for (size_t i = 0; i < count; ++i) {
              const size_t j = i1 + i;
              // FOEM: the column moves towards its full-precision value before it is rounded (and
              // before its group's params are chosen, so they see the value that is rounded).
              // GPTQModel applies this to the next column right after each update, which is the
              // same value; it skips it at block starts, we do not (no block-size dependence).
              if (foem) wr[j] -= beta * (wr[j] - wfp[r * in + j]);
              if (grouped && !static_groups && j % g == 0) {
                // Params over the group's columns [j, j + g) with every update made so far, the
                // weights the unblocked Algorithm 1 sees. Columns inside the block are current;
                // those past it still lack this block's pending update, applied here to a copy
                // (the dgemm below applies it for real).
                // Deviation: the reference passes W[:, j:j+g], which lacks the in-block updates
                // whenever a group starts inside a block. Both agree when group_size is a multiple
                // of block_size (the default 128/128).
                const size_t je = std::min(j + g, in), inside = std::min(je, i2);
                group_buf.assign(wr + j, wr + je);
                for (size_t k = 0; k < i; ++k) {
                  const double e = er[k];
                  const double* hrow = hinv.data() + (i1 + k) * in;
                  for (size_t c = inside; c < je; ++c) group_buf[c - j] -= e * hrow[c];
                  if (gptaq) {
                    const double xk = xr[k];
                    const double* prow = pmat.data() + (i1 + k) * in;
                    for (size_t c = inside; c < je; ++c) group_buf[c - j] += xk * prow[c];
                  }
                }
                params[(j / g) * out + r] = choose_params(group_buf.data(), je - j, hdiag_p.data() + j, maxq, config);
              }
              const Params& p = params[group_of_position(j) * out + r];
              const double x = wr[j];
              const double q = quantize_int(x, p, maxq);
              const double dq = dequantize(q, p);
              const double eq = (x - dq) / hinv[j * in + j];
              loss += eq * eq;
              // FOEM feeds back ((w − q) − β·(w − w_fp)) / d.
              const double e = foem ? eq - beta * (x - wfp[r * in + j]) / hinv[j * in + j] : eq;
              qp[r * in + j] = uint8_t(q);
              er[i] = e;
              // Error feedback inside the block: W1[:, j+1:i2] -= e · Hinv[j, j+1:i2].
              const double* hrow = hinv.data() + j * in;
              for (size_t c = j + 1; c < i2; ++c) wr[c] -= e * hrow[c];
              if (gptaq) {
                // GPTAQ adds x · P[j, j+1:i2], x the weight just rounded (before rounding).
                xr[i] = x;
                const double* prow = pmat.data() + j * in;
                for (size_t c = j + 1; c < i2; ++c) wr[c] += x * prow[c];
              }
            }
            row_loss[r] += loss / 2.0;
          }
          // Lazy batch update of everything after the block: W[:, i2:] -= Err1 · Hinv[i1:i2, i2:].
          if (i2 < in)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n_rows), int(in - i2), int(count), -1.0,
                        err.data(), int(bs), hinv.data() + i1 * in + i2, int(in), 1.0, wp.data() + r0 * in + i2,
                        int(in));
          // GPTAQ: W[:, i2:] += X1 · P[i1:i2, i2:], X1 the block's weights before rounding.
          // Deviation: the authors' code (and GPTQModel) multiply P by W1 here, which by now holds the
          // block's rounded values q, while inside the block they use the value before rounding; we
          // use the value before rounding in both places, so the result does not depend on the block
          // size and equals the unblocked per-column rule (the test's float64 reference).
          if (gptaq && i2 < in)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n_rows), int(in - i2), int(count), 1.0,
                        xval.data(), int(bs), pmat.data() + i1 * in + i2, int(in), 1.0, wp.data() + r0 * in + i2,
                        int(in));
        }
      }
    }

  }

  // Back to the original column order.
  res.q.assign(out * in, 0);
  res.dequantized.assign(out * in, 0.0f);
  res.g_idx.assign(in, 0);
  for (size_t i = 0; i < in; ++i) res.g_idx[size_t(perm[i])] = int32_t(group_of_position(i));
  for (size_t r = 0; r < out; ++r)
    for (size_t i = 0; i < in; ++i) {
      const size_t c = size_t(perm[i]);
      const uint8_t q = qp[r * in + i];
      res.q[r * in + c] = q;
      const Params& p = params[group_of_position(i) * out + r];
      res.dequantized[r * in + c] = stored_dequantize(q, p);
    }
  for (size_t k = 0; k < n_groups * out; ++k) {
    res.scales[k] = float(params[k].scale);
    res.zeros[k] = int32_t(params[k].zero);
  }
  if (config.act_order) res.perm = std::move(perm);
  res.loss = 0.0;
  for (size_t r = 0; r < out; ++r) res.loss += row_loss[r];
  return Status::success();
}

// ½ Σ_rows δ H δᵀ, δ = w − dequantized (dead columns of w zeroed), H (in, in) with its dead
// diagonal set to 1 and no damp: the output-reconstruction loss (gptq.h QuantResult::output_loss).
double output_loss(const float* W, size_t out, size_t in, const std::vector<double>& h, const std::vector<bool>& dead,
                   const QuantResult& r) {
  std::vector<double> delta(out * in), t(out * in);
  for (size_t row = 0; row < out; ++row)
    for (size_t c = 0; c < in; ++c)
      delta[row * in + c] = (dead[c] ? 0.0 : double(W[row * in + c])) - double(r.dequantized[row * in + c]);
  cblas_dsymm(CblasRowMajor, CblasRight, CblasUpper, int(out), int(in), 1.0, h.data(), int(in), delta.data(), int(in),
              0.0, t.data(), int(in));  // T = δ · H
  double total = 0.0;
  for (size_t row = 0; row < out; ++row) {  // in row order, each row's sum first: deterministic
    double s = 0.0;
    for (size_t c = 0; c < in; ++c) s += delta[row * in + c] * t[row * in + c];
    total += s;
  }
  return total / 2.0;
}

}  // namespace

Status gptq_quantize(const float* W, size_t out, size_t in, std::vector<float> H, const QuantConfig& config,
                     QuantResult* result, const float* dxxt) {
  INGOT_RETURN_IF_ERROR(validate(W, out, in, config, result));
  // BLAS and LAPACK run single-threaded in here (restored on return): a threaded dpotrf/dtrtri
  // sums in an order that depends on the thread count, and in double those last-bit differences
  // reach the rounding decisions. The parallelism is ours, over fixed chunks of rows (below), so
  // the output is the same for every thread count. ingotc runs BLAS single-threaded anyway
  // (kernels/cpu/threads.cpp).
  const BlasSingleThreaded blas_guard;
  if (H.size() != in * in)
    return fail(StatusCode::invalid_argument, "gptq: H has ", H.size(), " values, expected (", in, ", ", in, ")");
  for (size_t i = 0; i < H.size(); ++i)
    if (!std::isfinite(H[i])) return fail(StatusCode::invalid_argument, "gptq: H[", i / in, "][", i % in, "] is not finite");
  if (dxxt != nullptr)
    for (size_t i = 0; i < in * in; ++i)
      if (!std::isfinite(dxxt[i]))
        return fail(StatusCode::invalid_argument, "gptaq: dXXT[", i / in, "][", i % in, "] is not finite");
  if (config.damp_choices.empty()) return gptq_core(W, out, in, std::move(H), config, result, dxxt);

  // Per-weight damp: one run per value, the least output loss wins (the earlier value on a tie).
  std::vector<bool> dead(in, false);
  std::vector<double> h(in * in);
  for (size_t i = 0; i < in * in; ++i) h[i] = H[i];
  for (size_t i = 0; i < in; ++i)
    if (H[i * in + i] == 0.0f) {
      dead[i] = true;
      h[i * in + i] = 1.0;
    }
  QuantConfig one = config;
  one.damp_choices.clear();
  bool have = false;
  for (float d : config.damp_choices) {
    one.damp = d;
    QuantResult r;
    INGOT_RETURN_IF_ERROR(gptq_core(W, out, in, H, one, &r, dxxt));
    r.output_loss = output_loss(W, out, in, h, dead, r);
    if (!have || r.output_loss < result->output_loss) {
      *result = std::move(r);
      have = true;
    }
  }
  return Status::success();
}

Status rtn_quantize(const float* W, size_t out, size_t in, const QuantConfig& config, QuantResult* result) {
  INGOT_RETURN_IF_ERROR(validate(W, out, in, config, result));
  if (config.grid == GridSearch::hessian)
    return fail(StatusCode::invalid_argument, "rtn: the hessian grid search needs a Hessian (use GPTQ, or grid mse)");
  const double maxq = double((1 << config.bits) - 1);
  const size_t g = group_width(config, in);
  const size_t n_groups = n_groups_of(config, in);
  QuantResult& res = *result;
  res = QuantResult{};
  res.q.assign(out * in, 0);
  res.dequantized.assign(out * in, 0.0f);
  res.scales.assign(n_groups * out, 0.0f);
  res.zeros.assign(n_groups * out, 0);
  res.g_idx.assign(in, 0);
  for (size_t c = 0; c < in; ++c) res.g_idx[c] = int32_t(c / g);
  double loss = 0.0;
  for (size_t r = 0; r < out; ++r) {
    const float* wr = W + r * in;
    for (size_t k = 0; k < n_groups; ++k) {
      const size_t c0 = k * g, c1 = std::min(c0 + g, in);
      const Params p = choose_params(wr + c0, c1 - c0, static_cast<const double*>(nullptr), maxq, config);
      res.scales[k * out + r] = float(p.scale);
      res.zeros[k * out + r] = int32_t(p.zero);
      for (size_t c = c0; c < c1; ++c) {
        const double q = quantize_int(wr[c], p, maxq);
        const double dq = dequantize(q, p);
        res.q[r * in + c] = uint8_t(q);
        res.dequantized[r * in + c] = stored_dequantize(uint8_t(q), p);
        loss += (wr[c] - dq) * (wr[c] - dq);
      }
    }
  }
  res.loss = loss / 2.0;
  return Status::success();
}

}  // namespace ingot::compiler
