// The runtime's quantized path end to end on stories260K: RTN-quantize every linear weight (the
// quantizer and packer are tested on their own), write the container in the GPTQ layout, and
// check that the runtime's quant_matmul path gives the logits of the same weights dequantized
// into an f32 container, for every bits × group × sym/asym; 8-bit stays within 0.5% of FP in
// perplexity.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include "cpu/convert.h"
#include "cpu/quant.h"
#include "cpu/quant_int8.h"
#include "emit.h"
#include "generate.h"
#include "gptq/gptq.h"
#include "gptq/pack.h"
#include "import/llama2c.h"
#include "import/tokenizer_files.h"
#include "sample_container.h"
#include "shared_assets.h"

namespace ingot::test {
namespace {

const char* kCheckpoint = "models/stories260K/stories260K.bin";

compiler::SourceModel import_stories() {
  compiler::SourceModel m;
  EXPECT_TRUE(compiler::import_llama2c(shared_path(kCheckpoint), &m).ok());
  EXPECT_TRUE(compiler::import_tokenizer_file(shared_path("models/stories260K/tok512.model"), &m).ok());
  return m;
}

// Quantizes every linear weight with RTN; when `dense` is set, replaces each by its dequantized
// f32 values instead (what the quantized container means, computed by cpu::dequantize).
void quantize(compiler::SourceModel& m, const compiler::QuantConfig& cfg, bool dense) {
  for (compiler::SourceTensor& t : m.tensors) {
    if (!compiler::is_linear_weight(t.name)) continue;
    const size_t out = t.shape[0], in = t.shape[1];
    std::vector<float> w(out * in);
    std::memcpy(w.data(), t.bytes.data(), w.size() * 4);  // stories260K is f32
    compiler::QuantResult r;
    ASSERT_TRUE(compiler::rtn_quantize(w.data(), out, in, cfg, &r).ok());
    auto p = std::make_unique<compiler::PackedQuant>();
    ASSERT_TRUE(compiler::pack_result(r, cfg, fb::QuantMethod::RTN, out, in, p.get()).ok());
    if (!dense) {
      t.quant = std::move(p);
      continue;
    }
    cpu::QuantView v{p->qweight.data(), p->scales.data(), p->zeros.empty() ? nullptr : p->zeros.data(),
                     p->g_idx.empty() ? nullptr : p->g_idx.data(), p->bits, p->group_size, out, in};
    t.owned.resize(out * in * 4);
    cpu::dequantize(v, reinterpret_cast<float*>(t.owned.data()));
    t.bytes = t.owned;
  }
}

std::unique_ptr<runtime::Model> load(const TempDir& dir, const std::string& name, cpu::Activations activations) {
  std::unique_ptr<runtime::Model> model;
  // f32 KV pages: the two models compared here differ in the last bits of their projections, which
  // f16 pages could round to neighbouring values (tests/model/batch_test.cpp covers f16 pages).
  runtime::LoadOptions options;
  options.verify_checksums = true;
  options.kv_dtype = runtime::KvDtype::f32;
  options.activations = activations;
  const format::Status s = runtime::Model::load(dir.file(name), options, &model);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return model;
}

// Writes `m` and loads it; the quantized linears' activations stay f32 unless `activations` says.
std::unique_ptr<runtime::Model> build(const TempDir& dir, const std::string& name, compiler::SourceModel m,
                                      cpu::Activations activations = cpu::Activations::f32) {
  compiler::EmitOptions opt;
  opt.dtype = fb::DType::F32;
  EXPECT_TRUE(compiler::emit(m, dir.file(name), opt).ok());
  return load(dir, name, activations);
}

TEST(QuantizedRuntime, QuantMatmulPathEqualsDequantizedWeights) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  // The f32-activation path (build's default): it must equal the dequantized weights to f32
  // rounding. The int8 one adds its own (bounded) error: tests/quant/quant_int8_test.cpp, and
  // perplexity below.
  TempDir dir;
  const std::vector<int32_t> tokens = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317};
  for (int bits : {2, 3, 4, 8}) {
    for (int group : {-1, 32, 16}) {
      for (bool sym : {true, false}) {
        compiler::QuantConfig cfg;
        cfg.bits = bits, cfg.group_size = group, cfg.sym = sym, cfg.act_order = false;
        compiler::SourceModel q = import_stories(), d = import_stories();
        quantize(q, cfg, false);
        quantize(d, cfg, true);
        auto mq = build(dir, "q.ingot", std::move(q));
        auto md = build(dir, "d.ingot", std::move(d));
        ASSERT_TRUE(mq && md);
        EXPECT_EQ(mq->container().find_tensor("layers.0.attention.wq.weight")->layout(), fb::Layout::GptqPackedK);
        std::vector<float> lq, ld;
        runtime::Session sq(*mq), sd(*md);
        ASSERT_TRUE(sq.eval(tokens, nullptr, &lq).ok());
        ASSERT_TRUE(sd.eval(tokens, nullptr, &ld).ok());
        double num = 0, den = 0;
        for (size_t i = 0; i < lq.size(); ++i) num += (lq[i] - ld[i]) * (lq[i] - ld[i]), den += ld[i] * ld[i];
        EXPECT_LT(std::sqrt(num / den), 1e-5) << bits << "-bit g" << group << (sym ? " sym" : " asym");
        // And one token at a time (the decode kernel) agrees with the batch (the prefill kernel).
        runtime::Session s1(*mq);
        std::vector<float> l1(mq->dims().vocab);
        for (int32_t t : tokens) ASSERT_TRUE(s1.eval({&t, 1}, l1.data()).ok());
        for (size_t v = 0; v < l1.size(); ++v) {
          ASSERT_NEAR(l1[v], lq[(tokens.size() - 1) * l1.size() + v], 1e-3);
        }
      }
    }
  }
}

TEST(QuantizedRuntime, EightBitStaysWithinHalfAPercentOfFp) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED("data/tinystories/tinystories_val.txt");
  TempDir dir;
  compiler::QuantConfig cfg;
  cfg.bits = 8, cfg.group_size = 32, cfg.sym = false, cfg.act_order = false;
  compiler::SourceModel q = import_stories();
  quantize(q, cfg, false);
  auto fp = build(dir, "fp.ingot", import_stories());
  auto q8 = build(dir, "q8.ingot", std::move(q));
  std::ifstream in(shared_path("data/tinystories/tinystories_val.txt"), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<int32_t> tokens = runtime::prompt_tokens(*fp, text.str());
  runtime::PerplexityResult a, b;
  ASSERT_TRUE(runtime::perplexity(*fp, tokens, 256, 20, nullptr, &a).ok());
  ASSERT_TRUE(runtime::perplexity(*q8, tokens, 256, 20, nullptr, &b).ok());
  std::printf("[ quantized ] fp ppl %.4f, rtn 8-bit g32 asym ppl %.4f\n", a.ppl, b.ppl);
  EXPECT_LT(std::fabs(b.ppl / a.ppl - 1), 0.005);
}

// Int8 activations against the f32-activation path on the same quantized model: perplexity of
// stories260K within 0.3% (issue 16), for the 4-bit and 8-bit cases the int8 kernels take.
TEST(QuantizedRuntime, Int8ActivationsKeepPerplexityWithinAThirdOfAPercent) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  INGOT_REQUIRE_SHARED("data/tinystories/tinystories_val.txt");
  TempDir dir;
  std::ifstream in(shared_path("data/tinystories/tinystories_val.txt"), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  for (auto [bits, group, sym] : {std::tuple{4, 32, true}, std::tuple{4, 32, false}, std::tuple{4, -1, true},
                                  std::tuple{8, 32, false}}) {
    compiler::QuantConfig cfg;
    cfg.bits = bits, cfg.group_size = group, cfg.sym = sym, cfg.act_order = false;
    compiler::SourceModel q = import_stories();
    quantize(q, cfg, false);
    auto m = build(dir, "q.ingot", std::move(q), cpu::Activations::f32);
    auto m8 = load(dir, "q.ingot", cpu::Activations::int8);
    ASSERT_TRUE(m && m8);
    ASSERT_EQ(m->activations(), cpu::Activations::f32);
    ASSERT_EQ(m8->activations(), cpu::Activations::int8);
    const std::vector<int32_t> tokens = runtime::prompt_tokens(*m, text.str());
    runtime::PerplexityResult f32, i8;
    ASSERT_TRUE(runtime::perplexity(*m, tokens, 256, 20, nullptr, &f32).ok());
    ASSERT_TRUE(runtime::perplexity(*m8, tokens, 256, 20, nullptr, &i8).ok());
    ASSERT_NE(f32.ppl, i8.ppl);  // the two models took different paths
    std::printf("[ int8 act ] rtn %d-bit g%d %s: ppl f32 activations %.4f, int8 activations %.4f (%+.3f%%)\n", bits,
                group, sym ? "sym" : "asym", f32.ppl, i8.ppl, 100 * (i8.ppl / f32.ppl - 1));
    EXPECT_LT(std::fabs(i8.ppl / f32.ppl - 1), 0.003) << bits << "-bit g" << group;
  }
}

TEST(QuantizedRuntime, CorruptGroupIndexIsRefusedAtLoad) {
  INGOT_REQUIRE_SHARED(kCheckpoint);
  TempDir dir;
  compiler::QuantConfig cfg;
  cfg.bits = 4, cfg.group_size = 32, cfg.act_order = false;
  compiler::SourceModel q = import_stories();
  quantize(q, cfg, false);
  // A g_idx naming group 99 of 2 (the format cannot see inside blobs; the runtime must).
  for (compiler::SourceTensor& t : q.tensors) {
    if (t.name == "layers.1.attention.wk.weight") t.quant->g_idx.assign(t.shape[1], 99);
  }
  compiler::EmitOptions opt;
  ASSERT_TRUE(compiler::emit(q, dir.file("bad.ingot"), opt).ok());
  std::unique_ptr<runtime::Model> m;
  const format::Status s = runtime::Model::load(dir.file("bad.ingot"), {}, &m);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("layers.1.attention.wk.weight"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace ingot::test
