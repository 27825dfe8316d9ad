// The CUDA backend (docs/cuda.md). Weights are copied from the container's mapping to device
// memory, unchanged, the first time an op meets them (through two pinned staging buffers and
// asynchronous copies; upload_stats() reports the rate); KV pages live in one device allocation
// mirroring the host PagePool's page ids (the pool keeps the page tables and reference counts;
// its copy hook copies the device page on copy-on-write). Activations are device memory handed
// out by alloc(): the ops read and write them in place, and only token ids, positions, page
// tables and KV offsets go up, and the logits come down (download), once a step.
// One backend serves every session of its model: ops run one at a time under a mutex, in order
// on one stream; nothing waits for the device except download() and buffer growth. A step of up
// to 16 rows is captured as a CUDA graph (begin_graph/end_graph) and launched as one; the
// executable graph is updated in place from the next step's capture while the topology holds.
#include <cuda_runtime.h>

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/cuda_backend.h"
#include "cuda/launch.h"
#include "cuda/ops.h"
#include "cuda/upload_ring.h"

namespace ingot::runtime {

namespace {

std::string describe_error(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA backend: ") + what + ": " + describe_error(e));
}

cuda::WeightType weight_type(fb::DType t, const char* what) {
  switch (t) {
    case fb::DType::F32: return cuda::WeightType::f32;
    case fb::DType::F16: return cuda::WeightType::f16;
    case fb::DType::BF16: return cuda::WeightType::bf16;
    default: throw std::runtime_error(std::string("CUDA backend: ") + what + " has a dtype it cannot run");
  }
}

size_t elem_bytes(fb::DType t) { return t == fb::DType::F32 ? 4 : 2; }

// A device allocation that frees itself.
struct DeviceBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr != nullptr) cudaFree(ptr);
  }
};

// cudaMalloc that names what did not fit.
void* device_alloc(size_t bytes, const std::string& what) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
  if (e == cudaSuccess) return p;
  cudaGetLastError();  // clear it: out of memory is not sticky
  size_t free_b = 0, total_b = 0;
  cudaMemGetInfo(&free_b, &total_b);
  char msg[512];
  std::snprintf(msg, sizeof msg, "CUDA backend: out of device memory for %s (%zu bytes; %zu free of %zu): %s",
                what.c_str(), bytes, free_b, total_b, describe_error(e).c_str());
  throw std::runtime_error(msg);
}

// Device blocks for activations, kept for reuse instead of freed (cudaMalloc and cudaFree are
// slow, and cudaFree waits for the device). Every op runs in order on the backend's one stream, so
// a block given back while kernels that use it are still queued may be handed out again at once:
// its next user's work is queued after theirs.
class ActivationPool {
 public:
  ActivationPool() = default;
  ActivationPool(const ActivationPool&) = delete;
  ActivationPool& operator=(const ActivationPool&) = delete;
  ~ActivationPool() {
    for (const auto& [bytes, p] : free_) cudaFree(p);
  }

  // A block of at least `bytes` (at most about twice that, so that small requests do not hold
  // big blocks), and its size.
  std::pair<void*, size_t> take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= 2 * bytes + 4096) {
        const std::pair<void*, size_t> got{it->second, it->first};
        free_.erase(it);
        return got;
      }
    }
    return {device_alloc(bytes, "activations (" + std::to_string(bytes) + " bytes)"), bytes};
  }

  void give(void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace(bytes, p);
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // block size -> block
};

// Activation memory on the device, from (and back to) the backend's pool.
class DeviceActivations final : public ActivationBuffer {
 public:
  DeviceActivations(ActivationPool& pool, size_t count) : pool_(pool) {
    const auto [p, bytes] = pool.take(count * sizeof(float));
    data_ = static_cast<float*>(p), size_ = count, bytes_ = bytes;
  }
  ~DeviceActivations() override { pool_.give(data_, bytes_); }

 private:
  ActivationPool& pool_;
  size_t bytes_ = 0;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    check(cudaSetDevice(0), "cudaSetDevice");
    int sms = 0;
    check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "cudaDeviceGetAttribute");
    n_sm_ = uint32_t(sms);
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check(cudaStreamCreateWithFlags(&upload_stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    const char* graphs = std::getenv("INGOT_CUDA_GRAPHS");
    graphs_enabled_ = graphs == nullptr || std::strcmp(graphs, "0") != 0;
    check(cudaHostAlloc(&arena_host_, arena_bytes_, cudaHostAllocDefault), "cudaHostAlloc (graph upload arena)");
    for (auto& s : staging_) {
      check(cudaHostAlloc(&s.host, kStagingBytes, cudaHostAllocDefault), "cudaHostAlloc (pinned staging)");
      check(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming), "cudaEventCreate");
    }
    check(cudaHostAlloc(&ring_host_, ring_.bytes(), cudaHostAllocDefault), "cudaHostAlloc (pinned upload ring)");
    for (auto& e : ring_done_) check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  }

  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    for (auto& s : staging_) {
      if (s.host != nullptr) cudaFreeHost(s.host);
      if (s.done != nullptr) cudaEventDestroy(s.done);
    }
    if (ring_host_ != nullptr) cudaFreeHost(ring_host_);
    if (arena_host_ != nullptr) cudaFreeHost(arena_host_);
    for (auto& [key, exec] : execs_) {
      if (exec != nullptr) cudaGraphExecDestroy(exec);
    }
    free_graveyard();
    for (auto e : ring_done_) {
      if (e != nullptr) cudaEventDestroy(e);
    }
    weights_.clear();
    scratch_.clear();
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
    if (upload_stream_ != nullptr) cudaStreamDestroy(upload_stream_);
  }

  const char* name() const override { return "cuda"; }

  UploadStats upload_stats() const {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return stats_;
  }

  GraphStats graph_stats() const {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    return graph_stats_;
  }

  // A step of up to kGraphMaxRows rows (decode: prefill gains little from a graph) is captured,
  // except the backend's first step (its weight uploads). The stream is made idle first, so the
  // capture arena's bytes of the last captured step are free; the first use of each upload slot
  // in the step always uploads, so that every step of one shape has the same nodes.
  bool begin_graph(size_t rows) override {
    if (rows == 0 || rows > kGraphMaxRows) return false;
    mutex_.lock();
    if (!graphs_enabled_ || steps_++ == 0) {
      mutex_.unlock();
      return false;
    }
    cudaError_t e = cudaStreamSynchronize(stream_);
    if (e == cudaSuccess && arena_want_ > arena_bytes_) {
      cudaFreeHost(arena_host_);
      arena_host_ = nullptr;
      e = cudaHostAlloc(&arena_host_, arena_want_, cudaHostAllocDefault);
      arena_bytes_ = e == cudaSuccess ? arena_want_ : 0;
    }
    if (e == cudaSuccess) {
      free_graveyard();
      e = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed);
    }
    if (e != cudaSuccess) {
      cudaGetLastError();
      ++graph_stats_.failures;
      mutex_.unlock();
      return false;
    }
    forget_uploads();
    arena_fill_ = 0;
    capture_failed_ = false;
    capturing_ = true;
    graph_rows_ = rows;
    return true;
  }

  bool end_graph(bool ok) override {
    cudaGraph_t g = nullptr;
    const cudaError_t e = cudaStreamEndCapture(stream_, &g);
    capturing_ = false;
    bool good = ok && !capture_failed_ && e == cudaSuccess && g != nullptr;
    size_t n_nodes = 0;
    if (good && cudaGraphGetNodes(g, nullptr, &n_nodes) != cudaSuccess) good = false;
    if (good) {
      // Keyed by batch size and node count: steps whose sequences gather rows differently (more
      // copies) keep graphs of their own instead of re-instantiating one in turn.
      cudaGraphExec_t& exec = execs_[{graph_rows_, n_nodes}];
      if (exec != nullptr) {
        cudaGraphExecUpdateResultInfo info{};
        if (cudaGraphExecUpdate(exec, g, &info) == cudaSuccess) {
          ++graph_stats_.updates;
        } else {  // another topology (other sequences, splits, gathers): instantiate anew
          cudaGetLastError();
          cudaGraphExecDestroy(exec);
          exec = nullptr;
        }
      }
      if (exec == nullptr) {
        if (cudaGraphInstantiate(&exec, g, 0) == cudaSuccess) {
          ++graph_stats_.instantiations;
        } else {
          exec = nullptr;
          good = false;
        }
      }
      if (good && cudaGraphLaunch(exec, stream_) != cudaSuccess) good = false;
    }
    if (g != nullptr) cudaGraphDestroy(g);
    if (good) {
      ++graph_stats_.launches;
      failures_in_row_ = 0;
    } else {
      // Nothing recorded ran: the slots' contents are not what the upload caches say.
      cudaGetLastError();
      forget_uploads();
      ++graph_stats_.failures;
      if (++failures_in_row_ >= 3) graphs_enabled_ = false;  // a device or driver that cannot: stop trying
    }
    mutex_.unlock();
    return good;
  }

  std::unique_ptr<ActivationBuffer> alloc(size_t count) override {
    return std::make_unique<DeviceActivations>(activations_, count);
  }

  bool host_activations() const override { return false; }

  void copy(float* dst, const float* src, size_t n) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (n > 0) check(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, stream_), "copy");
  }

  void download(float* host, const float* src, size_t n) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    to_host(host, src, n);
  }

  void argmax_rows(const float* x, size_t n, size_t width, int32_t* ids) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (n == 0) return;
    int32_t* d_ids = buffer<int32_t>(slot(kIds), n);
    check(cuda::argmax_rows(x, uint32_t(n), uint32_t(width), d_ids, stream_), "argmax");
    to_host(ids, d_ids, n);
  }

  size_t max_top_k() const override { return cuda::kMaxTopK; }

  void top_k_rows(const float* x, size_t n, size_t width, size_t k, Candidate* out) override {
    static_assert(sizeof(Candidate) == sizeof(cuda::Candidate) && offsetof(Candidate, id) == offsetof(cuda::Candidate, id));
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (n == 0) return;
    if (k == 0 || k > width || k > cuda::kMaxTopK) {
      throw std::invalid_argument("top_k_rows: " + std::to_string(k) + " candidates of rows of " +
                                  std::to_string(width) + " (at most " + std::to_string(cuda::kMaxTopK) + ")");
    }
    cuda::Candidate* d_top = buffer<cuda::Candidate>(slot(kTop), n * k);
    check(cuda::top_k_rows(x, uint32_t(n), uint32_t(width), uint32_t(k), d_top, stream_), "top-k");
    to_host(reinterpret_cast<cuda::Candidate*>(out), d_top, n * k);
  }

  std::unique_ptr<PagePool> make_page_pool(const PageShape& shape, size_t max_pages) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    auto pool = std::make_unique<PagePool>(shape, max_pages);
    kv_ = std::make_unique<DeviceBuffer>();
    kv_->bytes = shape.page_bytes() * max_pages;
    kv_->ptr = device_alloc(kv_->bytes, "the KV pages (" + std::to_string(max_pages) + " pages of " +
                                            std::to_string(shape.page_bytes()) + " bytes)");
    kv_shape_ = shape;
    uint8_t* base = static_cast<uint8_t*>(kv_->ptr);
    const size_t page_bytes = shape.page_bytes();
    // Forward calls copy() (through KvSequence::grow) before any op of its step, on the caller's
    // thread: the device copy is ordered before the step's kernels on the one stream.
    pool->set_copy_hook([this, base, page_bytes](PageId from, PageId to) {
      std::lock_guard<std::recursive_mutex> hook_lock(mutex_);
      check(cudaMemcpyAsync(base + size_t(to) * page_bytes, base + size_t(from) * page_bytes, page_bytes,
                            cudaMemcpyDeviceToDevice, stream_),
            "copy-on-write of a KV page");
    });
    return pool;
  }

  void embed(const cpu::WeightView& table, std::span<const int32_t> tokens, float* x) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const void* dt = weight(table.data, table.rows * table.cols * elem_bytes(table.dtype), "the embedding table");
    const size_t n = tokens.size();
    const int32_t* d_tok = to_device(slot(kTok), tokens.data(), n);
    check(cuda::embed(dt, weight_type(table.dtype, "the embedding table"), uint32_t(table.cols), d_tok, uint32_t(n), x,
                      stream_),
          "embed");
  }

  void rmsnorm(const float* x, size_t n, size_t dim, const cpu::WeightView& weight_view, float eps,
               float* out) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const void* dw = weight(weight_view.data, dim * elem_bytes(weight_view.dtype), "a norm weight");
    check(cuda::rmsnorm(x, uint32_t(n), uint32_t(dim), dw, weight_type(weight_view.dtype, "a norm weight"), eps, out,
                        stream_),
          "rmsnorm");
  }

  void linear(const float* x, size_t n, const Linear& w, float* y) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (w.quantized) {
      const cpu::QuantView& q = w.quant;
      const cuda::QuantWeight dq = quant_weight(q);
      if (q.order != nullptr) {
        // Sorted act-order layout (GptqPackedKSorted): the stored weight is an ordinary no-g_idx one
        // over x gathered into stored column order, x_sorted[j] = x[order[j]] (cpu/quant.h).
        const int32_t* d_order = static_cast<const int32_t*>(weight(q.order, q.cols * 4, "an act-order permutation"));
        float* d_g = buffer<float>(slot(kGather), n * q.cols);
        check(cuda::gather_columns(x, uint32_t(n), uint32_t(q.cols), d_order, d_g, stream_), "act-order gather");
        x = d_g;
      }
      if (cuda::use_quant_gemm(uint32_t(n))) {
        check(cuda::quant_gemm(dq, x, uint32_t(n), y, stream_), "quantized linear (tensor cores)");
        return;
      }
      const size_t ws = cuda::quant_gemv_workspace_floats(dq, uint32_t(n), n_sm_);
      float* d_ws = ws == 0 ? nullptr : buffer<float>(slot(kWs), ws);
      check(cuda::quant_gemv(dq, x, uint32_t(n), y, d_ws, n_sm_, stream_), "quantized linear");
      return;
    }
    const cpu::WeightView& d = w.dense;
    const void* dw = weight(d.data, d.rows * d.cols * elem_bytes(d.dtype), "a linear weight");
    check(cuda::dense_gemv(dw, weight_type(d.dtype, "a linear weight"), uint32_t(d.rows), uint32_t(d.cols), x,
                           uint32_t(n), y, stream_),
          "linear");
  }

  void rope(float* x, size_t n, size_t n_heads, std::span<const size_t> positions, const cpu::RopeParams& p,
            const std::vector<float>& inv_freq) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const float* d_freq =
        static_cast<const float*>(weight(inv_freq.data(), inv_freq.size() * sizeof(float), "the RoPE frequencies"));
    // A step's q and k of every layer share one position list: uploaded when it changes.
    std::vector<int32_t> pos(n);
    for (size_t t = 0; t < n; ++t) pos[t] = int32_t(positions[t]);
    const int32_t* d_pos = upload_if_changed(kPos, pos, &pos_uploaded_);
    check(cuda::rope(x, uint32_t(n), uint32_t(n_heads), uint32_t(p.head_dim), d_pos, d_freq,
                     p.form == fb::RopeForm::Interleaved, stream_),
          "rope");
  }

  void add(float* x, const float* y, size_t n) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    check(cuda::add(x, y, n, stream_), "add");
  }

  void swiglu(float* gate, const float* up, size_t n) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    check(cuda::swiglu(gate, up, n, stream_), "swiglu");
  }

  void kv_write(const KvSequence& seq, size_t layer, size_t pos, const float* k, const float* v) override {
    const KvSequence* one[1] = {&seq};
    const size_t at[1] = {pos};
    kv_write_rows(one, at, layer, k, v, kv_shape_.kv_dim);
  }

  void kv_write_rows(std::span<const KvSequence* const> seqs, std::span<const size_t> pos, size_t layer,
                     const float* k, const float* v, size_t kv_dim) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    const PageShape& s = kv_shape_;
    const size_t n = seqs.size();
    if (n == 0) return;
    if (kv_dim != s.kv_dim) throw std::runtime_error("CUDA backend: kv_write rows of another width than the pages'");
    // Byte offsets of each row's k (first n) and v (last n) in layer 0 of its page: a layer's
    // rows lie layer · 2 · page_size rows further, so the offsets are the same in every layer of a
    // step and go up once; the kernel gets the allocation shifted to the layer.
    std::vector<uint64_t> offs(2 * n);
    for (size_t i = 0; i < n; ++i) {
      const PageId page = seqs[i]->pages()[pos[i] / s.page_size];
      const size_t slot_in_page = pos[i] % s.page_size;
      offs[i] = uint64_t(page) * s.page_bytes() + slot_in_page * s.row_bytes();
      offs[n + i] = offs[i] + s.page_size * s.row_bytes();
    }
    const uint64_t* d_off = upload_if_changed(kKvOff, offs, &kv_offs_uploaded_);
    uint8_t* layer_base = static_cast<uint8_t*>(kv_->ptr) + layer * 2 * s.page_size * s.row_bytes();
    check(cuda::kv_write(layer_base, s.dtype == KvDtype::f16, uint32_t(s.kv_dim), k, v, d_off, d_off + n, uint32_t(n),
                         stream_),
          "kv_write");
  }

  void attention(std::span<const AttentionCall> calls, size_t layer, const cpu::AttentionShape& shape) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    // Every call's page table, in one upload when they differ from the last layer's (a step's
    // tables are the same in every layer).
    std::vector<int32_t> tables;
    std::vector<size_t> first(calls.size());
    for (size_t c = 0; c < calls.size(); ++c) {
      first[c] = tables.size();
      const std::vector<PageId>& pages = calls[c].seq->pages();
      tables.insert(tables.end(), pages.begin(), pages.end());
    }
    const int32_t* d_tables = upload_if_changed(kTables, tables, &tables_uploaded_);
    for (size_t c = 0; c < calls.size(); ++c) {
      const AttentionCall& call = calls[c];
      cuda::AttentionArgs a{};
      a.q = call.q;
      a.n = uint32_t(call.n);
      a.pos0 = uint32_t(call.pos0);
      a.page_table = d_tables + first[c];
      a.kv = {static_cast<const uint8_t*>(kv_->ptr), kv_shape_.page_bytes(), uint32_t(kv_shape_.page_size),
              uint32_t(kv_shape_.kv_dim), uint32_t(layer), kv_shape_.dtype == KvDtype::f16};
      a.n_head = uint32_t(shape.n_head);
      a.n_head_kv = uint32_t(shape.n_head_kv);
      a.head_dim = uint32_t(shape.head_dim);
      a.out = call.out;
      // One workspace for all calls: the kernels of one call run before the next call's on the stream.
      float* ws = buffer<float>(slot(kWs), cuda::attention_workspace_floats(a, n_sm_));
      check(cuda::attention(a, ws, n_sm_, stream_), "attention");
    }
  }

 private:
  static constexpr size_t kStagingBytes = size_t{8} << 20;
  // The upload ring: a step's uploads are a few KB (16 sequences of 4096 positions in 16-token
  // pages: 16 KB of page table), so four 256 KiB chunks are reused only steps later.
  static constexpr size_t kRingChunks = 4, kRingChunkBytes = size_t{256} << 10;
  static constexpr size_t kGraphMaxRows = 16;
  enum Slot { kGather, kWs, kTok, kPos, kTables, kKvOff, kIds, kTop, kSlots };

  struct Staging {
    void* host = nullptr;
    cudaEvent_t done = nullptr;
  };

  DeviceBuffer& slot(Slot s) {
    if (scratch_.empty()) {
      for (int i = 0; i < kSlots; ++i) scratch_.push_back(std::make_unique<DeviceBuffer>());
    }
    return *scratch_[size_t(s)];
  }

  // The slot's buffer, grown to hold count T's.
  template <typename T>
  T* buffer(DeviceBuffer& b, size_t count) {
    const size_t bytes = count * sizeof(T);
    if (b.bytes < bytes) {
      if (capturing_) {
        // No waiting while capturing: the old block may be in the recorded nodes; freed when the
        // stream is next idle.
        if (b.ptr != nullptr) graveyard_.push_back(b.ptr);
      } else {
        check(cudaStreamSynchronize(stream_), "growing a scratch buffer");
        if (b.ptr != nullptr) cudaFree(b.ptr);
      }
      b.ptr = nullptr;
      b.bytes = 0;
      b.ptr = device_alloc(bytes, "activations");
      b.bytes = bytes;
    }
    return static_cast<T*>(b.ptr);
  }

  // The slot's buffer holding a copy of host[0, count), queued on the stream. Through the pinned
  // ring (kernels/cuda/upload_ring.h), so that the host does not wait for the device; an upload
  // larger than a ring chunk goes from pageable memory, which does wait.
  template <typename T>
  T* to_device(DeviceBuffer& b, const T* host, size_t count) {
    T* d = buffer<T>(b, count);
    const size_t bytes = count * sizeof(T);
    if (bytes == 0) return d;
    if (capturing_) {
      // The capture arena: the recorded copy reads these bytes when the graph runs; the next
      // capture starts on an idle stream. Past its end the recording is discarded (the step runs
      // unrecorded) and the arena grows before the next one.
      const size_t start = (arena_fill_ + 15) & ~size_t{15};
      if (start + bytes > arena_bytes_) {
        capture_failed_ = true;
        arena_want_ = std::max(arena_want_, 2 * (start + bytes));
        return d;
      }
      uint8_t* pinned = static_cast<uint8_t*>(arena_host_) + start;
      std::memcpy(pinned, host, bytes);
      check(cudaMemcpyAsync(d, pinned, bytes, cudaMemcpyHostToDevice, stream_), "copy to device");
      arena_fill_ = start + bytes;
      return d;
    }
    const std::optional<cuda::UploadRing::Take> t = ring_.take(bytes);
    if (!t) {
      check(cudaMemcpyAsync(d, host, bytes, cudaMemcpyHostToDevice, stream_), "copy to device");
      return d;
    }
    if (t->close) check(cudaEventRecord(ring_done_[*t->close], stream_), "upload ring");
    if (t->wait) check(cudaEventSynchronize(ring_done_[t->chunk]), "upload ring");
    uint8_t* pinned = static_cast<uint8_t*>(ring_host_) + t->offset;
    std::memcpy(pinned, host, bytes);
    check(cudaMemcpyAsync(d, pinned, bytes, cudaMemcpyHostToDevice, stream_), "copy to device");
    return d;
  }

  // The device copy of `host` in slot `s`, uploaded only when it differs from what the slot got
  // last (`*last`): a step's positions, page tables and KV offsets are the same in every layer.
  template <typename T>
  const T* upload_if_changed(Slot s, const std::vector<T>& host, std::vector<T>* last) {
    DeviceBuffer& b = slot(s);
    if (host != *last || b.ptr == nullptr) {
      to_device(b, host.data(), host.size());
      *last = host;
    }
    return static_cast<const T*>(b.ptr);
  }

  template <typename T>
  void to_host(T* host, const T* d, size_t count) {
    if (count > 0) check(cudaMemcpyAsync(host, d, count * sizeof(T), cudaMemcpyDeviceToHost, stream_), "copy to host");
    check(cudaStreamSynchronize(stream_), "synchronize");
    free_graveyard();
  }

  void free_graveyard() {
    for (void* p : graveyard_) cudaFree(p);
    graveyard_.clear();
  }

  void forget_uploads() {
    pos_uploaded_.clear();
    tables_uploaded_.clear();
    kv_offs_uploaded_.clear();
  }

  // The device copy of `bytes` at host `src` (a weight of the mapping), made on first use:
  // chunks go through the two pinned staging buffers in turn, each copy asynchronous, so the
  // host's memcpy of one chunk overlaps the device's copy of the previous. On a stream of its own,
  // waited for before returning: the kernels that read the weight are queued after, and a step
  // being captured on the compute stream is not disturbed.
  const void* weight(const void* src, size_t bytes, const char* what) {
    if (src == nullptr) return nullptr;
    auto it = weights_.find(src);
    if (it != weights_.end()) return it->second->ptr;
    auto buf = std::make_unique<DeviceBuffer>();
    buf->ptr = device_alloc(bytes, std::string("weights (") + what + ", " + std::to_string(stats_.bytes) +
                                       " bytes of weights already on the device)");
    buf->bytes = bytes;
    const auto t0 = std::chrono::steady_clock::now();
    const uint8_t* s = static_cast<const uint8_t*>(src);
    for (size_t off = 0, i = 0; off < bytes; off += kStagingBytes, ++i) {
      Staging& st = staging_[i % 2];
      const size_t len = std::min(kStagingBytes, bytes - off);
      check(cudaEventSynchronize(st.done), "weight upload");
      std::memcpy(st.host, s + off, len);
      check(cudaMemcpyAsync(static_cast<uint8_t*>(buf->ptr) + off, st.host, len, cudaMemcpyHostToDevice,
                            upload_stream_),
            "weight upload");
      check(cudaEventRecord(st.done, upload_stream_), "weight upload");
    }
    check(cudaStreamSynchronize(upload_stream_), "weight upload");
    stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stats_.bytes += bytes;
    ++stats_.tensors;
    const void* d = buf->ptr;
    weights_.emplace(src, std::move(buf));
    return d;
  }

  cuda::QuantWeight quant_weight(const cpu::QuantView& q) {
    const size_t n_groups = cpu::quant_n_groups(q.cols, q.group_size);
    cuda::QuantWeight d{};
    d.qweight = static_cast<const uint32_t*>(
        weight(q.qweight, cpu::quant_words(q.cols, q.bits) * q.rows * 4, "a quantized weight"));
    d.scales = static_cast<const uint16_t*>(weight(q.scales, n_groups * q.rows * 2, "quantization scales"));
    d.zeros = static_cast<const uint32_t*>(
        weight(q.zeros, n_groups * cpu::quant_words(q.rows, q.bits) * 4, "quantization zeros"));
    d.g_idx = static_cast<const int32_t*>(weight(q.g_idx, q.cols * 4, "act-order groups"));
    d.bits = q.bits;
    d.group_size = q.group_size;
    d.out = uint32_t(q.rows);
    d.in = uint32_t(q.cols);
    return d;
  }

  // Held by every op, and from begin_graph to end_graph: no other thread's ops enter a capture.
  mutable std::recursive_mutex mutex_;
  ActivationPool activations_;
  std::vector<int32_t> pos_uploaded_;     // what slot kPos holds
  std::vector<int32_t> tables_uploaded_;  // what slot kTables holds
  std::vector<uint64_t> kv_offs_uploaded_;  // what slot kKvOff holds
  cudaStream_t stream_ = nullptr;
  cudaStream_t upload_stream_ = nullptr;  // weight uploads
  // CUDA graphs (begin_graph/end_graph): one executable graph per batch size and node count.
  bool graphs_enabled_ = true;            // INGOT_CUDA_GRAPHS=0 turns them off
  bool capturing_ = false;
  bool capture_failed_ = false;           // an upload did not fit the arena: discard the recording
  size_t steps_ = 0, graph_rows_ = 0, failures_in_row_ = 0;
  std::map<std::pair<size_t, size_t>, cudaGraphExec_t> execs_;
  void* arena_host_ = nullptr;            // pinned: the captured step's uploads
  size_t arena_bytes_ = size_t{1} << 20, arena_fill_ = 0, arena_want_ = 0;
  std::vector<void*> graveyard_;          // scratch blocks replaced while capturing
  GraphStats graph_stats_;
  uint32_t n_sm_ = 1;
  Staging staging_[2];
  cuda::UploadRing ring_{kRingChunks, kRingChunkBytes};
  void* ring_host_ = nullptr;         // (kRingChunks · kRingChunkBytes) pinned bytes
  cudaEvent_t ring_done_[kRingChunks] = {};  // per chunk: its copies have finished
  std::unordered_map<const void*, std::unique_ptr<DeviceBuffer>> weights_;
  std::vector<std::unique_ptr<DeviceBuffer>> scratch_;
  std::unique_ptr<DeviceBuffer> kv_;
  PageShape kv_shape_;
  UploadStats stats_;
};

}  // namespace

format::Status cuda_backend_available() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError();
    return format::fail(format::StatusCode::invalid_argument, "no usable CUDA device (",
                        e != cudaSuccess ? describe_error(e) : std::string("none found"), ")");
  }
  return format::Status::success();
}

format::Status make_cuda_backend(std::unique_ptr<Backend>* out) {
  INGOT_RETURN_IF_ERROR(cuda_backend_available());
  try {
    *out = std::make_unique<CudaBackend>();
  } catch (const std::exception& ex) {
    return format::fail(format::StatusCode::invalid_argument, ex.what());
  }
  return format::Status::success();
}

UploadStats cuda_upload_stats(const Backend& be) {
  const auto* c = dynamic_cast<const CudaBackend*>(&be);
  return c == nullptr ? UploadStats{} : c->upload_stats();
}

GraphStats cuda_graph_stats(const Backend& be) {
  const auto* c = dynamic_cast<const CudaBackend*>(&be);
  return c == nullptr ? GraphStats{} : c->graph_stats();
}

}  // namespace ingot::runtime
