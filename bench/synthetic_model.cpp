// Writes a LLaMA-shaped container with random weights, for benchmarks at shapes no real model
// in shared/ has (the weights are noise; speed does not care).
//   synthetic-model OUT.ingot [--dim 4096 --layers 32 --heads 32 --kv-heads 8 --ffn 14336
//                              --vocab 32000 --context 4096 --dtype f16 --seed 0]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "cpu/convert.h"
#include "ingot/format/writer.h"

using namespace ingot;

int main(int argc, char** argv) {
  CLI::App app{"synthetic-model: a LLaMA-shaped container with random weights"};
  std::string out, dtype = "f16";
  uint32_t dim = 768, layers = 12, heads = 12, kv_heads = 4, ffn = 2048, vocab = 32000, context = 2048, seed = 0;
  app.add_option("OUT", out)->required();
  app.add_option("--dim", dim)->capture_default_str();
  app.add_option("--layers", layers)->capture_default_str();
  app.add_option("--heads", heads)->capture_default_str();
  app.add_option("--kv-heads", kv_heads)->capture_default_str();
  app.add_option("--ffn", ffn)->capture_default_str();
  app.add_option("--vocab", vocab)->capture_default_str();
  app.add_option("--context", context)->capture_default_str();
  app.add_option("--dtype", dtype, "f32, f16 or bf16")->capture_default_str();
  app.add_option("--seed", seed)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::optional<fb::DType> dt = format::dtype_from_name(dtype.c_str());
  if (!dt || (*dt != fb::DType::F32 && *dt != fb::DType::F16 && *dt != fb::DType::BF16) || heads == 0 ||
      dim % heads != 0 || kv_heads == 0 || heads % kv_heads != 0) {
    std::fprintf(stderr, "synthetic-model: bad --dtype or head counts\n");
    return 2;
  }
  std::unique_ptr<format::Writer> w;
  format::Status s = format::Writer::create(out, {}, &w);
  const uint32_t hd = dim / heads;
  fb::ModelConfigT c;
  c.architecture = "llama";
  c.dim = dim, c.n_layer = layers, c.n_head = heads, c.n_head_kv = kv_heads, c.head_dim = hd, c.ffn_dim = ffn;
  c.vocab_size = vocab, c.context_length = context, c.bos_id = 1, c.eos_id = 2;
  if (s.ok()) w->set_config(std::move(c));

  std::mt19937 rng(seed);
  std::vector<uint8_t> buf;
  auto add = [&](const std::string& name, std::vector<uint64_t> shape) {
    if (!s.ok()) return;
    const bool is_norm = shape.size() == 1;
    const fb::DType t = is_norm ? fb::DType::F32 : *dt;
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    const float scale = is_norm ? 0.0f : 1.0f / std::sqrt(float(shape.back()));
    buf.resize(n * (format::dtype_bits(t) / 8));
    std::uniform_real_distribution<float> u(-scale, scale);
    for (uint64_t i = 0; i < n; ++i) {
      const float v = is_norm ? 1.0f : u(rng);
      if (t == fb::DType::F32) {
        std::memcpy(buf.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = t == fb::DType::F16 ? cpu::f32_to_f16(v) : cpu::f32_to_bf16(v);
        std::memcpy(buf.data() + 2 * i, &h, 2);
      }
    }
    s = w->add_tensor({name, t, shape}, format::BlobSource(buf));
  };
  add("tok_embeddings.weight", {vocab, dim});
  for (uint32_t l = 0; l < layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add(p + "attention_norm.weight", {dim});
    add(p + "attention.wq.weight", {uint64_t(heads) * hd, dim});
    add(p + "attention.wk.weight", {uint64_t(kv_heads) * hd, dim});
    add(p + "attention.wv.weight", {uint64_t(kv_heads) * hd, dim});
    add(p + "attention.wo.weight", {dim, uint64_t(heads) * hd});
    add(p + "ffn_norm.weight", {dim});
    add(p + "feed_forward.w1.weight", {ffn, dim});
    add(p + "feed_forward.w2.weight", {dim, ffn});
    add(p + "feed_forward.w3.weight", {ffn, dim});
  }
  add("norm.weight", {dim});
  add("output.weight", {vocab, dim});
  if (s.ok()) s = w->finish();
  if (!s.ok()) {
    std::fprintf(stderr, "synthetic-model: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}
