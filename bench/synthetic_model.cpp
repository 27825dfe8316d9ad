// Writes a LLaMA-shaped container with random weights, for benchmarks at shapes no real model
// in shared/ has (the weights are noise; speed does not care).
//   synthetic-model OUT.ingot [--dim 4096 --layers 32 --heads 32 --kv-heads 8 --ffn 14336
//                              --vocab 32000 --context 4096 --dtype f16 --seed 0
//                              --bits 4 --group-size 128]
// --bits 4 (or 8) writes the layers' linears in the GPTQ layout (random codes, f16 scales, the
// symmetric zero 2^(bits-1)); embeddings, output and norms stay --dtype / f32.
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
  uint32_t bits = 0, group_size = 128;
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
  app.add_option("--bits", bits, "0: dense linears; 4 or 8: GPTQ-packed linears")->capture_default_str();
  app.add_option("--group-size", group_size, "input columns per quantization group")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::optional<fb::DType> dt = format::dtype_from_name(dtype.c_str());
  if (!dt || (*dt != fb::DType::F32 && *dt != fb::DType::F16 && *dt != fb::DType::BF16) || heads == 0 ||
      dim % heads != 0 || kv_heads == 0 || heads % kv_heads != 0 || (bits != 0 && bits != 4 && bits != 8) ||
      (bits != 0 && (group_size == 0 || dim % group_size != 0 || ffn % group_size != 0))) {
    std::fprintf(stderr, "synthetic-model: bad --dtype, head counts, --bits or --group-size (it must divide dim and ffn)\n");
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
  // A linear (out, in): dense, or random GPTQ codes (in·bits/32, out) with f16 scales (in/group, out)
  // of about 1/(sqrt(in)·2^(bits-1)), so that dequantized values are of the dense init's size.
  std::vector<uint32_t> codes;
  std::vector<uint16_t> scales;
  auto add_linear = [&](const std::string& name, uint64_t out_f, uint64_t in_f) {
    if (bits == 0) return add(name, {out_f, in_f});
    if (!s.ok()) return;
    codes.resize(in_f * bits / 32 * out_f);
    for (uint32_t& c : codes) c = uint32_t(rng());
    scales.resize(in_f / group_size * out_f);
    const float scale = 1.0f / (std::sqrt(float(in_f)) * float(1u << (bits - 1)));
    std::uniform_real_distribution<float> u(0.5f * scale, 1.5f * scale);
    for (uint16_t& h : scales) h = cpu::f32_to_f16(u(rng));
    format::QuantDesc q;
    q.method = fb::QuantMethod::GPTQ;
    q.bits = uint8_t(bits);
    q.group_size = int32_t(group_size);
    q.symmetric = true;
    q.scales_dtype = fb::DType::F16;
    q.scales = format::BlobSource::of(std::span<const uint16_t>(scales));
    q.zeros_dtype = bits == 4 ? fb::DType::Q4 : fb::DType::Q8;
    s = w->add_tensor({name, q.zeros_dtype, {out_f, in_f}, fb::Layout::GptqPackedK},
                      format::BlobSource::of(std::span<const uint32_t>(codes)), &q);
  };
  add("tok_embeddings.weight", {vocab, dim});
  for (uint32_t l = 0; l < layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add(p + "attention_norm.weight", {dim});
    add_linear(p + "attention.wq.weight", uint64_t(heads) * hd, dim);
    add_linear(p + "attention.wk.weight", uint64_t(kv_heads) * hd, dim);
    add_linear(p + "attention.wv.weight", uint64_t(kv_heads) * hd, dim);
    add_linear(p + "attention.wo.weight", dim, uint64_t(heads) * hd);
    add(p + "ffn_norm.weight", {dim});
    add_linear(p + "feed_forward.w1.weight", ffn, dim);
    add_linear(p + "feed_forward.w2.weight", dim, ffn);
    add_linear(p + "feed_forward.w3.weight", ffn, dim);
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
