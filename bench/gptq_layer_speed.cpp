// gptq-layer-speed: one LLaMA-7B-shaped decoder layer (dim 4096, 32 heads, ffn 11008) through the
// whole GPTQ driver (compiler::quantize_model: forward passes for the calibration activations,
// the four Hessians, true-sequential recomputation, GPTQ of q/k/v/o/gate/up/down, packing) with
// 4 bits, g128, act-order, sym, damp 0.01, block 128.
// Usage: gptq-layer-speed [samples=16] [seqlen=2048] [threads=0 (all)] [option=paper] [device=cpu]
// option: paper (ingotc --gptq-preset paper), or one of the GPTQ options past the paper
// (docs/gptq.md) on top of it: grid-mse, grid-hessian (ingotc's default), damp-auto, damp-choices
// (0.001,0.003,0.01,0.03,0.1), static-groups, gptaq, foem (beta 0.2).
// device: cpu, or cuda (ingotc --device cuda: each weight's factorization, column loop and the
// Hessians on device 0; the forward passes stay on the CPU, docs/gptq.md "On the GPU").
// The weights are random (uniform, ±1/sqrt(in)); the token windows are random ids of a 512-token
// vocabulary. Time does not depend on the values. Prints the seconds of each weight (GPTQ only)
// and the total; the rest of the total is the forward passes and the Hessians, which grow
// linearly with the token count (the GPTQ part does not).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "cpu/threads.h"
#include "gptq/quantize_model.h"

using namespace ingot;

namespace {

compiler::SourceTensor random_tensor(const std::string& name, std::vector<uint64_t> shape, std::mt19937& rng) {
  compiler::SourceTensor t;
  t.name = name;
  t.dtype = fb::DType::F32;
  t.shape = shape;
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  std::vector<float> v(n);
  if (shape.size() == 1) {
    for (float& x : v) x = 1.0f;  // norm weights
  } else {
    std::uniform_real_distribution<float> u(-1.0f / std::sqrt(float(shape[1])), 1.0f / std::sqrt(float(shape[1])));
    for (float& x : v) x = u(rng);
  }
  t.owned.resize(n * sizeof(float));
  std::memcpy(t.owned.data(), v.data(), t.owned.size());
  t.bytes = t.owned;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t n_samples = argc > 1 ? size_t(std::strtoull(argv[1], nullptr, 10)) : 16;
  const size_t seqlen = argc > 2 ? size_t(std::strtoull(argv[2], nullptr, 10)) : 2048;
  const int threads = argc > 3 ? std::atoi(argv[3]) : 0;
  const std::string option = argc > 4 ? argv[4] : "paper";
  const std::string device = argc > 5 ? argv[5] : "cpu";
  if (device != "cpu" && device != "cuda") {
    std::fprintf(stderr, "gptq-layer-speed: device '%s' is not cpu or cuda\n", device.c_str());
    return 2;
  }
  const uint32_t dim = 4096, n_head = 32, ffn = 11008, vocab = 512;
  cpu::set_threads(threads);
  std::printf("gptq-layer-speed: one LLaMA-7B layer (dim %u, heads %u, ffn %u), %zu x %zu calibration tokens, "
              "%d threads, option %s, device %s\n", dim, n_head, ffn, n_samples, seqlen, cpu::threads(), option.c_str(),
              device.c_str());

  compiler::SourceModel m;
  fb::ModelConfigT& c = m.config;
  c.architecture = "llama";
  c.dim = dim, c.n_layer = 1, c.n_head = n_head, c.n_head_kv = n_head, c.head_dim = dim / n_head, c.ffn_dim = ffn;
  c.vocab_size = vocab, c.context_length = uint32_t(seqlen), c.norm_eps = 1e-5f, c.rope_theta = 10000.0f;
  c.tied_embeddings = true;
  std::mt19937 rng(0);
  const uint32_t q_dim = n_head * (dim / n_head);
  m.tensors.push_back(random_tensor("tok_embeddings.weight", {vocab, dim}, rng));
  m.tensors.push_back(random_tensor("layers.0.attention_norm.weight", {dim}, rng));
  for (const char* w : {"wq", "wk", "wv"})
    m.tensors.push_back(random_tensor(std::string("layers.0.attention.") + w + ".weight", {q_dim, dim}, rng));
  m.tensors.push_back(random_tensor("layers.0.attention.wo.weight", {dim, q_dim}, rng));
  m.tensors.push_back(random_tensor("layers.0.ffn_norm.weight", {dim}, rng));
  m.tensors.push_back(random_tensor("layers.0.feed_forward.w1.weight", {ffn, dim}, rng));
  m.tensors.push_back(random_tensor("layers.0.feed_forward.w2.weight", {dim, ffn}, rng));
  m.tensors.push_back(random_tensor("layers.0.feed_forward.w3.weight", {ffn, dim}, rng));
  m.tensors.push_back(random_tensor("norm.weight", {dim}, rng));

  std::vector<std::vector<int32_t>> samples(n_samples, std::vector<int32_t>(seqlen));
  std::uniform_int_distribution<int32_t> tok(3, int32_t(vocab) - 1);
  for (auto& s : samples)
    for (int32_t& t : s) t = tok(rng);

  compiler::QuantizeOptions o;  // the paper preset
  o.method = fb::QuantMethod::GPTQ;
  o.config.bits = 4;
  o.config.group_size = 128;
  o.config.act_order = true;
  o.config.sym = true;
  o.threads = threads;
  if (device == "cuda") o.config.device = compiler::GptqDevice::cuda;
  if (option == "grid-mse") {
    o.config.grid = compiler::GridSearch::mse;
  } else if (option == "grid-hessian") {
    o.config.grid = compiler::GridSearch::hessian;
  } else if (option == "damp-auto") {
    o.config.damp_auto = true;
  } else if (option == "damp-choices") {
    o.config.damp_choices = {0.001f, 0.003f, 0.01f, 0.03f, 0.1f};
  } else if (option == "static-groups") {
    o.config.static_groups = true;
  } else if (option == "gptaq") {
    o.gptaq = true;
  } else if (option == "foem") {
    o.config.foem_beta = 0.2f;
  } else if (option != "paper") {
    std::fprintf(stderr, "gptq-layer-speed: unknown option '%s'\n", option.c_str());
    return 2;
  }
  double gptq_seconds = 0;
  o.progress = [&](const compiler::TensorDone& t) {
    gptq_seconds += t.seconds;
    std::printf("  %-36s (%5zu, %5zu)  GPTQ %6.2f s\n", t.tensor.c_str(), t.out, t.in, t.seconds);
    std::fflush(stdout);
  };
  const auto t0 = std::chrono::steady_clock::now();
  const format::Status s = compiler::quantize_model(m, samples, o);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!s.ok()) {
    std::fprintf(stderr, "gptq-layer-speed: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("layer total %.1f s: GPTQ of the 7 weights %.1f s, forward passes + Hessians %.1f s (%zu tokens)\n",
              total, gptq_seconds, total - gptq_seconds, n_samples * seqlen);
  return 0;
}
