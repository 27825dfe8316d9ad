#include "sample_container.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace ingot::test {

namespace {

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> v(values.size() * sizeof(T));
  std::memcpy(v.data(), values.data(), v.size());
  return v;
}

SampleTensor dense(std::mt19937& rng, std::string name, format::DType dtype, std::vector<uint64_t> shape) {
  SampleTensor t;
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  t.desc = {std::move(name), dtype, std::move(shape), format::Layout::DenseRowMajor};
  t.data = random_bytes(rng, size_t(n * format::dtype_bits(dtype) / 8));
  return t;
}

// A packed (rows, cols) tensor with GPTQ parameters; every blob holds random bytes of the
// right size (the format does not interpret them).
SampleTensor quantized(std::mt19937& rng, std::string name, uint32_t bits, uint64_t rows, uint64_t cols,
                       int32_t group, bool act_order, bool sym) {
  SampleTensor t;
  const format::DType dt = bits == 4 ? format::DType::Q4 : bits == 3 ? format::DType::Q3 : format::DType::Q2;
  t.desc = {std::move(name), dt, {rows, cols}, format::Layout::PackedRowsK};
  t.quantized = true;
  const uint64_t words_per_row = (cols * bits + 31) / 32;
  t.data = random_bytes(rng, size_t(rows * words_per_row * 4));
  const uint64_t n_groups = group == -1 ? 1 : (cols + group - 1) / group;
  t.scales = random_bytes(rng, size_t(n_groups * rows * 2));
  t.quant.method = format::QuantMethod::GPTQ;
  t.quant.bits = uint8_t(bits);
  t.quant.group_size = group;
  t.quant.symmetric = sym;
  t.quant.act_order = act_order;
  t.quant.scales_dtype = format::DType::F16;
  if (!sym) {
    t.quant.zeros_dtype = dt;
    t.zeros = random_bytes(rng, size_t(n_groups * ((rows * bits + 31) / 32) * 4));
  }
  if (act_order) {
    std::vector<int32_t> g(cols);
    for (uint64_t i = 0; i < cols; ++i) g[i] = int32_t(rng() % n_groups);
    t.perm = as_bytes(g);
  }
  return t;
}

}  // namespace

Sample make_sample(uint32_t seed) {
  std::mt19937 rng(seed);
  Sample s;
  s.tensors.push_back(dense(rng, "tok_embeddings.weight", format::DType::F32, {40, 16}));
  s.tensors.push_back(dense(rng, "layers.0.attention_norm.weight", format::DType::F32, {16}));
  s.tensors.push_back(quantized(rng, "layers.0.attention.wq.weight", 4, 16, 16, 8, false, true));
  s.tensors.push_back(quantized(rng, "layers.0.attention.wo.weight", 4, 16, 16, -1, false, false));
  s.tensors.push_back(quantized(rng, "layers.0.feed_forward.w2.weight", 3, 16, 43, 8, true, false));
  s.tensors.push_back(quantized(rng, "layers.0.feed_forward.w1.weight", 2, 43, 16, 16, true, true));
  s.tensors.push_back(dense(rng, "layers.0.ffn_norm.weight", format::DType::BF16, {16}));
  // Compressible: a repeating ramp (zstd keeps it compressed when compression is on).
  SampleTensor ramp;
  ramp.desc = {"output.weight", format::DType::F16, {40, 16}, format::Layout::DenseRowMajor};
  ramp.data.resize(40 * 16 * 2);
  for (size_t i = 0; i < ramp.data.size(); ++i) ramp.data[i] = uint8_t(i % 7);
  s.tensors.push_back(std::move(ramp));
  for (SampleTensor& t : s.tensors) {
    t.quant.scales = format::BlobSource(t.scales);
    if (!t.zeros.empty()) t.quant.zeros = format::BlobSource(t.zeros);
    if (!t.perm.empty()) t.quant.perm = format::BlobSource(t.perm);
  }
  s.metadata = {{"general.name", "sample"}, {"general.seed", std::to_string(seed)}, {"license", "MIT"}};
  return s;
}

fb::ModelConfigT Sample::config() const {
  fb::ModelConfigT c;
  c.architecture = "llama";
  c.dim = 16;
  c.n_layer = 1;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.head_dim = 4;
  c.ffn_dim = 43;
  c.vocab_size = 40;
  c.rope_theta = 500000.0f;
  c.rope_scaling = std::make_unique<fb::RopeScalingT>();
  c.rope_scaling->type = fb::RopeScalingType::Llama3;
  c.rope_scaling->factor = 8.0f;
  c.rope_scaling->original_context_length = 8192;
  c.rope_form = fb::RopeForm::Half;
  c.norm_eps = 1e-6f;
  c.context_length = 128;
  c.tied_embeddings = false;
  c.bos_id = 1;
  c.eos_id = 2;
  c.unk_id = 0;
  c.extra_eos_ids = {3};
  return c;
}

fb::TokenizerT Sample::tokenizer() const {
  fb::TokenizerT t;
  t.kind = fb::TokenizerKind::SentencePieceBpe;
  for (int i = 0; i < 40; ++i) {
    t.pieces.push_back(i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : "\xe2\x96\x81piece" + std::to_string(i));
    t.scores.push_back(-float(i));
    t.types.push_back(i < 3 ? fb::TokenType::Control : fb::TokenType::Normal);
  }
  for (auto [content, id] : {std::pair<const char*, int>{"<s>", 1}, {"</s>", 2}}) {
    auto st = std::make_unique<fb::SpecialTokenT>();
    st->content = content;
    st->id = id;
    t.special_tokens.push_back(std::move(st));
  }
  t.add_bos = true;
  t.add_dummy_prefix = true;
  t.byte_fallback = true;
  t.chat_template = "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}";
  return t;
}

fb::ProvenanceT Sample::provenance() const {
  fb::ProvenanceT p;
  p.compiler = "ingot-tests";
  auto kv = std::make_unique<fb::KeyValueT>();
  kv->key = "method";
  kv->value = "gptq";
  p.options.push_back(std::move(kv));
  auto d = std::make_unique<fb::DigestT>();
  d->name = "model.safetensors";
  d->xxh3 = 0x1234;
  d->size = 99;
  p.sources.push_back(std::move(d));
  auto l = std::make_unique<fb::LayerLossT>();
  l->tensor = "layers.0.attention.wq.weight";
  l->loss = 0.25;
  l->damp = 0.01f;
  p.layer_losses.push_back(std::move(l));
  return p;
}

format::Status write_sample(const Sample& s, const std::string& path, const format::WriterOptions& options) {
  std::unique_ptr<format::Writer> w;
  INGOT_RETURN_IF_ERROR(format::Writer::create(path, options, &w));
  w->set_config(s.config());
  w->set_tokenizer(s.tokenizer());
  w->set_provenance(s.provenance());
  for (const auto& [k, v] : s.metadata) INGOT_RETURN_IF_ERROR(w->add_metadata(k, v));
  for (const SampleTensor& t : s.tensors) {
    INGOT_RETURN_IF_ERROR(w->add_tensor(t.desc, format::BlobSource(t.data), t.quantized ? &t.quant : nullptr));
  }
  return w->finish();
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ingot-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace ingot::test
