// Importing GPTQ checkpoints (AutoGPTQ / GPTQModel layout) without re-quantization.
//
// References independent of ingot's packer and exporter:
// - the shared community-made checkpoints stories260K-gptq-4b-g32 and -g64-act (quantized by the
//   GPTQ paper's code, packed by AutoGPTQ's QuantLinear.pack) and the perplexities and greedy ids
//   of shared/models/README.md, from an independent PyTorch forward pass;
// - fixtures written here: stories260K's linears quantized by a min/max quantizer in this file and
//   packed by the published rules (AutoGPTQ's pack: b ∈ {2,4,8} ORs value j << b·j into one word
//   per 32/b values; 3 bits: 32 values in 3 words, values 10 and 21 split; qzeros packed the same
//   way along the output dimension after `zeros -= 1` for v1), never by ingot's pack_gptq.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "cpu/quant.h"
#include "cpu/quant_int8.h"
#include "emit.h"
#include "generate.h"
#include "gptq/pack.h"
#include "import/gptq_checkpoint.h"
#include "import/hf.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "interop_support.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// ---- the shared checkpoints ----

double tinystories_ppl(const runtime::Model& m) {
  std::ifstream in(shared_path("data/tinystories/tinystories_val.txt"), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<int32_t> tokens = runtime::prompt_tokens(m, text.str());
  runtime::PerplexityResult r;
  const format::Status s = runtime::perplexity(m, tokens, 256, 200, nullptr, &r);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(r.n_chunks, 200u);
  return r.ppl;
}

std::vector<int32_t> greedy16(const runtime::Model& m) {
  runtime::Session session(m);
  runtime::GenerateParams p;
  p.n_predict = 16;
  p.sampler.temperature = 0;
  std::vector<int32_t> ids;
  const format::Status s = runtime::generate(session, runtime::prompt_tokens(m, "Once upon a time"), p,
                                             [&](int32_t id, const std::string&) {
                                               ids.push_back(id);
                                               return true;
                                             },
                                             nullptr);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return ids;
}

struct SharedCase {
  const char* dir;
  double ppl;  // shared/models/README.md
  int32_t group_size;
  bool act_order;
};

TEST(GptqShared, CheckpointsReproduceTheReferencePerplexityAndGreedyIds) {
  INGOT_REQUIRE_SHARED("data/tinystories/tinystories_val.txt");
  for (const SharedCase& c : {SharedCase{"models/stories260K-gptq-4b-g32", 4.4494, 32, false},
                              SharedCase{"models/stories260K-gptq-4b-g64-act", 4.5443, 64, true}}) {
    INGOT_REQUIRE_SHARED(c.dir);
    SCOPED_TRACE(c.dir);
    TempDir tmp;
    compiler::SourceModel m;
    const format::Status s = compiler::import_hf_directory(shared_path(c.dir), &m);
    ASSERT_TRUE(s.ok()) << s.to_string();
    // Symmetric v1 checkpoint: every stored zero 7, confirmed and dropped (zero = 8 implied).
    ASSERT_FALSE(m.notes.empty());
    EXPECT_NE(m.notes[0].find("confirmed"), std::string::npos) << m.notes[0];
    size_t quantized = 0;
    for (const compiler::SourceTensor& t : m.tensors) {
      if (t.quant == nullptr) continue;
      ++quantized;
      EXPECT_EQ(t.quant->bits, 4u);
      EXPECT_EQ(t.quant->group_size, c.group_size);
      EXPECT_TRUE(t.quant->zeros.empty());
      EXPECT_EQ(t.quant->act_order, c.act_order) << t.name;
      // in 64: one group of 64, g_idx trivial; in 192 (down): 3 groups, permuted under act-order,
      // whose g_idx (3 groups of 64) is stored sorted: an input order, no g_idx
      // (spec/quant-layouts.md §2.3).
      EXPECT_TRUE(t.quant->g_idx.empty()) << t.name;
      EXPECT_EQ(t.quant->order.size(), t.shape[1] == 192 && c.act_order ? 192u : 0u) << t.name;
    }
    EXPECT_EQ(quantized, 5u * 7u);
    auto model = compile_model(std::move(m), tmp.file("m.ingot"));
    ASSERT_NE(model, nullptr);
    EXPECT_EQ(model->container().find_tensor("layers.2.feed_forward.w2.weight")->layout(),
              c.act_order ? fb::Layout::GptqPackedKSorted : fb::Layout::GptqPackedK);
    if (c.act_order) {
      // The sorted weight runs on the int8 kernels (the act-order one on the f32 path before).
      const cpu::QuantView& v = model->layers[2].w2.quant;
      EXPECT_NE(v.order, nullptr);
      EXPECT_TRUE(cpu::quant_int8_supported(v));
    }
    EXPECT_EQ(greedy16(*model),
              (std::vector<int32_t>{432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337}));
    const double ppl = tinystories_ppl(*model);
    EXPECT_NEAR(ppl / c.ppl, 1.0, 1e-3) << "ppl " << ppl << ", reference " << c.ppl;
  }
}

// ---- fixtures packed here from the published rules ----

struct Quantized {
  std::vector<uint8_t> q;       // (out, in)
  std::vector<uint8_t> zero;    // (n_groups, out) real zeros
  std::vector<uint16_t> scale;  // (n_groups, out) f16
  std::vector<int32_t> g_idx;   // (in)
  std::vector<float> dequant;   // (out, in): scale · (q − zero)
};

uint16_t to_f16(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}
float from_f16(uint16_t u) {
  _Float16 h;
  std::memcpy(&h, &u, 2);
  return float(h);
}

// Min/max quantization of W (out, in) in groups of input columns; act-order visits the columns
// in a fixed permutation (descending index parity, then index), so groups are not contiguous.
Quantized quantize(const float* w, size_t out, size_t in, uint32_t bits, int32_t group, bool sym, bool act) {
  const uint32_t maxq = (1u << bits) - 1;
  const size_t gs = group == -1 ? in : size_t(group), n_groups = (in + gs - 1) / gs;
  Quantized r;
  std::vector<size_t> order(in);
  std::iota(order.begin(), order.end(), 0);
  if (act) std::stable_partition(order.begin(), order.end(), [](size_t k) { return k % 2 == 1; });
  r.g_idx.resize(in);
  for (size_t i = 0; i < in; ++i) r.g_idx[order[i]] = int32_t(i / gs);
  r.q.resize(out * in);
  r.zero.resize(n_groups * out);
  r.scale.resize(n_groups * out);
  r.dequant.resize(out * in);
  for (size_t o = 0; o < out; ++o) {
    for (size_t g = 0; g < n_groups; ++g) {
      float lo = 0, hi = 0;
      for (size_t k = 0; k < in; ++k) {
        if (size_t(r.g_idx[k]) == g) lo = std::min(lo, w[o * in + k]), hi = std::max(hi, w[o * in + k]);
      }
      if (sym) hi = std::max(-lo, hi), lo = -hi;
      float scale = (hi - lo) / float(maxq);
      if (scale == 0) scale = 1;
      const uint32_t zero = sym ? (maxq + 1) / 2 : uint32_t(std::lround(-lo / scale));
      const uint16_t s16 = to_f16(scale);
      r.scale[g * out + o] = s16;
      r.zero[g * out + o] = uint8_t(zero);
      for (size_t k = 0; k < in; ++k) {
        if (size_t(r.g_idx[k]) != g) continue;
        const long q = std::clamp(std::lround(w[o * in + k] / scale) + long(zero), 0L, long(maxq));
        r.q[o * in + k] = uint8_t(q);
        r.dequant[o * in + k] = from_f16(s16) * float(int32_t(q) - int32_t(zero));
      }
    }
  }
  return r;
}

// AutoGPTQ's packing of n values v(i) (each already a uint32, possibly 0xFFFFFFFF for v1's −1)
// into `words` words: for 2/4/8 bits `word[i·b/32] |= v << (b·(i mod 32/b))`; for 3 bits the
// three-word blocks spelled out in QuantLinear.pack.
std::vector<uint32_t> autogptq_pack(const std::function<uint32_t(size_t)>& v, size_t n, uint32_t b, size_t words) {
  std::vector<uint32_t> w(words, 0);
  const auto put = [&](size_t word, uint32_t value) {
    if (word < words) w[word] |= value;
  };
  if (b != 3) {
    const size_t per = 32 / b;
    for (size_t i = 0; i < n; ++i) put(i / per, v(i) << (b * (i % per)));
    return w;
  }
  for (size_t blk = 0; blk * 32 < n; ++blk) {
    const size_t base = blk * 32, row = blk * 3;
    const auto val = [&](size_t j) -> std::optional<uint32_t> {
      if (base + j >= n) return std::nullopt;
      return v(base + j);
    };
    for (size_t j = 0; j < 10; ++j) if (auto x = val(j)) put(row, *x << (3 * j));
    if (auto x = val(10)) put(row, *x << 30), put(row + 1, (*x >> 2) & 1);
    for (size_t j = 11; j < 21; ++j) if (auto x = val(j)) put(row + 1, *x << (3 * (j - 11) + 1));
    if (auto x = val(21)) put(row + 1, *x << 31), put(row + 2, (*x >> 1) & 3);
    for (size_t j = 22; j < 32; ++j) if (auto x = val(j)) put(row + 2, *x << (3 * (j - 22) + 2));
  }
  return w;
}

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return {b, b + n};
}

struct FixtureOptions {
  uint32_t bits = 4;
  int32_t group = 128;
  bool sym = true, act = false;
  std::string format = "gptq";  // "gptq" (v1) or "gptq_v2"
  bool store_real_zeros = false;  // v1 label, real zeros stored (a mislabelled checkpoint)
  bool in_config_json = false;   // quantization_config instead of quantize_config.json
};

// Writes a GPTQ directory of stories260K with every layer linear quantized as `o` asks; returns
// the expected dequantized weights by canonical name.
std::map<std::string, Quantized> write_fixture(const fs::path& dir, const FixtureOptions& o) {
  const compiler::SourceModel& src = stories_llama2c();
  std::vector<StTensor> tensors;
  std::map<std::string, Quantized> expect;
  for (const compiler::SourceTensor& t : src.tensors) {
    const std::string hf = hf_name(t.name);
    std::span<const float> f(reinterpret_cast<const float*>(t.bytes.data()), t.bytes.size() / 4);
    if (!compiler::is_linear_weight(t.name)) {
      tensors.push_back({hf, "F32", t.shape, bytes_of(f.data(), f.size() * 4)});
      continue;
    }
    const size_t out = t.shape[0], in = t.shape[1], b = o.bits;
    Quantized q = quantize(f.data(), out, in, o.bits, o.group, o.sym, o.act);
    const size_t n_groups = q.scale.size() / out;
    const std::string p = hf.substr(0, hf.size() - 7);
    const std::vector<uint32_t> qweight = [&] {
      std::vector<uint32_t> all;
      const size_t words = (in * b + 31) / 32;
      std::vector<uint32_t> w(words * out);
      for (size_t c = 0; c < out; ++c) {
        const std::vector<uint32_t> col = autogptq_pack([&](size_t k) { return uint32_t(q.q[c * in + k]); }, in, o.bits, words);
        for (size_t r = 0; r < words; ++r) w[r * out + c] = col[r];
      }
      return w;
    }();
    const size_t zwords = (out * b + 31) / 32;
    std::vector<uint32_t> qzeros;
    const bool v1 = o.format == "gptq" && !o.store_real_zeros;
    for (size_t g = 0; g < n_groups; ++g) {
      const auto row = autogptq_pack(
          [&](size_t c) { return uint32_t(int32_t(q.zero[g * out + c]) - (v1 ? 1 : 0)); }, out, o.bits, zwords);
      qzeros.insert(qzeros.end(), row.begin(), row.end());
      if (v1) {
        for (size_t c = 0; c < out; ++c) EXPECT_NE(q.zero[g * out + c], 0) << "fixture would need v1 overflow";
      }
    }
    tensors.push_back({p + ".qweight", "I32", {(in * b + 31) / 32, out}, bytes_of(qweight.data(), qweight.size() * 4)});
    tensors.push_back({p + ".qzeros", "I32", {n_groups, zwords}, bytes_of(qzeros.data(), qzeros.size() * 4)});
    tensors.push_back({p + ".scales", "F16", {n_groups, out}, bytes_of(q.scale.data(), q.scale.size() * 2)});
    tensors.push_back({p + ".g_idx", "I32", {in}, bytes_of(q.g_idx.data(), q.g_idx.size() * 4)});
    expect[t.name] = std::move(q);
  }
  const json qc = {{"bits", o.bits},        {"group_size", o.group}, {"desc_act", o.act},   {"sym", o.sym},
                   {"static_groups", false}, {"quant_method", "gptq"}, {"checkpoint_format", o.format}};
  write_gptq_dir(dir, tensors, o.in_config_json ? qc : json(), o.in_config_json ? json() : qc);
  return expect;
}

// dequant(W) of an imported tensor, by ingot's reference CPU kernel.
std::vector<float> dequantized(const compiler::PackedQuant& p, size_t out, size_t in) {
  cpu::QuantView v{p.qweight.data(), p.scales.data(), p.zeros.empty() ? nullptr : p.zeros.data(),
                   p.g_idx.empty() ? nullptr : p.g_idx.data(), p.bits, p.group_size, out, in};
  v.order = p.order.empty() ? nullptr : p.order.data();  // an act-order weight stored sorted
  EXPECT_TRUE(cpu::check_quant_view(v).ok());
  std::vector<float> w(out * in);
  cpu::dequantize(v, w.data());
  return w;
}

void expect_reproduces(const compiler::SourceModel& m, const std::map<std::string, Quantized>& expect) {
  size_t seen = 0;
  for (const compiler::SourceTensor& t : m.tensors) {
    const auto it = expect.find(t.name);
    if (it == expect.end()) continue;
    ++seen;
    ASSERT_NE(t.quant, nullptr) << t.name;
    const std::vector<float> w = dequantized(*t.quant, t.shape[0], t.shape[1]);
    ASSERT_EQ(w.size(), it->second.dequant.size());
    for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], it->second.dequant[i]) << t.name << " element " << i;
  }
  EXPECT_EQ(seen, expect.size());
}

TEST(GptqFixtures, ImporterReproducesTheDequantizedWeights) {
  REQUIRE_STORIES_BIN();
  for (uint32_t bits : {4u, 3u, 2u, 8u}) {
    for (int32_t group : {128, -1, 32}) {
      for (bool act : {false, true}) {
        for (bool sym : {true, false}) {
          for (const char* format : {"gptq", "gptq_v2"}) {
            if (group == 32 && (act || !sym)) continue;  // g32 once per width is enough
            // 2 and 8 bits (same code paths as 4): g32 and per-channel act-order only.
            if ((bits == 2 || bits == 8) && group == 128) continue;
            FixtureOptions o;
            o.bits = bits, o.group = group, o.act = act, o.sym = sym, o.format = format;
            o.in_config_json = act;  // both places the settings may live
            SCOPED_TRACE(::testing::Message() << bits << "-bit g" << group << (act ? " act" : "")
                                              << (sym ? " sym " : " asym ") << format);
            TempDir tmp;
            const auto expect = write_fixture(tmp.path() / "ck", o);
            compiler::SourceModel m;
            const format::Status s = compiler::import_hf_directory((tmp.path() / "ck").string(), &m);
            ASSERT_TRUE(s.ok()) << s.to_string();
            expect_reproduces(m, expect);
            const compiler::SourceTensor& wq = m.tensors[2];
            ASSERT_EQ(wq.name, "layers.0.attention.wq.weight");
            EXPECT_EQ(wq.quant->act_order, act);
            EXPECT_EQ(wq.quant->zeros.empty(), sym);
            // w2 (in 172): groups of 128 or 32 are several, so act-order has a real g_idx, whose
            // groups (128 and 44 columns) are stored sorted: an input order instead.
            const compiler::SourceTensor& w2 = m.tensors[8];
            ASSERT_EQ(w2.name, "layers.0.feed_forward.w2.weight");
            EXPECT_TRUE(w2.quant->g_idx.empty());
            EXPECT_EQ(w2.quant->order.empty(), !act || group == -1);
          }
        }
      }
    }
  }
}

// A g_idx whose groups do not each hold group_size columns cannot be stored sorted: the weight
// keeps gptq-packed-k with its perm, and the importer says so; the sortable ones are sorted.
TEST(GptqFixtures, UnsortableGIdxKeepsThePermWithANote) {
  REQUIRE_STORIES_BIN();
  TempDir tmp;
  FixtureOptions o;
  o.group = 32, o.act = true;
  const fs::path dir = tmp.path() / "ck";
  write_fixture(dir, o);
  std::vector<StTensor> tensors = read_safetensors((dir / "model.safetensors").string());
  std::ifstream in(dir / "quantize_config.json");
  const json qc = json::parse(in);
  size_t moved = 0;
  for (StTensor& t : tensors) {
    if (t.name != "model.layers.1.mlp.down_proj.g_idx") continue;
    // One column of group 0 moved to group 1: groups of 31 and 33 columns (in 172, g32).
    for (size_t k = 0; k < t.data.size() / 4 && moved == 0; ++k) {
      int32_t g;
      std::memcpy(&g, t.data.data() + 4 * k, 4);
      if (g != 0) continue;
      g = 1;
      std::memcpy(t.data.data() + 4 * k, &g, 4);
      ++moved;
    }
  }
  ASSERT_EQ(moved, 1u);
  write_gptq_dir(dir, tensors, json(), qc);
  compiler::SourceModel m;
  const format::Status s = compiler::import_hf_directory(dir.string(), &m);
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::string notes;
  for (const std::string& n : m.notes) notes += n + "\n";
  EXPECT_NE(notes.find("act-order: 1 weight(s) (first 'model.layers.1.mlp.down_proj.weight') have groups that do "
                       "not each hold group_size input columns"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("stored with their input columns sorted into group order"), std::string::npos) << notes;
  for (const compiler::SourceTensor& t : m.tensors) {
    if (t.quant == nullptr) continue;
    const bool bad = t.name == "layers.1.feed_forward.w2.weight";
    EXPECT_EQ(t.quant->g_idx.empty(), !bad) << t.name;
    EXPECT_EQ(t.quant->order.empty(), bad) << t.name;
  }
  auto model = compile_model(std::move(m), tmp.file("m.ingot"));
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->container().find_tensor("layers.1.feed_forward.w2.weight")->layout(), fb::Layout::GptqPackedK);
  EXPECT_EQ(model->container().find_tensor("layers.0.feed_forward.w2.weight")->layout(),
            fb::Layout::GptqPackedKSorted);
  EXPECT_FALSE(cpu::quant_int8_supported(model->layers[1].w2.quant));
  EXPECT_TRUE(cpu::quant_int8_supported(model->layers[0].w2.quant));
}

// The container reader cannot look inside blobs: a corrupt input_order (a repeated or an
// out-of-range column) must be refused when the model loads, naming the tensor.
TEST(GptqFixtures, CorruptInputOrderIsRefusedAtLoad) {
  REQUIRE_STORIES_BIN();
  for (const int32_t bad : {0, -1, 172}) {  // 0: order[7] = order[6], a repeat; else this value
    SCOPED_TRACE(bad);
    TempDir tmp;
    FixtureOptions o;
    o.group = 32, o.act = true;
    write_fixture(tmp.path() / "ck", o);
    compiler::SourceModel m;
    const format::Status s = compiler::import_hf_directory((tmp.path() / "ck").string(), &m);
    ASSERT_TRUE(s.ok()) << s.to_string();
    for (compiler::SourceTensor& t : m.tensors) {
      if (t.name != "layers.2.feed_forward.w2.weight") continue;
      ASSERT_EQ(t.quant->order.size(), 172u);
      t.quant->order[7] = bad == 0 ? t.quant->order[6] : bad;
    }
    const std::string path = tmp.file("m.ingot");
    compiler::EmitOptions eo;
    ASSERT_TRUE(compiler::emit(m, path, eo).ok());
    std::unique_ptr<runtime::Model> model;
    const format::Status l = runtime::Model::load(path, {}, &model);
    ASSERT_FALSE(l.ok());
    EXPECT_NE(l.message().find("layers.2.feed_forward.w2.weight"), std::string::npos) << l.message();
    EXPECT_NE(l.message().find(bad == 0 ? "repeats an earlier entry" : "input_order[7] = " + std::to_string(bad)),
              std::string::npos)
        << l.message();
  }
}

TEST(GptqFixtures, ImportedLogitsEqualTheDenseDequantizedModel) {
  REQUIRE_STORIES_BIN();
  TempDir tmp;
  FixtureOptions o;
  o.bits = 3, o.group = 32, o.sym = false, o.act = true, o.format = "gptq_v2";  // v2: some zeros are 0
  const auto expect = write_fixture(tmp.path() / "ck", o);
  compiler::SourceModel q, d;
  ASSERT_TRUE(compiler::import_hf_directory((tmp.path() / "ck").string(), &q).ok());
  ASSERT_TRUE(compiler::import_hf_directory((tmp.path() / "ck").string(), &d).ok());
  for (compiler::SourceTensor& t : d.tensors) {
    if (t.quant == nullptr) continue;
    const std::vector<float>& w = expect.at(t.name).dequant;
    t.owned = bytes_of(w.data(), w.size() * 4);
    t.bytes = t.owned;
    t.dtype = fb::DType::F32;
    t.quant.reset();
  }
  auto mq = compile_model(std::move(q), tmp.file("q.ingot"));
  auto md = compile_model(std::move(d), tmp.file("d.ingot"));
  ASSERT_TRUE(mq && md);
  EXPECT_LT(rel_rms(logits(*mq), logits(*md)), 1e-5);
}

TEST(GptqZeros, MislabelledSymmetricCheckpointIsDetectedAndReported) {
  REQUIRE_STORIES_BIN();
  TempDir tmp;
  FixtureOptions o;
  o.store_real_zeros = true;  // labelled "gptq" (v1) but holding 8s
  const auto expect = write_fixture(tmp.path() / "ck", o);
  compiler::SourceModel m;
  ASSERT_TRUE(compiler::import_hf_directory((tmp.path() / "ck").string(), &m).ok());
  ASSERT_FALSE(m.notes.empty());
  EXPECT_NE(m.notes[0].find("read as v2"), std::string::npos) << m.notes[0];
  expect_reproduces(m, expect);
}

// A real zero of 0 cannot be stored as v1's zero − 1. Two writers meet it differently:
// GPTQModel's v2→v1 subtracts 0x11111111 from whole words (the field borrows from the one
// above), AutoGPTQ's packer ORs (uint32)(−1) << shift (ones spill over every field above).
TEST(GptqZeros, V1OverflowSpillAndBorrow) {
  const auto pack4 = [](std::initializer_list<uint32_t> v) {
    uint32_t w = 0, i = 0;
    for (uint32_t x : v) w |= x << (4 * i++);
    return w;
  };
  uint8_t real[8];
  compiler::GptqOverflow ov;
  // Borrow: whole-word subtraction is undone exactly.
  const uint32_t borrowed = pack4({3, 0, 5, 1, 0, 2, 9, 15}) - 0x11111111u;
  EXPECT_EQ(borrowed, pack4({2, 15, 3, 0, 15, 0, 8, 14}));  // worked by hand
  compiler::gptq_v1_zeros_to_real(&borrowed, 8, 4, real, &ov);
  EXPECT_EQ(std::vector<uint8_t>(real, real + 8), (std::vector<uint8_t>{3, 0, 5, 1, 0, 2, 9, 15}));
  EXPECT_EQ(ov.overflow_fields, 2u);
  EXPECT_EQ(ov.spill_words, 0u);
  // Spill: the fields above are lost; read as AutoGPTQ's dequantization does ((f + 1) & 15).
  ov = {};
  const uint32_t spilled = pack4({2}) | (0xffffffffu << 4);  // real zeros 3, 0, then anything
  compiler::gptq_v1_zeros_to_real(&spilled, 8, 4, real, &ov);
  EXPECT_EQ(std::vector<uint8_t>(real, real + 8), (std::vector<uint8_t>{3, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(ov.overflow_fields, 7u);
  EXPECT_EQ(ov.spill_words, 1u);
  // No overflow: plain + 1 per field, also for 3 bits (a field straddling two words).
  ov = {};
  const uint32_t three[2] = {0x88FAC688u, 0x00000006u};  // spec §2.2's Q3 example: 0 1 2 3 4 5 6 7 0 1 2 3
  uint8_t r3[12];
  compiler::gptq_v1_zeros_to_real(three, 12, 3, r3, &ov);
  EXPECT_EQ(std::vector<uint8_t>(r3, r3 + 12), (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4}));
  EXPECT_EQ(ov.overflow_fields, 1u);  // the 7
}

TEST(GptqErrors, BadCheckpointsAreClearErrors) {
  REQUIRE_STORIES_BIN();
  TempDir tmp;
  const auto expect_error = [&](const std::string& name, const std::function<void(json&, std::vector<StTensor>&)>& edit,
                                std::initializer_list<const char*> parts) {
    SCOPED_TRACE(name);
    const fs::path dir = tmp.path() / name;
    write_fixture(dir, {});
    // Re-read what was written, edit, write again.
    std::vector<StTensor> tensors = read_safetensors((dir / "model.safetensors").string());
    std::ifstream in(dir / "quantize_config.json");
    json qc = json::parse(in);
    edit(qc, tensors);
    write_gptq_dir(dir, tensors, json(), qc);
    compiler::SourceModel m;
    const format::Status s = compiler::import_hf_directory(dir.string(), &m);
    ASSERT_FALSE(s.ok());
    for (const char* p : parts) EXPECT_NE(s.message().find(p), std::string::npos) << p << " not in: " << s.message();
  };
  const auto find = [](std::vector<StTensor>& t, const std::string& name) -> StTensor& {
    for (StTensor& x : t) {
      if (x.name == name) return x;
    }
    throw std::runtime_error("no " + name);
  };
  expect_error("bits", [](json& qc, auto&) { qc["bits"] = 5; }, {"bits = 5"});
  expect_error("method", [](json& qc, auto&) { qc["quant_method"] = "awq"; }, {"awq", "not supported"});
  expect_error("marlin", [](json& qc, auto&) { qc["checkpoint_format"] = "marlin"; }, {"marlin"});
  expect_error("group", [](json& qc, auto&) { qc["group_size"] = 0; }, {"group_size = 0"});
  expect_error("shape", [&](json&, auto& t) {
    StTensor& q = find(t, "model.layers.1.mlp.down_proj.qweight");
    q.shape = {21, 64};
    q.data.resize(21 * 64 * 4);
  },
               {"model.layers.1.mlp.down_proj.qweight", "[21, 64]", "[22, 64]"});
  expect_error("dtype", [&](json&, auto& t) { find(t, "model.layers.0.self_attn.q_proj.scales").dtype = "BF16"; },
               {"q_proj.scales", "BF16", "not F16"});
  expect_error("missing", [&](json&, auto& t) {
    t.erase(std::find_if(t.begin(), t.end(), [](const StTensor& x) { return x.name == "model.layers.4.mlp.up_proj.qzeros"; }));
  }, {"model.layers.4.mlp.up_proj.qzeros", "missing"});
  expect_error("g_idx", [&](json&, auto& t) {
    StTensor& g = find(t, "model.layers.0.self_attn.k_proj.g_idx");
    const int32_t bad = 7;
    std::memcpy(g.data.data() + 4 * 5, &bad, 4);
  }, {"k_proj.g_idx", "element 5 = 7"});
  expect_error("bias", [&](json&, auto& t) {
    std::vector<float> b(64, 0.0f);
    b[3] = 0.5f;
    t.push_back({"model.layers.0.self_attn.o_proj.bias", "F32", {64}, bytes_of(b.data(), 256)});
  }, {"o_proj.bias", "not an all-zero", "biases are not supported"});
  expect_error("extra", [&](json&, auto& t) {
    t.push_back({"model.layers.0.self_attn.rotary.qweight", "I32", {1, 1}, std::vector<uint8_t>(4)});
  }, {"model.layers.0.self_attn.rotary.qweight", "refusing"});
}

}  // namespace
}  // namespace ingot::test
