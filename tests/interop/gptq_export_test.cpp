// `ingotc export --format gptq`: the directory it writes, round trips through the importer, and
// atomicity. The independent reference is the shared community checkpoint stories260K-gptq-4b-g32
// (packed by AutoGPTQ): importing and exporting it again must give back its tensors byte for byte.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "export/gptq_export.h"
#include "export/hf_tokenizer_writer.h"
#include "import/hf_tokenizer.h"
#include "generate.h"
#include "gptq/gptq.h"
#include "gptq/pack.h"
#include "import/hf.h"
#include "interop_support.h"

namespace ingot::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* kG32 = "models/stories260K-gptq-4b-g32";
const char* kG64Act = "models/stories260K-gptq-4b-g64-act";

compiler::SourceModel import_dir(const fs::path& dir) {
  compiler::SourceModel m;
  const format::Status s = compiler::import_hf_directory(dir.string(), &m);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return m;
}

format::Status export_to(const std::string& model, const fs::path& dir, const std::string& fmt = "auto",
                         std::vector<std::string>* notes = nullptr) {
  compiler::GptqExportOptions o;
  o.checkpoint_format = fmt;
  std::vector<std::string> n;
  return compiler::export_gptq(model, dir.string(), o, notes != nullptr ? notes : &n);
}

void expect_same_quant(const compiler::SourceModel& a, const compiler::SourceModel& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const compiler::SourceTensor &x = a.tensors[i], &y = b.tensors[i];
    ASSERT_EQ(x.name, y.name);
    EXPECT_EQ(x.shape, y.shape) << x.name;
    ASSERT_EQ(x.quant == nullptr, y.quant == nullptr) << x.name;
    if (x.quant == nullptr) continue;
    EXPECT_EQ(x.quant->bits, y.quant->bits) << x.name;
    EXPECT_EQ(x.quant->group_size, y.quant->group_size) << x.name;
    EXPECT_EQ(x.quant->qweight, y.quant->qweight) << x.name;
    EXPECT_EQ(x.quant->scales, y.quant->scales) << x.name;
    EXPECT_EQ(x.quant->zeros, y.quant->zeros) << x.name;
    EXPECT_EQ(x.quant->g_idx, y.quant->g_idx) << x.name;
    EXPECT_EQ(x.quant->order, y.quant->order) << x.name;
  }
}

// The act-order checkpoint's down projections (in 192, 3 groups of 64, g_idx not k / 64) are
// stored sorted (gptq-packed-k-sorted); the export must unsort them back to AutoGPTQ's column
// order and g_idx, byte for byte.
// Every quantized tensor of `theirs` (qweight, qzeros, scales, g_idx) is in `ours` with the same
// dtype, shape and bytes; returns how many were compared.
size_t expect_same_quantized_tensors(const std::vector<StTensor>& ours, const std::vector<StTensor>& theirs) {
  std::map<std::string, const StTensor*> by_name;
  for (const StTensor& t : ours) by_name[t.name] = &t;
  size_t compared = 0;
  for (const StTensor& t : theirs) {
    const bool quant = t.name.find(".q") != std::string::npos || t.name.find(".scales") != std::string::npos ||
                       t.name.find(".g_idx") != std::string::npos;
    if (!quant) continue;
    const auto it = by_name.find(t.name);
    EXPECT_NE(it, by_name.end()) << t.name;
    if (it == by_name.end()) continue;
    const StTensor& o = *it->second;
    EXPECT_EQ(o.dtype, t.dtype) << t.name;
    EXPECT_EQ(o.shape, t.shape) << t.name;
    EXPECT_TRUE(o.data == t.data) << t.name;
    ++compared;
  }
  return compared;
}

TEST(GptqExport, ActOrderCheckpointComesBackByteForByte) {
  INGOT_REQUIRE_SHARED(kG64Act);
  TempDir tmp;
  auto model = compile_model(import_dir(shared_path(kG64Act)), tmp.file("act.ingot"));
  ASSERT_NE(model, nullptr);
  size_t sorted = 0;
  for (size_t i = 0; i < model->container().n_tensors(); ++i) {
    sorted += model->container().tensor(i).layout() == fb::Layout::GptqPackedKSorted;
  }
  EXPECT_EQ(sorted, 5u);  // one w2 a layer
  model.reset();
  ASSERT_TRUE(export_to(tmp.file("act.ingot"), tmp.path() / "out").ok());
  const std::vector<StTensor> ours = read_safetensors((tmp.path() / "out" / "model.safetensors").string());
  const std::vector<StTensor> theirs = read_safetensors(shared_path(kG64Act) + "/model.safetensors");
  EXPECT_EQ(expect_same_quantized_tensors(ours, theirs), 5u * 7u * 4u);
  size_t permuted = 0;
  for (const StTensor& t : theirs) {
    if (t.name.find("down_proj.g_idx") == std::string::npos) continue;
    // The checkpoint's g_idx is a real permutation of groups (else this test would prove nothing).
    std::vector<int32_t> g(t.data.size() / 4);
    std::memcpy(g.data(), t.data.data(), t.data.size());
    for (size_t k = 0; k < g.size(); ++k) permuted += g[k] != int32_t(k / 64);
  }
  EXPECT_GT(permuted, 0u);
  std::ifstream qf(tmp.path() / "out" / "quantize_config.json");
  const json qc = json::parse(qf);
  EXPECT_EQ(qc["desc_act"], true);
  EXPECT_EQ(qc["group_size"], 64);
}

TEST(GptqExport, SharedCheckpointComesBackByteForByte) {
  INGOT_REQUIRE_SHARED(kG32);
  TempDir tmp;
  ASSERT_NE(compile_model(import_dir(shared_path(kG32)), tmp.file("g32.ingot")), nullptr);
  std::vector<std::string> notes;
  const format::Status s = export_to(tmp.file("g32.ingot"), tmp.path() / "out", "auto", &notes);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("\"gptq\" (v1"), std::string::npos) << notes[0];
  // Every quantized tensor as AutoGPTQ wrote it (v1 qzeros of 7s, qweight, scales, g_idx).
  const std::vector<StTensor> ours = read_safetensors((tmp.path() / "out" / "model.safetensors").string());
  const std::vector<StTensor> theirs = read_safetensors(shared_path(kG32) + "/model.safetensors");
  EXPECT_EQ(expect_same_quantized_tensors(ours, theirs), 5u * 7u * 4u);
  // The configs say what GPTQ loaders read.
  std::ifstream qf(tmp.path() / "out" / "quantize_config.json"), cf(tmp.path() / "out" / "config.json");
  const json qc = json::parse(qf), config = json::parse(cf);
  EXPECT_EQ(qc["bits"], 4);
  EXPECT_EQ(qc["group_size"], 32);
  EXPECT_EQ(qc["desc_act"], false);
  EXPECT_EQ(qc["sym"], true);
  EXPECT_EQ(qc["quant_method"], "gptq");
  EXPECT_EQ(qc["checkpoint_format"], "gptq");
  EXPECT_EQ(config["quantization_config"], qc);
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["intermediate_size"], 192);
  EXPECT_TRUE(fs::exists(tmp.path() / "out" / "tokenizer.model"));
  // The SentencePiece model written is the same vocabulary as the one shipped.
  const compiler::SourceModel a = import_dir(shared_path(kG32)), b = import_dir(tmp.path() / "out");
  EXPECT_EQ(a.tokenizer.pieces, b.tokenizer.pieces);
  EXPECT_EQ(a.tokenizer.scores, b.tokenizer.scores);
  EXPECT_EQ(a.tokenizer.types, b.tokenizer.types);
  EXPECT_EQ(a.tokenizer.add_bos, b.tokenizer.add_bos);
  EXPECT_EQ(a.tokenizer.add_dummy_prefix, b.tokenizer.add_dummy_prefix);
}

TEST(GptqExport, RoundTripGivesIdenticalTensorsAndLogits) {
  INGOT_REQUIRE_SHARED(kG64Act);
  TempDir tmp;
  auto first = compile_model(import_dir(shared_path(kG64Act)), tmp.file("a.ingot"));
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(export_to(tmp.file("a.ingot"), tmp.path() / "out").ok());
  expect_same_quant(import_dir(shared_path(kG64Act)), import_dir(tmp.path() / "out"));
  auto second = compile_model(import_dir(tmp.path() / "out"), tmp.file("b.ingot"));
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(logits(*first), logits(*second));  // bit for bit
}

// A model compiled here from llama2.c (interleaved RoPE rows) and RTN-quantized: the export
// permutes q/k to transformers' order, and the re-import computes the same function.
compiler::SourceModel rtn_stories(int bits, int group, bool sym) {
  compiler::SourceModel m = copy_model(stories_llama2c());
  compiler::QuantConfig cfg;
  cfg.bits = bits, cfg.group_size = group, cfg.sym = sym, cfg.act_order = false;
  for (compiler::SourceTensor& t : m.tensors) {
    if (!compiler::is_linear_weight(t.name)) continue;
    std::vector<float> w(t.bytes.size() / 4);
    std::memcpy(w.data(), t.bytes.data(), t.bytes.size());
    // Asymmetric: make the first group of one row non-negative, so that its real zero is 0,
    // which v1 (stored zero − 1) cannot hold.
    if (!sym && t.name == "layers.0.attention.wv.weight") {
      for (size_t k = 0; k < size_t(group); ++k) w[k] = std::fabs(w[k]);
    }
    compiler::QuantResult r;
    EXPECT_TRUE(compiler::rtn_quantize(w.data(), t.shape[0], t.shape[1], cfg, &r).ok());
    t.quant = std::make_unique<compiler::PackedQuant>();
    EXPECT_TRUE(compiler::pack_result(r, cfg, fb::QuantMethod::RTN, t.shape[0], t.shape[1], t.quant.get()).ok());
  }
  return m;
}

TEST(GptqExport, InterleavedModelsArePermutedAndComputeTheSame) {
  REQUIRE_STORIES_BIN();
  struct Case {
    int bits, group;
    bool sym;
    const char* format;  // what auto should choose
  };
  for (const Case& c : {Case{3, -1, true, "gptq"}, Case{4, 32, false, "gptq_v2"}}) {
    SCOPED_TRACE(::testing::Message() << c.bits << "-bit g" << c.group);
    TempDir tmp;
    auto original = compile_model(rtn_stories(c.bits, c.group, c.sym), tmp.file("o.ingot"));
    ASSERT_NE(original, nullptr);
    std::vector<std::string> notes;
    const format::Status s = export_to(tmp.file("o.ingot"), tmp.path() / "out", "auto", &notes);
    ASSERT_TRUE(s.ok()) << s.to_string();
    std::ifstream qf(tmp.path() / "out" / "quantize_config.json");
    EXPECT_EQ(json::parse(qf)["checkpoint_format"], std::string(c.format)) << (notes.empty() ? "" : notes[0]);
    compiler::SourceModel back = import_dir(tmp.path() / "out");
    EXPECT_EQ(back.config.rope_form, fb::RopeForm::Half);
    // v, o and the FFN are not permuted: identical words.
    const compiler::SourceModel here = rtn_stories(c.bits, c.group, c.sym);
    std::map<std::string, const compiler::PackedQuant*> theirs;
    for (const compiler::SourceTensor& t : back.tensors) theirs[t.name] = t.quant.get();
    for (const compiler::SourceTensor& t : here.tensors) {
      const std::string& n = t.name;
      if (t.quant == nullptr || n.find(".wq.") != std::string::npos || n.find(".wk.") != std::string::npos) continue;
      ASSERT_NE(theirs[n], nullptr) << n;
      EXPECT_EQ(t.quant->qweight, theirs[n]->qweight) << n;
      EXPECT_EQ(t.quant->zeros, theirs[n]->zeros) << n;
    }
    auto again = compile_model(std::move(back), tmp.file("b.ingot"));
    ASSERT_NE(again, nullptr);
    EXPECT_LT(rel_rms(logits(*again), logits(*original)), 1e-6);
    EXPECT_EQ(runtime::prompt_tokens(*again, "Once upon a time, Lily"), runtime::prompt_tokens(*original, "Once upon a time, Lily"));
  }
}

TEST(GptqExport, FailuresLeaveNothingBehind) {
  REQUIRE_STORIES_BIN();
  TempDir tmp;
  ASSERT_NE(compile_model(copy_model(stories_llama2c()), tmp.file("fp.ingot")), nullptr);
  ASSERT_NE(compile_model(rtn_stories(4, 32, false), tmp.file("asym.ingot")), nullptr);
  const auto expect_error = [&](const format::Status& s, const char* part) {
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  };
  const std::vector<std::string> before = tmp.entries();
  expect_error(export_to(tmp.file("fp.ingot"), tmp.path() / "a"), "not quantized");
  expect_error(export_to(tmp.file("asym.ingot"), tmp.path() / "b", "gptq"), "gptq_v2");
  expect_error(export_to(tmp.file("absent.ingot"), tmp.path() / "c"), "absent.ingot");
  expect_error(export_to(tmp.file("asym.ingot"), tmp.path() / "d", "v3"), "v3");
  EXPECT_EQ(tmp.entries(), before);  // no directory, no temporary left
  // An existing non-empty directory is not touched; an empty one is filled.
  fs::create_directories(tmp.path() / "full");
  write_text(tmp.path() / "full" / "keep.txt", "x");
  expect_error(export_to(tmp.file("asym.ingot"), tmp.path() / "full"), "not an empty directory");
  EXPECT_TRUE(fs::exists(tmp.path() / "full" / "keep.txt"));
  fs::create_directories(tmp.path() / "empty");
  ASSERT_TRUE(export_to(tmp.file("asym.ingot"), tmp.path() / "empty").ok());
  EXPECT_TRUE(fs::exists(tmp.path() / "empty" / "model.safetensors"));
}

// The LLaMA-3 tokenizer written as tokenizer.json and read back is the same tokenizer.
TEST(GptqExport, ByteLevelTokenizerJsonRoundTrips) {
  INGOT_REQUIRE_SHARED(kLlama3Json);
  fb::TokenizerT a, b;
  compiler::HfTokenizerIds ids_a, ids_b;
  ASSERT_TRUE(compiler::load_hf_tokenizer(shared_path(kLlama3Json), shared_path(kLlama3Config), &a, &ids_a, nullptr).ok());
  std::string text;
  ASSERT_TRUE(compiler::write_hf_tokenizer_json(a, &text).ok());
  const std::string config = R"({"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "add_bos_token": true})";
  const format::Status s = compiler::import_hf_tokenizer(text, config, &b, &ids_b);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(a.pieces, b.pieces);
  EXPECT_EQ(a.types, b.types);
  EXPECT_EQ(a.merges, b.merges);
  EXPECT_EQ(a.pre_tokenizer_pattern, b.pre_tokenizer_pattern);
  EXPECT_EQ(a.special_tokens.size(), b.special_tokens.size());
  EXPECT_EQ(ids_b.bos_id, 128000);
  EXPECT_TRUE(b.add_bos);
  EXPECT_EQ(encode_with(a, kTokenizerText), encode_with(b, kTokenizerText));
}

int run(const std::string& cmd) { return std::system((cmd + " > /dev/null 2>&1").c_str()); }

TEST(GptqCli, IngotcBuildsAndExportsGptqDirectories) {
  INGOT_REQUIRE_SHARED(kG32);
  TempDir tmp;
  const std::string ingotc = INGOTC_BIN;
  ASSERT_EQ(run(ingotc + " build " + shared_path(kG32) + " -o " + tmp.file("m.ingot")), 0);
  EXPECT_NE(run(ingotc + " build " + shared_path(kG32) + " --method rtn -o " + tmp.file("x.ingot")), 0);
  ASSERT_EQ(run(ingotc + " export " + tmp.file("m.ingot") + " --format gptq -o " + tmp.file("dir")), 0);
  EXPECT_TRUE(fs::exists(tmp.path() / "dir" / "quantize_config.json"));
  EXPECT_NE(run(ingotc + " export " + tmp.file("m.ingot") + " --format awq -o " + tmp.file("dir2")), 0);
  EXPECT_FALSE(fs::exists(tmp.path() / "dir2"));
}

}  // namespace
}  // namespace ingot::test
