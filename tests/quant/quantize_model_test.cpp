// The model-level GPTQ driver (gptq/quantize_model.h) and the calibration loader
// (gptq/calibration.h) on stories260K. The quantized weights are checked independently of the
// runtime's quantized path: they are dequantized here (cpu::dequantize), written as an f32
// container and scored with runtime::perplexity against the f32 model and RTN.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cpu/convert.h"
#include "cpu/quant.h"
#include "cpu/quant_int8.h"
#include "emit.h"
#include "generate.h"
#include "gptq/calibration.h"
#include "gptq/pack.h"
#include "gptq/quantize_model.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "sample_container.h"
#include "shared_assets.h"
#include "tokenizer/tokenizer.h"

namespace ingot::test {
namespace {

const char* kCheckpoint = "models/stories260K/stories260K.bin";
const char* kTokenizer = "models/stories260K/tok512.model";
const char* kC4 = "data/c4/c4_sample.json";
const char* kTinyStories = "data/tinystories/tinystories_val.txt";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

compiler::SourceModel import_stories() {
  compiler::SourceModel src;
  format::Status s = compiler::import_llama2c(shared_path(kCheckpoint), &src);
  EXPECT_TRUE(s.ok()) << s.to_string();
  s = compiler::import_tokenizer_file(shared_path(kTokenizer), &src);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return src;
}

// The runtime tokenizer over an importer's fb::TokenizerT (packed as a container carries it).
struct RuntimeTokenizer {
  flatbuffers::FlatBufferBuilder fbb;
  std::unique_ptr<runtime::Tokenizer> tok;
  explicit RuntimeTokenizer(const fb::TokenizerT& t) {
    fbb.Finish(fb::Tokenizer::Pack(fbb, &t));
    const auto* table = flatbuffers::GetRoot<fb::Tokenizer>(fbb.GetBufferPointer());
    const format::Status s = runtime::Tokenizer::create(*table, &tok);
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
};

std::vector<std::vector<int32_t>> calibration(const compiler::SourceModel& src, size_t n, size_t seqlen,
                                              uint64_t seed) {
  RuntimeTokenizer rt(src.tokenizer);
  std::vector<std::vector<int32_t>> samples;
  std::vector<std::unique_ptr<fb::DigestT>> digests;
  const format::Status s = compiler::load_calibration({shared_path(kC4)}, *rt.tok, src.config.bos_id, n, seqlen, seed,
                                                      &samples, &digests);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return samples;
}

compiler::QuantizeOptions options(fb::QuantMethod method) {
  compiler::QuantizeOptions o;
  o.method = method;
  o.config.bits = 4;
  o.config.group_size = 32;
  o.config.sym = true;
  o.config.act_order = true;
  return o;
}

size_t count_linear(const compiler::SourceModel& m) {
  size_t n = 0;
  for (const auto& t : m.tensors) n += compiler::is_linear_weight(t.name) ? 1 : 0;
  return n;
}

// Every linear weight quantized, nothing else; one finite, positive loss per quantized tensor.
void expect_quantized(const compiler::SourceModel& m) {
  size_t n_quant = 0;
  for (const auto& t : m.tensors) {
    EXPECT_EQ(t.quant != nullptr, compiler::is_linear_weight(t.name)) << t.name;
    n_quant += t.quant != nullptr ? 1 : 0;
  }
  EXPECT_EQ(n_quant, count_linear(m));
  ASSERT_EQ(m.layer_losses.size(), n_quant);
  for (const auto& l : m.layer_losses) {
    EXPECT_TRUE(std::isfinite(l->loss) && l->loss > 0) << l->tensor << " loss " << l->loss;
    EXPECT_TRUE(compiler::is_linear_weight(l->tensor)) << l->tensor;
  }
}

// Replaces every quantized tensor by its f32 dequantization, through the kernels' reference path.
void dequantize_to_f32(compiler::SourceModel& m) {
  for (auto& t : m.tensors) {
    if (t.quant == nullptr) continue;
    const compiler::PackedQuant& p = *t.quant;
    cpu::QuantView v;
    v.qweight = p.qweight.data();
    v.scales = p.scales.data();
    v.zeros = p.zeros.empty() ? nullptr : p.zeros.data();
    v.g_idx = p.g_idx.empty() ? nullptr : p.g_idx.data();
    v.order = p.order.empty() ? nullptr : p.order.data();  // act-order, stored sorted
    v.bits = p.bits;
    v.group_size = p.group_size;
    v.rows = t.shape[0];
    v.cols = t.shape[1];
    const format::Status s = cpu::check_quant_view(v, t.name.c_str());
    ASSERT_TRUE(s.ok()) << s.to_string();
    std::vector<float> f(v.rows * v.cols);
    cpu::dequantize(v, f.data());
    t.owned.resize(f.size() * sizeof(float));
    std::memcpy(t.owned.data(), f.data(), t.owned.size());
    t.bytes = t.owned;
    t.dtype = fb::DType::F32;
    t.quant.reset();
  }
}

// Writes `m` as an f32 container and returns the perplexity on the first 20 windows of 256
// tokens of the TinyStories validation text.
// Quantized tensors stay quantized; `activations` is how the runtime's quantized linears take theirs.
double perplexity_of(compiler::SourceModel& m, const TempDir& dir, const std::string& name,
                     cpu::Activations activations = cpu::default_activations()) {
  const std::string path = dir.file(name + ".ingot");
  compiler::EmitOptions eo;
  eo.dtype = fb::DType::F32;
  format::Status s = compiler::emit(m, path, eo);
  EXPECT_TRUE(s.ok()) << s.to_string();
  std::unique_ptr<runtime::Model> model;
  runtime::LoadOptions lo;
  lo.verify_checksums = true;
  lo.activations = activations;
  s = runtime::Model::load(path, lo, &model);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (model == nullptr) return NAN;
  std::ifstream in(shared_path(kTinyStories), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<int32_t> tokens = runtime::prompt_tokens(*model, text.str());
  runtime::PerplexityResult r;
  s = runtime::perplexity(*model, tokens, 256, 20, nullptr, &r);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(r.n_chunks, 20u);
  return r.ppl;
}

bool same_packing(const compiler::SourceModel& a, const compiler::SourceModel& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i].quant;
    const auto& y = b.tensors[i].quant;
    if ((x == nullptr) != (y == nullptr)) return false;
    if (x == nullptr) continue;
    if (x->qweight != y->qweight || x->scales != y->scales || x->zeros != y->zeros || x->g_idx != y->g_idx ||
        x->order != y->order ||
        x->bits != y->bits || x->group_size != y->group_size || x->act_order != y->act_order) {
      return false;
    }
  }
  return true;
}

TEST(Calibration, DrawsDeterministicWindowsFromJsonLines) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(kC4);
  const compiler::SourceModel src = import_stories();
  const auto a = calibration(src, 32, 256, 0);
  const auto b = calibration(src, 32, 256, 0);
  const auto c = calibration(src, 32, 256, 1);
  ASSERT_EQ(a.size(), 32u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (const auto& s : a) {
    ASSERT_EQ(s.size(), 256u);
    for (int32_t id : s) ASSERT_TRUE(id >= 0 && id < 512) << id;
  }
  // The JSON wrapper is gone: no window holds the text of `{"text":`.
  RuntimeTokenizer rt(src.tokenizer);
  for (const auto& s : a) EXPECT_EQ(rt.tok->decode(s).find("{\"text\""), std::string::npos);
}

TEST(Calibration, ErrorsAreClear) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  const compiler::SourceModel src = import_stories();
  RuntimeTokenizer rt(src.tokenizer);
  TempDir dir;
  std::vector<std::vector<int32_t>> samples;
  std::vector<std::unique_ptr<fb::DigestT>> digests;

  const std::string small = dir.file("small.txt");
  std::ofstream(small) << "Once upon a time there was a little cat.";
  format::Status s = compiler::load_calibration({small}, *rt.tok, 1, 4, 256, 0, &samples, &digests);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("small.txt"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("only "), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("--calib-seqlen"), std::string::npos) << s.message();

  s = compiler::load_calibration({dir.file("missing.txt")}, *rt.tok, 1, 4, 8, 0, &samples, &digests);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("missing.txt"), std::string::npos) << s.message();

  const std::string empty = dir.file("empty.jsonl");
  std::ofstream(empty) << "\n\n";
  s = compiler::load_calibration({empty}, *rt.tok, 1, 4, 8, 0, &samples, &digests);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no JSON Lines documents"), std::string::npos) << s.message();

  const std::string bad = dir.file("bad.jsonl");
  std::ofstream(bad) << "{\"text\": \"fine\"}\n{\"body\": \"no text field\"}\n";
  s = compiler::load_calibration({bad}, *rt.tok, 1, 4, 8, 0, &samples, &digests);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.message();

  // A small plain text file that is long enough works, with its digest.
  s = compiler::load_calibration({small}, *rt.tok, 1, 3, 4, 0, &samples, &digests);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(samples.size(), 3u);
  ASSERT_EQ(digests.size(), 1u);
  EXPECT_EQ(digests[0]->name, "small.txt");
}

TEST(QuantizeModel, RtnNeedsNoCalibration) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  compiler::SourceModel m = import_stories();
  const format::Status s = compiler::quantize_model(m, {}, options(fb::QuantMethod::RTN));
  ASSERT_TRUE(s.ok()) << s.to_string();
  expect_quantized(m);
  for (const auto& l : m.layer_losses) EXPECT_EQ(l->damp, 0.0f);
  // GPTQ without samples is an error, not a silent RTN.
  compiler::SourceModel g = import_stories();
  EXPECT_FALSE(compiler::quantize_model(g, {}, options(fb::QuantMethod::GPTQ)).ok());
}

// --lm-head-bits 8 on a tied model (stories260K): the classifier becomes its own 8-bit tensor, a
// round-to-nearest copy of the embeddings (every value within half a step of its group's grid,
// plus what the f16 rounding of the scale moves a code of at most 128 steps),
// the lookup table stays dense, and the runtime runs the container it makes: its perplexity
// equals that of the same weights dequantized to f32 (dense path) within the int8 activations'
// error, and is within 0.5% of the f32-classifier model's.
TEST(QuantizeModel, LmHeadBits8OnATiedModel) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(kTinyStories);
  TempDir dir;
  compiler::SourceModel m = import_stories();
  ASSERT_TRUE(m.config.tied_embeddings);
  std::vector<float> emb;
  for (const auto& t : m.tensors) {
    if (t.name != "tok_embeddings.weight") continue;
    ASSERT_EQ(t.dtype, fb::DType::F32);
    emb.resize(t.bytes.size() / 4);
    std::memcpy(emb.data(), t.bytes.data(), t.bytes.size());
  }
  compiler::QuantizeOptions o = options(fb::QuantMethod::RTN);
  o.quantize_lm_head = true;
  o.lm_head_bits = 8;
  format::Status s = compiler::quantize_model(m, {}, o);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_FALSE(m.config.tied_embeddings);
  EXPECT_EQ(m.layer_losses.back()->tensor, "output.weight");
  const compiler::SourceTensor* head = nullptr;
  for (const auto& t : m.tensors) {
    if (t.name == "tok_embeddings.weight") {
      EXPECT_EQ(t.quant, nullptr);
    }
    if (t.name == "output.weight") head = &t;
    if (t.quant != nullptr && t.name != "output.weight") {
      EXPECT_EQ(t.quant->bits, 4u) << t.name;
    }
  }
  ASSERT_NE(head, nullptr);
  ASSERT_NE(head->quant, nullptr);
  const compiler::PackedQuant& q = *head->quant;
  EXPECT_EQ(q.bits, 8u);
  EXPECT_TRUE(q.g_idx.empty());  // natural order: the int8 kernels take it
  // Unpack by the layout's definition (spec/quant-layouts.md: 4 bytes per word along K, words
  // running along the outputs; zero 128 when symmetric) and compare with the embeddings.
  const size_t rows = head->shape[0], cols = head->shape[1], gs = size_t(q.group_size);
  ASSERT_EQ(emb.size(), rows * cols);
  size_t off_grid = 0;
  for (size_t o = 0; o < rows; ++o) {
    for (size_t k = 0; k < cols; ++k) {
      const uint32_t v = (q.qweight[(k / 4) * rows + o] >> (8 * (k % 4))) & 255;
      const double scale = cpu::f16_to_f32(q.scales[(k / gs) * rows + o]);
      const double w = scale * (double(v) - 128.0), e = emb[o * cols + k];
      if (std::fabs(w - e) > scale * (0.5 + 128.0 / 2048.0)) ++off_grid;
    }
  }
  EXPECT_EQ(off_grid, 0u);

  const double ppl_q = perplexity_of(m, dir, "head8");
  compiler::SourceModel f = import_stories();
  s = compiler::quantize_model(f, {}, options(fb::QuantMethod::RTN));
  ASSERT_TRUE(s.ok()) << s.to_string();
  compiler::SourceModel deq = import_stories();  // (emit takes the tokenizer out of m)
  s = compiler::quantize_model(deq, {}, o);
  ASSERT_TRUE(s.ok()) << s.to_string();
  dequantize_to_f32(deq);
  const double ppl_deq = perplexity_of(deq, dir, "head8-f32");
  dequantize_to_f32(f);
  const double ppl_f32_head = perplexity_of(f, dir, "head-f32");
  std::printf("RTN 4-bit g32 layers: classifier 8-bit %.4f (dequantized %.4f), f32 %.4f\n", ppl_q, ppl_deq,
              ppl_f32_head);
  EXPECT_NEAR(ppl_q / ppl_deq, 1.0, 0.01);
  EXPECT_NEAR(ppl_deq / ppl_f32_head, 1.0, 0.005);
}

TEST(QuantizeModel, Gptq4BitBeatsRtnOnStories260K) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(kC4);
  INGOT_REQUIRE_SHARED(kTinyStories);
  TempDir dir;
  auto t0 = std::chrono::steady_clock::now();
  compiler::SourceModel f32 = import_stories();
  const auto samples = calibration(f32, 32, 256, 0);
  std::printf("calibration 32 x 256 tokens: %.2f s\n", seconds_since(t0));

  compiler::SourceModel gptq = import_stories();
  compiler::QuantizeOptions go = options(fb::QuantMethod::GPTQ);
  std::vector<std::string> lines;
  go.progress = [&](const compiler::TensorDone& t) { lines.push_back(t.line()); };
  t0 = std::chrono::steady_clock::now();
  format::Status s = compiler::quantize_model(gptq, samples, go);
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::printf("GPTQ: %.2f s\n", seconds_since(t0));
  expect_quantized(gptq);
  EXPECT_EQ(lines.size(), count_linear(gptq));
  if (!lines.empty()) std::printf("  %s\n  ...\n  %s\n", lines.front().c_str(), lines.back().c_str());
  EXPECT_EQ(lines.front().rfind("layer 1/5 layers.0.attention.wq.weight", 0), 0u) << lines.front();

  // Deterministic: a second run packs the same bytes.
  compiler::SourceModel again = import_stories();
  s = compiler::quantize_model(again, samples, go);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(same_packing(gptq, again));

  compiler::SourceModel rtn = import_stories();
  t0 = std::chrono::steady_clock::now();
  s = compiler::quantize_model(rtn, samples, options(fb::QuantMethod::RTN));
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::printf("RTN: %.2f s\n", seconds_since(t0));
  expect_quantized(rtn);

  // GPTQ's layer losses are in H-weighted units, RTN's plain ½Σ(w−q)²: not comparable; the
  // perplexity is the common measure.
  dequantize_to_f32(gptq);
  dequantize_to_f32(rtn);
  t0 = std::chrono::steady_clock::now();
  const double ppl_f32 = perplexity_of(f32, dir, "f32");
  const double ppl_gptq = perplexity_of(gptq, dir, "gptq");
  const double ppl_rtn = perplexity_of(rtn, dir, "rtn");
  std::printf("perplexity, TinyStories val, 20 x 256 tokens: f32 %.4f  GPTQ 4-bit g32 %.4f  RTN 4-bit g32 %.4f "
              "(%.2f s)\n", ppl_f32, ppl_gptq, ppl_rtn, seconds_since(t0));
  EXPECT_LT(ppl_gptq, ppl_rtn);
  EXPECT_GE(ppl_gptq, ppl_f32 * 0.98);
  EXPECT_LT(ppl_gptq, ppl_f32 * 1.5);
  EXPECT_LT(ppl_rtn, ppl_f32 * 1.5);
}

// dequant(W) (rows, cols) of a packed weight, in input order, by the kernels' reference path.
std::vector<float> dequantized(const compiler::SourceTensor& t) {
  const compiler::PackedQuant& p = *t.quant;
  cpu::QuantView v{p.qweight.data(), p.scales.data(), p.zeros.empty() ? nullptr : p.zeros.data(),
                   p.g_idx.empty() ? nullptr : p.g_idx.data(), p.bits, p.group_size, t.shape[0], t.shape[1]};
  v.order = p.order.empty() ? nullptr : p.order.data();
  const format::Status s = cpu::check_quant_view(v, t.name.c_str());
  EXPECT_TRUE(s.ok()) << s.to_string();
  std::vector<float> w(v.rows * v.cols);
  if (s.ok()) cpu::dequantize(v, w.data());
  return w;
}

// Act-order GPTQ stores its weights sorted into group order (gptq-packed-k-sorted). The same
// quantization stored the old way (gptq-packed-k + perm: INGOTC_UNSORTED_ACT_ORDER=1) must
// dequantize to the same weights bit for bit, and the runtime must give the same perplexity on
// both (f32 activations: the sorted one runs the no-g_idx kernels, the other the g_idx path).
TEST(QuantizeModel, ActOrderSortedLayoutEqualsThePermLayout) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(kC4);
  INGOT_REQUIRE_SHARED(kTinyStories);
  TempDir dir;
  const auto samples = calibration(import_stories(), 16, 256, 0);
  const compiler::QuantizeOptions go = options(fb::QuantMethod::GPTQ);  // 4-bit g32 act-order
  ASSERT_TRUE(go.config.act_order && !go.config.static_groups);
  compiler::SourceModel sorted = import_stories(), perm = import_stories();
  format::Status s = compiler::quantize_model(sorted, samples, go);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(setenv("INGOTC_UNSORTED_ACT_ORDER", "1", 1), 0);
  s = compiler::quantize_model(perm, samples, go);
  unsetenv("INGOTC_UNSORTED_ACT_ORDER");
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(sorted.tensors.size(), perm.tensors.size());
  size_t n_sorted = 0;
  for (size_t i = 0; i < sorted.tensors.size(); ++i) {
    const compiler::SourceTensor &a = sorted.tensors[i], &b = perm.tensors[i];
    ASSERT_EQ(a.quant == nullptr, b.quant == nullptr) << a.name;
    if (a.quant == nullptr) continue;
    EXPECT_TRUE(b.quant->order.empty()) << a.name;
    EXPECT_TRUE(a.quant->g_idx.empty()) << a.name;
    // Every weight has several groups of 32 and a permuted g_idx the old way; all sortable.
    EXPECT_FALSE(b.quant->g_idx.empty()) << a.name;
    EXPECT_EQ(a.quant->order.size(), b.quant->g_idx.empty() ? 0u : a.shape[1]) << a.name;
    n_sorted += !a.quant->order.empty();
    EXPECT_EQ(a.quant->scales, b.quant->scales) << a.name;
    EXPECT_EQ(a.quant->zeros, b.quant->zeros) << a.name;
    EXPECT_EQ(dequantized(a), dequantized(b)) << a.name;
  }
  EXPECT_EQ(n_sorted, count_linear(sorted));
  const double ppl_sorted = perplexity_of(sorted, dir, "sorted", cpu::Activations::f32);
  const double ppl_perm = perplexity_of(perm, dir, "perm", cpu::Activations::f32);
  std::printf("act-order GPTQ 4-bit g32, TinyStories val 20 x 256, f32 activations: sorted layout %.6f, "
              "perm layout %.6f\n", ppl_sorted, ppl_perm);
  EXPECT_NEAR(ppl_sorted / ppl_perm, 1.0, 1e-4);
  // The sorted container names its layout.
  std::unique_ptr<format::Container> c;
  ASSERT_TRUE(format::Container::open(dir.file("sorted.ingot"), {}, &c).ok());
  const fb::Tensor* w2 = c->find_tensor("layers.0.feed_forward.w2.weight");
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(w2->layout(), fb::Layout::GptqPackedKSorted);
  EXPECT_STREQ(format::layout_name(w2->layout()), "gptq-packed-k-sorted");
  ASSERT_NE(w2->quant()->input_order(), nullptr);
  EXPECT_EQ(w2->quant()->perm(), nullptr);
}

TEST(QuantizeModel, WithoutTrueSequentialAllInputsComeFromTheFloatLayer) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(kC4);
  compiler::SourceModel seq = import_stories();
  const auto samples = calibration(seq, 16, 128, 0);
  compiler::SourceModel all = import_stories();
  compiler::QuantizeOptions o = options(fb::QuantMethod::GPTQ);
  ASSERT_TRUE(compiler::quantize_model(seq, samples, o).ok());
  o.true_sequential = false;
  ASSERT_TRUE(compiler::quantize_model(all, samples, o).ok());
  expect_quantized(all);
  // Layer 0's q/k/v see the same inputs either way; wo onwards differ.
  ASSERT_EQ(seq.layer_losses.size(), all.layer_losses.size());
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(seq.layer_losses[i]->loss, all.layer_losses[i]->loss) << i;
  EXPECT_NE(seq.layer_losses[3]->loss, all.layer_losses[3]->loss);
}

// stories260K with its classifier untied: output.weight becomes a copy of the embeddings.
compiler::SourceModel import_stories_untied() {
  compiler::SourceModel m = import_stories();
  const compiler::SourceTensor* emb = nullptr;
  for (const auto& t : m.tensors)
    if (t.name == "tok_embeddings.weight") emb = &t;
  EXPECT_NE(emb, nullptr);
  if (emb == nullptr) return m;
  compiler::SourceTensor out;
  out.name = "output.weight";
  out.dtype = emb->dtype;
  out.shape = emb->shape;
  out.owned.assign(emb->bytes.begin(), emb->bytes.end());
  out.bytes = out.owned;
  m.tensors.push_back(std::move(out));
  m.config.tied_embeddings = false;
  return m;
}

// --quantize-lm-head on an untied model: the classifier is quantized (GPTQ on the final-norm
// activations), the embedding lookup is not, its loss is reported, and GPTQ's classifier beats
// RTN's on perplexity with everything else equal.
TEST(QuantizeModel, QuantizeLmHeadOnAnUntiedModel) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED(kC4);
  INGOT_REQUIRE_SHARED(kTinyStories);
  TempDir dir;
  compiler::SourceModel base = import_stories_untied();
  const auto samples = calibration(base, 16, 256, 0);
  auto run = [&](fb::QuantMethod head_method, bool quantize_head) {
    compiler::SourceModel m = import_stories_untied();
    compiler::QuantizeOptions o = options(fb::QuantMethod::GPTQ);
    o.config.bits = 3;  // coarse enough that the classifier's method shows in the perplexity
    const format::Status s = compiler::quantize_model(m, samples, o);
    EXPECT_TRUE(s.ok()) << s.to_string();
    if (quantize_head) {
      // The head alone, by the method under test: a second pass over an already quantized
      // model would re-quantize the layers, so quantize the head on a fresh copy and move it.
      compiler::SourceModel h = import_stories_untied();
      compiler::QuantizeOptions oh = options(head_method);
      oh.config.bits = 3;
      oh.quantize_lm_head = true;
      const format::Status sh = compiler::quantize_model(h, samples, oh);
      EXPECT_TRUE(sh.ok()) << sh.to_string();
      for (auto& t : h.tensors)
        if (t.name == "output.weight") {
          EXPECT_NE(t.quant, nullptr);
          EXPECT_EQ(t.quant->bits, 3u);
          for (auto& u : m.tensors)
            if (u.name == "output.weight") u.quant = std::move(t.quant);
        }
      for (const auto& t : h.tensors) {
        if (t.name == "tok_embeddings.weight") {
          EXPECT_EQ(t.quant, nullptr);
        }
      }
      EXPECT_EQ(h.layer_losses.back()->tensor, "output.weight");
      EXPECT_GT(h.layer_losses.back()->loss, 0.0);
    }
    dequantize_to_f32(m);
    return perplexity_of(m, dir, "m");
  };
  const double ppl_float_head = run(fb::QuantMethod::GPTQ, false);
  const double ppl_gptq_head = run(fb::QuantMethod::GPTQ, true);
  const double ppl_rtn_head = run(fb::QuantMethod::RTN, true);
  std::printf("3-bit g32 GPTQ layers; classifier f32 %.4f, GPTQ %.4f, RTN %.4f\n", ppl_float_head, ppl_gptq_head,
              ppl_rtn_head);
  EXPECT_LT(ppl_gptq_head, ppl_rtn_head);
  EXPECT_GT(ppl_gptq_head, ppl_float_head * 0.98);
}

}  // namespace
}  // namespace ingot::test
