// The forward pass's side of step recording (Backend::begin_graph / end_graph, which the CUDA
// backend implements with CUDA graphs): through a backend that records every op of a step as a
// closure instead of running it, then replays them, discards them, or fails while recording,
// batched steps on stories260K give the plain CPU backend's logits bit for bit; no op runs while
// recording and nothing is downloaded then. The CUDA graphs themselves are checked on a device
// (tests/gpu/cuda_backend_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "backend/backend.h"
#include "emit.h"
#include "gptq/gptq.h"
#include "gptq/pack.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "kv/kv_sequence.h"
#include "model/forward.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

const char* kCheckpoint = "models/stories260K/stories260K.bin";

enum class Mode {
  replay,       // end_graph runs the recorded ops
  discard,      // end_graph drops them and returns false: forward runs the step again
  throw_while,  // the first attention of a recorded step throws: forward runs the step again
};

// A backend over another that, between begin_graph and end_graph, queues each op instead of
// running it (its arguments copied, as a graph captures them).
class RecordingBackend final : public runtime::Backend {
 public:
  RecordingBackend(std::unique_ptr<runtime::Backend> inner, Mode mode) : inner_(std::move(inner)), mode_(mode) {}

  size_t steps = 0, recorded = 0, replayed = 0, rerun = 0, ops_replayed = 0;

  const char* name() const override { return "recording"; }
  std::unique_ptr<runtime::ActivationBuffer> alloc(size_t count) override { return inner_->alloc(count); }
  bool host_activations() const override { return inner_->host_activations(); }
  std::unique_ptr<runtime::PagePool> make_page_pool(const runtime::PageShape& shape, size_t max_pages) override {
    return inner_->make_page_pool(shape, max_pages);
  }
  void download(float* host, const float* src, size_t n) override {
    EXPECT_FALSE(recording_) << "a download while recording";
    inner_->download(host, src, n);
  }
  void copy(float* dst, const float* src, size_t n) override {
    op([=, this] { inner_->copy(dst, src, n); });
  }
  void embed(const cpu::WeightView& table, std::span<const int32_t> tokens, float* x) override {
    op([=, this, t = std::vector<int32_t>(tokens.begin(), tokens.end())] { inner_->embed(table, t, x); });
  }
  void rmsnorm(const float* x, size_t n, size_t dim, const cpu::WeightView& w, float eps, float* out) override {
    op([=, this] { inner_->rmsnorm(x, n, dim, w, eps, out); });
  }
  void linear(const float* x, size_t n, const runtime::Linear& w, float* y) override {
    op([=, this] { inner_->linear(x, n, w, y); });
  }
  void rope(float* x, size_t n, size_t n_heads, std::span<const size_t> positions, const cpu::RopeParams& p,
            const std::vector<float>& inv_freq) override {
    op([=, this, pos = std::vector<size_t>(positions.begin(), positions.end()), f = &inv_freq] {
      inner_->rope(x, n, n_heads, pos, p, *f);
    });
  }
  void add(float* x, const float* y, size_t n) override {
    op([=, this] { inner_->add(x, y, n); });
  }
  void swiglu(float* gate, const float* up, size_t n) override {
    op([=, this] { inner_->swiglu(gate, up, n); });
  }
  void kv_write(const runtime::KvSequence& seq, size_t layer, size_t pos, const float* k, const float* v) override {
    op([=, this, s = &seq] { inner_->kv_write(*s, layer, pos, k, v); });
  }
  void kv_write_rows(std::span<const runtime::KvSequence* const> seqs, std::span<const size_t> pos, size_t layer,
                     const float* k, const float* v, size_t kv_dim) override {
    op([=, this, s = std::vector<const runtime::KvSequence*>(seqs.begin(), seqs.end()),
        p = std::vector<size_t>(pos.begin(), pos.end())] { inner_->kv_write_rows(s, p, layer, k, v, kv_dim); });
  }
  void attention(std::span<const AttentionCall> calls, size_t layer, const cpu::AttentionShape& shape) override {
    if (recording_ && mode_ == Mode::throw_while) throw std::runtime_error("cannot record attention");
    op([=, this, c = std::vector<AttentionCall>(calls.begin(), calls.end())] { inner_->attention(c, layer, shape); });
  }

  // Every step but the first is recorded (as the CUDA backend, which runs the first step's weight
  // uploads unrecorded).
  bool begin_graph(size_t rows) override {
    EXPECT_GT(rows, 0u);
    EXPECT_FALSE(recording_);
    if (steps++ == 0) return false;
    recording_ = true;
    ++recorded;
    return true;
  }
  bool end_graph(bool ok) override {
    EXPECT_TRUE(recording_);
    recording_ = false;
    std::vector<std::function<void()>> ops = std::move(queue_);
    queue_.clear();
    if (mode_ == Mode::throw_while) {
      EXPECT_FALSE(ok) << "the throw reached end_graph as a failed recording";
    }
    if (!ok || mode_ == Mode::discard) {
      ++rerun;
      return false;
    }
    for (const auto& f : ops) f();
    ops_replayed += ops.size();
    ++replayed;
    return true;
  }

 private:
  void op(std::function<void()> f) {
    if (recording_) {
      queue_.push_back(std::move(f));
    } else {
      f();
    }
  }

  std::unique_ptr<runtime::Backend> inner_;
  Mode mode_;
  bool recording_ = false;
  std::vector<std::function<void()>> queue_;
};

// stories260K, linears RTN-quantized to 4 bits in groups of 32 (the quantized GEMV path).
std::string compile(const TempDir& dir) {
  compiler::SourceModel m;
  EXPECT_TRUE(compiler::import_llama2c(shared_path(kCheckpoint), &m).ok());
  EXPECT_TRUE(compiler::import_tokenizer_file(shared_path("models/stories260K/tok512.model"), &m).ok());
  compiler::QuantConfig cfg;
  cfg.bits = 4;
  cfg.group_size = 32;
  for (compiler::SourceTensor& t : m.tensors) {
    if (!compiler::is_linear_weight(t.name)) continue;
    const size_t out = t.shape[0], in = t.shape[1];
    std::vector<float> w(out * in);
    std::memcpy(w.data(), t.bytes.data(), w.size() * 4);
    compiler::QuantResult r;
    EXPECT_TRUE(compiler::rtn_quantize(w.data(), out, in, cfg, &r).ok());
    auto p = std::make_unique<compiler::PackedQuant>();
    EXPECT_TRUE(compiler::pack_result(r, cfg, fb::QuantMethod::RTN, out, in, p.get()).ok());
    t.quant = std::move(p);
  }
  compiler::EmitOptions opt;
  opt.dtype = fb::DType::F32;
  const std::string path = dir.file("stories260K-q4.ingot");
  EXPECT_TRUE(compiler::emit(m, path, opt).ok());
  return path;
}

std::unique_ptr<runtime::Model> load(const std::string& path, RecordingBackend** recorder, Mode mode) {
  runtime::LoadOptions o;
  o.n_threads = 1;
  if (recorder != nullptr) {
    o.wrap_backend = [recorder, mode](std::unique_ptr<runtime::Backend> inner) {
      auto r = std::make_unique<RecordingBackend>(std::move(inner), mode);
      *recorder = r.get();
      return std::unique_ptr<runtime::Backend>(std::move(r));
    };
  }
  std::unique_ptr<runtime::Model> m;
  const format::Status s = runtime::Model::load(path, o, &m);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return m;
}

// Three sequences: a first step of interleaved prompt rows (attention gathers and scatters them),
// then greedy decode steps of all three, another step with no logits wanted in between; every
// step's logits, in order.
std::vector<float> run(const runtime::Model& m) {
  std::vector<std::unique_ptr<runtime::KvSequence>> own;
  std::vector<runtime::KvSequence*> seqs;
  for (int i = 0; i < 3; ++i) {
    own.push_back(std::make_unique<runtime::KvSequence>(m.kv_pool()));
    seqs.push_back(own.back().get());
  }
  const size_t vocab = m.dims().vocab;
  std::vector<float> all, logits;
  runtime::Batch b;
  const int32_t ids[3][5] = {{1, 403, 407, 261, 378}, {1, 298, 315}, {1, 421, 395, 317}};
  const size_t len[3] = {5, 3, 4};
  for (size_t t = 0; t < 5; ++t) {
    for (size_t s = 0; s < 3; ++s) {
      if (t < len[s]) b.add(ids[s][t], s, t, t + 1 == len[s]);
    }
  }
  EXPECT_TRUE(runtime::forward(m, seqs, b, &logits).ok());
  all.insert(all.end(), logits.begin(), logits.end());
  // Wanted rows come in batch order: the last tokens of sequences 1 (t = 2), 2 (t = 3), 0 (t = 4).
  const auto in_order = [vocab](const std::vector<float>& rows, const size_t (&seq_of_row)[3]) {
    std::vector<float> out(3 * vocab);
    for (size_t r = 0; r < 3; ++r) {
      std::copy_n(rows.begin() + std::ptrdiff_t(r * vocab), vocab, out.begin() + std::ptrdiff_t(seq_of_row[r] * vocab));
    }
    return out;
  };
  logits = in_order(logits, {1, 2, 0});
  size_t at[3] = {5, 3, 4};
  for (int step = 0; step < 12; ++step) {
    std::vector<int32_t> next(3);
    for (size_t s = 0; s < 3; ++s) {
      const float* row = logits.data() + s * vocab;
      next[s] = int32_t(std::max_element(row, row + vocab) - row);
    }
    b.clear();
    for (size_t s : {size_t{2}, size_t{0}, size_t{1}}) b.add(next[s], s, at[s]++, true);
    EXPECT_TRUE(runtime::forward(m, seqs, b, &logits).ok());
    logits = in_order(logits, {2, 0, 1});  // batch order (2, 0, 1)
    all.insert(all.end(), logits.begin(), logits.end());
    if (step == 5) {  // a step that wants no logits: recorded, replayed, nothing downloaded
      b.clear();
      b.add(next[0], 0, at[0]++, false);
      EXPECT_TRUE(runtime::forward(m, {seqs.data(), 1}, b, nullptr).ok());
      // Sequence 0 now continues from that token; keep the others' logits for their argmax.
      std::vector<float> one;
      b.clear();
      b.add(next[0], 0, at[0]++, true);
      EXPECT_TRUE(runtime::forward(m, {seqs.data(), 1}, b, &one).ok());
      std::copy_n(one.begin(), vocab, logits.begin());
      all.insert(all.end(), one.begin(), one.end());
    }
  }
  return all;
}

class StepRecording : public ::testing::TestWithParam<Mode> {};

TEST_P(StepRecording, GivesThePlainBackendsLogitsBitForBit) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  TempDir dir;
  const std::string path = compile(dir);
  auto plain = load(path, nullptr, Mode::replay);
  RecordingBackend* rec = nullptr;
  auto recorded = load(path, &rec, GetParam());
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(recorded, nullptr);
  ASSERT_NE(rec, nullptr);
  const std::vector<float> want = run(*plain), got = run(*recorded);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0) << "logits differ";
  size_t first_diff = 0;
  while (first_diff < want.size() && got[first_diff] == want[first_diff]) ++first_diff;
  EXPECT_EQ(first_diff, want.size()) << "first difference at " << first_diff;
  EXPECT_EQ(rec->steps, 15u);
  EXPECT_EQ(rec->recorded, 14u);
  if (GetParam() == Mode::replay) {
    EXPECT_EQ(rec->replayed, 14u);
    EXPECT_EQ(rec->rerun, 0u);
    // Each recorded step has its embedding, 5 layers' ops and the classifier at least.
    EXPECT_GT(rec->ops_replayed, 14u * 5 * 10);
  } else {
    EXPECT_EQ(rec->replayed, 0u);
    EXPECT_EQ(rec->rerun, 14u);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, StepRecording, ::testing::Values(Mode::replay, Mode::discard, Mode::throw_while),
                         [](const ::testing::TestParamInfo<Mode>& i) {
                           return i.param == Mode::replay ? std::string("Replayed")
                                  : i.param == Mode::discard ? std::string("Discarded")
                                                             : std::string("ThrowWhileRecording");
                         });

}  // namespace
}  // namespace ingot::test
