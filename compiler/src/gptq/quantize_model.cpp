#include "gptq/quantize_model.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "cpu/attention.h"
#include "cpu/convert.h"
#include "cpu/matmul.h"
#include "cpu/quant_int8.h"
#include "cpu/rmsnorm.h"
#include "cpu/rope.h"
#include "cpu/threads.h"
#include "gptq/hessian.h"
#include "gptq/pack.h"
#include "model/layer.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;

struct Dims {
  size_t dim = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0, q_dim = 0, kv_dim = 0, ffn = 0, vocab = 0;
  float eps = 1e-5f;
};

// One linear weight of the current layer: f32 (out, in), replaced by its dequantized form once
// quantized so that later inputs (true-sequential) and the layer output see the quantized weight.
struct Linear {
  SourceTensor* tensor = nullptr;
  size_t out = 0, in = 0;
  std::vector<float> w;  // (out, in)
  runtime::Linear view() const {
    runtime::Linear l;
    l.dense = {w.data(), fb::DType::F32, out, in};
    return l;
  }
};

struct Layer {
  std::vector<float> attention_norm, ffn_norm;  // (dim)
  Linear wq, wk, wv, wo, w1, w2, w3;
  // The runtime's view of this layer (f32, pointing at the vectors above).
  runtime::LayerWeights view() const {
    runtime::LayerWeights v;
    v.attention_norm = {attention_norm.data(), fb::DType::F32, 1, attention_norm.size()};
    v.ffn_norm = {ffn_norm.data(), fb::DType::F32, 1, ffn_norm.size()};
    v.wq = wq.view(), v.wk = wk.view(), v.wv = wv.view(), v.wo = wo.view();
    v.w1 = w1.view(), v.w2 = w2.view(), v.w3 = w3.view();
    return v;
  }
};

// Where a forward pass over one sample stops: after the input of these weights is known.
enum class Stop { qkv_input, o_input, w13_input, w2_input, output };

// The Hessians fed by a pass (null: not collected).
struct Hooks {
  HessianAccumulator* qkv = nullptr;
  HessianAccumulator* o = nullptr;
  HessianAccumulator* w13 = nullptr;
  HessianAccumulator* w2 = nullptr;
  // GPTAQ, at the pass's stop only: the full-precision pass copies the stop's input into
  // `capture`; the quantized pass adds (fp_input − its input, its input) to `cross`.
  std::vector<float>* capture = nullptr;
  CrossAccumulator* cross = nullptr;
  const float* fp_input = nullptr;  // (rows, width) of the same sample, from the capture
};

size_t dtype_size(fb::DType t) { return t == fb::DType::F32 ? 4 : 2; }

void to_f32(const SourceTensor& t, std::vector<float>* out) {
  const size_t n = t.bytes.size() / dtype_size(t.dtype);
  out->resize(n);
  const uint8_t* p = t.bytes.data();
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    switch (t.dtype) {
      case fb::DType::F16: std::memcpy(&h, p + 2 * i, 2); (*out)[i] = cpu::f16_to_f32(h); break;
      case fb::DType::BF16: std::memcpy(&h, p + 2 * i, 2); (*out)[i] = cpu::bf16_to_f32(h); break;
      default: std::memcpy(&(*out)[i], p + 4 * i, 4);
    }
  }
}

class Driver {
 public:
  Driver(SourceModel& model, const QuantizeOptions& options) : model_(model), opt_(options) {}

  Status run(const std::vector<std::vector<int32_t>>& samples);

 private:
  Status find(const std::string& name, std::vector<uint64_t> shape, SourceTensor** out);
  Status load_layer(size_t l, Layer* layer);
  void forward(const Layer& L, float* x, size_t n, Stop stop, const Hooks& hooks);
  // config: the weight's own settings (the classifier's); null: opt_.config.
  Status quantize(size_t l, Linear& lin, std::vector<float>* H, bool last_use, const float* dxxt = nullptr,
                  const QuantConfig* config = nullptr);
  // A tied model's classifier as its own tensor: output.weight, a copy of tok_embeddings.
  Status untie_classifier();
  // The classifier's settings: lm_head_bits, natural order (the int8 kernels take no g_idx).
  const QuantConfig& head_config() {
    head_config_ = opt_.config;
    if (opt_.lm_head_bits != 0) head_config_.bits = opt_.lm_head_bits;
    head_config_.act_order = false;
    head_config_.static_groups = false;
    return head_config_;
  }

  SourceModel& model_;
  const QuantizeOptions& opt_;
  Dims d_;
  size_t done_ = 0;  // weights quantized so far
  std::unordered_map<std::string, SourceTensor*> by_name_;
  cpu::RopeParams rope_;
  std::vector<float> inv_freq_;
  std::unique_ptr<runtime::Backend> backend_ = runtime::make_cpu_backend();
  runtime::LayerScratch scratch_;
  QuantConfig head_config_;
};

Status Driver::untie_classifier() {
  SourceTensor* emb = nullptr;
  INGOT_RETURN_IF_ERROR(find("tok_embeddings.weight", {d_.vocab, d_.dim}, &emb));
  SourceTensor out;
  out.name = "output.weight";
  out.dtype = emb->dtype;
  out.shape = emb->shape;
  out.source_type = emb->source_type;
  out.owned.assign(emb->bytes.begin(), emb->bytes.end());
  out.bytes = out.owned;
  model_.tensors.push_back(std::move(out));  // moves the tensors: by_name_ is rebuilt
  by_name_.clear();
  for (SourceTensor& t : model_.tensors) by_name_[t.name] = &t;
  model_.config.tied_embeddings = false;
  return Status::success();
}

Status Driver::find(const std::string& name, std::vector<uint64_t> shape, SourceTensor** out) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return fail(StatusCode::not_found, "quantize: the model has no tensor '", name, "'");
  SourceTensor& t = *it->second;
  if (t.shape != shape) {
    auto str = [](const std::vector<uint64_t>& v) {
      std::string r = "(";
      for (size_t i = 0; i < v.size(); ++i) r += (i ? ", " : "") + std::to_string(v[i]);
      return r + ")";
    };
    return fail(StatusCode::invalid_argument, "quantize: tensor '", name, "' has shape ", str(t.shape),
                ", the config implies ", str(shape));
  }
  if (t.dtype != fb::DType::F32 && t.dtype != fb::DType::F16 && t.dtype != fb::DType::BF16) {
    return fail(StatusCode::invalid_argument, "quantize: tensor '", name, "' is ", format::dtype_name(t.dtype),
                "; f32, f16 or bf16 expected");
  }
  size_t n = 1;
  for (uint64_t s : shape) n *= size_t(s);
  if (t.bytes.size() != n * dtype_size(t.dtype)) {
    return fail(StatusCode::invalid_argument, "quantize: tensor '", name, "' holds ", t.bytes.size(),
                " bytes, its shape needs ", n * dtype_size(t.dtype));
  }
  if (t.quant != nullptr) {
    return fail(StatusCode::invalid_argument, "quantize: tensor '", name, "' is already quantized");
  }
  *out = &t;
  return Status::success();
}

Status Driver::load_layer(size_t l, Layer* L) {
  const std::string p = "layers." + std::to_string(l) + ".";
  SourceTensor* t = nullptr;
  INGOT_RETURN_IF_ERROR(find(p + "attention_norm.weight", {d_.dim}, &t));
  to_f32(*t, &L->attention_norm);
  INGOT_RETURN_IF_ERROR(find(p + "ffn_norm.weight", {d_.dim}, &t));
  to_f32(*t, &L->ffn_norm);
  auto linear = [&](const char* name, size_t out, size_t in, Linear* lin) -> Status {
    INGOT_RETURN_IF_ERROR(find(p + name, {out, in}, &lin->tensor));
    lin->out = out, lin->in = in;
    to_f32(*lin->tensor, &lin->w);
    return Status::success();
  };
  INGOT_RETURN_IF_ERROR(linear("attention.wq.weight", d_.q_dim, d_.dim, &L->wq));
  INGOT_RETURN_IF_ERROR(linear("attention.wk.weight", d_.kv_dim, d_.dim, &L->wk));
  INGOT_RETURN_IF_ERROR(linear("attention.wv.weight", d_.kv_dim, d_.dim, &L->wv));
  INGOT_RETURN_IF_ERROR(linear("attention.wo.weight", d_.dim, d_.q_dim, &L->wo));
  INGOT_RETURN_IF_ERROR(linear("feed_forward.w1.weight", d_.ffn, d_.dim, &L->w1));
  INGOT_RETURN_IF_ERROR(linear("feed_forward.w2.weight", d_.dim, d_.ffn, &L->w2));
  INGOT_RETURN_IF_ERROR(linear("feed_forward.w3.weight", d_.ffn, d_.dim, &L->w3));
  return Status::success();
}

// The decoder layer on one sample x (n, dim) at positions 0..n-1: the runtime's decoder_layer
// (the same code the runtime decodes with), its taps feeding the hooks' Hessians with each
// linear's input. Stops once `stop`'s input is known; with Stop::output, x is overwritten by the
// layer's output.
void Driver::forward(const Layer& L, float* x, size_t n, Stop stop, const Hooks& hooks) {
  const runtime::LayerShape shape{d_.dim, d_.n_head, d_.n_head_kv, d_.head_dim, d_.ffn, d_.eps, &rope_, &inv_freq_};
  std::vector<size_t> positions(n);
  for (size_t t = 0; t < n; ++t) positions[t] = t;
  // The sample's own k/v (n, kv_dim) are its whole cache: causal attention from position 0.
  const runtime::LayerAttention attend = [&](const float* q, const float* k, const float* v, float* att) {
    cpu::attention(q, n, 0, k, v, {d_.n_head, d_.n_head_kv, d_.head_dim}, att);
  };
  const runtime::LayerTap tap = [&](runtime::Tap where, const float* input, size_t rows) {
    struct Point {
      HessianAccumulator* h;
      Stop stop;
    };
    const Point p = where == runtime::Tap::qkv_input ? Point{hooks.qkv, Stop::qkv_input}
                    : where == runtime::Tap::o_input ? Point{hooks.o, Stop::o_input}
                    : where == runtime::Tap::w13_input ? Point{hooks.w13, Stop::w13_input}
                                                       : Point{hooks.w2, Stop::w2_input};
    if (p.h != nullptr) p.h->add(input, rows);
    if (p.stop == stop) {
      const size_t width = where == runtime::Tap::qkv_input || where == runtime::Tap::w13_input ? d_.dim
                           : where == runtime::Tap::o_input                                    ? d_.q_dim
                                                                                               : d_.ffn;
      if (hooks.capture != nullptr) hooks.capture->assign(input, input + rows * width);
      if (hooks.cross != nullptr) hooks.cross->add(hooks.fp_input, input, rows);
    }
    return stop != p.stop;
  };
  runtime::decoder_layer(*backend_, shape, L.view(), x, n, positions, attend, tap, &scratch_);
}

// Quantizes one weight (GPTQ on H, or RTN when H is null), packs it into its tensor, records the
// loss, and leaves the dequantized weight in `lin` for the passes that follow. last_use: the last
// weight on this H, which gptq_quantize may then take over instead of copying (in² floats).
Status Driver::quantize(size_t l, Linear& lin, std::vector<float>* H, bool last_use, const float* dxxt,
                        const QuantConfig* config) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& name = lin.tensor->name;
  const QuantConfig& qc = config != nullptr ? *config : opt_.config;
  QuantResult r;
  Status s = H == nullptr ? rtn_quantize(lin.w.data(), lin.out, lin.in, qc, &r)
                          : gptq_quantize(lin.w.data(), lin.out, lin.in, last_use ? std::move(*H) : *H, qc, &r, dxxt);
  if (!s.ok()) return fail(s.code(), "quantizing '", name, "': ", s.message());
  auto packed = std::make_unique<PackedQuant>();
  s = pack_result(r, qc, opt_.method, lin.out, lin.in, packed.get());
  if (!s.ok()) return fail(s.code(), "packing '", name, "': ", s.message());
  lin.tensor->quant = std::move(packed);
  lin.w = std::move(r.dequantized);

  auto entry = std::make_unique<fb::LayerLossT>();
  entry->tensor = name;
  entry->loss = r.loss;
  entry->damp = r.damp_used;
  if (r.damp_raises > 0) entry->note = "damp raised " + std::to_string(r.damp_raises) + " times";
  const std::string note = entry->note;
  model_.layer_losses.push_back(std::move(entry));

  ++done_;
  if (opt_.progress) {
    TensorDone t;
    t.layer = l, t.n_layers = d_.n_layer, t.index = done_, t.total = d_.n_layer * 7 + (opt_.quantize_lm_head ? 1 : 0);
    t.tensor = name, t.out = lin.out, t.in = lin.in, t.loss = r.loss, t.damp = r.damp_used;
    t.damp_raises = r.damp_raises;
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    opt_.progress(t);
  }
  return Status::success();
}

Status Driver::run(const std::vector<std::vector<int32_t>>& samples) {
  const fb::ModelConfigT& c = model_.config;
  d_.dim = c.dim, d_.n_layer = c.n_layer, d_.n_head = c.n_head, d_.n_head_kv = c.n_head_kv;
  d_.head_dim = c.head_dim, d_.ffn = c.ffn_dim, d_.vocab = c.vocab_size, d_.eps = c.norm_eps;
  d_.q_dim = d_.n_head * d_.head_dim, d_.kv_dim = d_.n_head_kv * d_.head_dim;
  if (d_.dim == 0 || d_.n_layer == 0 || d_.n_head == 0 || d_.n_head_kv == 0 || d_.head_dim == 0 ||
      d_.head_dim % 2 != 0 || d_.ffn == 0 || d_.vocab == 0 || d_.n_head % d_.n_head_kv != 0) {
    return fail(StatusCode::invalid_argument, "quantize: the model config has a zero size, an odd head_dim or ",
                "n_head not a multiple of n_head_kv");
  }
  if (opt_.method != fb::QuantMethod::GPTQ && opt_.method != fb::QuantMethod::RTN) {
    return fail(StatusCode::invalid_argument, "quantize: method must be GPTQ or RTN");
  }
  if (opt_.gptaq && (opt_.method != fb::QuantMethod::GPTQ || !opt_.true_sequential)) {
    return fail(StatusCode::invalid_argument, "quantize: GPTAQ needs method GPTQ with true-sequential");
  }
  if (opt_.threads > 0) cpu::set_threads(opt_.threads);
  // The quantized layers feed the next layer's Hessians with f32 activations, as the paper's code
  // does (the runtime's int8 activations would change the calibration, and the bytes written).
  cpu::ScopedActivations f32_activations(cpu::Activations::f32);
  for (SourceTensor& t : model_.tensors) by_name_[t.name] = &t;
  const bool gptq = opt_.method == fb::QuantMethod::GPTQ;

  SourceTensor* lm_head = nullptr;
  if (opt_.quantize_lm_head) {
    if (by_name_.count("output.weight") == 0) {
      if (!c.tied_embeddings) return fail(StatusCode::invalid_argument, "quantize: the model has no output.weight");
      INGOT_RETURN_IF_ERROR(untie_classifier());
    }
    INGOT_RETURN_IF_ERROR(find("output.weight", {d_.vocab, d_.dim}, &lm_head));
  }

  if (!gptq) {  // RTN: no activations needed.
    for (size_t l = 0; l < d_.n_layer; ++l) {
      Layer L;
      INGOT_RETURN_IF_ERROR(load_layer(l, &L));
      for (Linear* lin : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w1, &L.w3, &L.w2}) {
        INGOT_RETURN_IF_ERROR(quantize(l, *lin, nullptr, false));
      }
    }
    if (lm_head != nullptr) {
      Linear out{lm_head, d_.vocab, d_.dim, {}};
      to_f32(*lm_head, &out.w);
      INGOT_RETURN_IF_ERROR(quantize(d_.n_layer - 1, out, nullptr, false, nullptr, &head_config()));
    }
    return Status::success();
  }

  // GPTQ: the calibration activations x (Σ seqlen, dim), the embeddings of every sample.
  if (samples.empty()) return fail(StatusCode::invalid_argument, "quantize: GPTQ needs calibration samples");
  std::vector<size_t> offset(samples.size() + 1, 0);  // first row of each sample in x
  size_t max_len = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (samples[i].empty()) return fail(StatusCode::invalid_argument, "quantize: calibration sample ", i, " is empty");
    for (int32_t id : samples[i]) {
      if (id < 0 || size_t(id) >= d_.vocab) {
        return fail(StatusCode::invalid_argument, "quantize: calibration sample ", i, " holds token id ", id,
                    " outside the vocabulary (", d_.vocab, ")");
      }
    }
    offset[i + 1] = offset[i] + samples[i].size();
    max_len = std::max(max_len, samples[i].size());
  }
  SourceTensor* emb = nullptr;
  INGOT_RETURN_IF_ERROR(find("tok_embeddings.weight", {d_.vocab, d_.dim}, &emb));
  const cpu::WeightView emb_view{emb->bytes.data(), emb->dtype, d_.vocab, d_.dim};
  std::vector<float> x(offset.back() * d_.dim);
  for (size_t i = 0; i < samples.size(); ++i) {
    for (size_t t = 0; t < samples[i].size(); ++t) {
      cpu::weight_row(emb_view, size_t(samples[i][t]), x.data() + (offset[i] + t) * d_.dim);
    }
  }
  rope_.head_dim = d_.head_dim;
  rope_.theta = c.rope_theta;
  rope_.form = c.rope_form;
  if (c.rope_scaling != nullptr) {
    rope_.scaling = c.rope_scaling->type;
    rope_.factor = c.rope_scaling->factor;
    rope_.low_freq_factor = c.rope_scaling->low_freq_factor;
    rope_.high_freq_factor = c.rope_scaling->high_freq_factor;
    rope_.original_context_length = float(c.rope_scaling->original_context_length);
    if (rope_.scaling == fb::RopeScalingType::Dynamic || rope_.scaling == fb::RopeScalingType::Yarn) {
      return fail(StatusCode::invalid_argument, "quantize: rope scaling '", format::rope_scaling_name(rope_.scaling),
                  "' is not supported by the CPU forward");
    }
  }
  inv_freq_ = cpu::rope_inv_freq(rope_);

  // GPTAQ: the full-precision model's activations (Σ seqlen, dim), advanced by the unquantized
  // layers, beside x (advanced by the quantized ones).
  std::vector<float> x_fp;
  if (opt_.gptaq) x_fp = x;

  // Runs `stop` over every sample with `hooks`.
  auto pass = [&](const Layer& L, Stop stop, const Hooks& hooks) {
    for (size_t i = 0; i < samples.size(); ++i) {
      forward(L, x.data() + offset[i] * d_.dim, offset[i + 1] - offset[i], stop, hooks);
    }
  };
  // GPTAQ's pass: per sample, the full-precision layer Lf on x_fp up to `stop` (its input of the
  // stop copied), then L on x with H and the cross term.
  std::vector<float> fp_in;
  auto pass_gptaq = [&](const Layer& Lf, const Layer& L, Stop stop, HessianAccumulator* h, CrossAccumulator* c) {
    for (size_t i = 0; i < samples.size(); ++i) {
      const size_t n = offset[i + 1] - offset[i];
      forward(Lf, x_fp.data() + offset[i] * d_.dim, n, stop, {.capture = &fp_in});
      Hooks q;
      (stop == Stop::qkv_input ? q.qkv : stop == Stop::o_input ? q.o : stop == Stop::w13_input ? q.w13 : q.w2) = h;
      q.cross = c;
      q.fp_input = fp_in.data();
      forward(L, x.data() + offset[i] * d_.dim, n, stop, q);
    }
  };
  // Hessians (and GPTAQ's cross terms) where the weights are quantized (QuantConfig::device).
  const GptqDevice device = opt_.config.device;
  for (size_t l = 0; l < d_.n_layer; ++l) {
    Layer L;
    INGOT_RETURN_IF_ERROR(load_layer(l, &L));
    if (opt_.gptaq) {
      // As true-sequential below, each group's H and cross term from one pass of both models.
      const Layer Lf = L;  // the unquantized weights, for the full-precision stream
      std::vector<float> H;
      auto stage = [&](Stop stop, size_t width, std::initializer_list<Linear*> lins) -> Status {
        HessianAccumulator h(width, device);
        CrossAccumulator c(width, device);
        pass_gptaq(Lf, L, stop, &h, &c);
        H = h.finish();
        INGOT_RETURN_IF_ERROR(h.status());
        const float* cross = c.value().data();
        INGOT_RETURN_IF_ERROR(c.status());
        size_t k = 0;
        for (Linear* lin : lins) {
          ++k;
          INGOT_RETURN_IF_ERROR(quantize(l, *lin, &H, k == lins.size(), cross));
        }
        return Status::success();
      };
      INGOT_RETURN_IF_ERROR(stage(Stop::qkv_input, d_.dim, {&L.wq, &L.wk, &L.wv}));
      INGOT_RETURN_IF_ERROR(stage(Stop::o_input, d_.q_dim, {&L.wo}));
      INGOT_RETURN_IF_ERROR(stage(Stop::w13_input, d_.dim, {&L.w1, &L.w3}));
      INGOT_RETURN_IF_ERROR(stage(Stop::w2_input, d_.ffn, {&L.w2}));
      for (size_t i = 0; i < samples.size(); ++i) {
        forward(Lf, x_fp.data() + offset[i] * d_.dim, offset[i + 1] - offset[i], Stop::output, {});
      }
    } else if (opt_.true_sequential) {
      // As the reference's sequential groups: each group's inputs come from the layer with every
      // earlier group already quantized. Each pass stops as soon as its group's input is known;
      // one accumulator lives at a time.
      std::vector<float> H;
      {
        HessianAccumulator h(d_.dim, device);
        pass(L, Stop::qkv_input, {.qkv = &h});
        H = h.finish();
        INGOT_RETURN_IF_ERROR(h.status());
      }
      INGOT_RETURN_IF_ERROR(quantize(l, L.wq, &H, false));
      INGOT_RETURN_IF_ERROR(quantize(l, L.wk, &H, false));
      INGOT_RETURN_IF_ERROR(quantize(l, L.wv, &H, true));
      {
        HessianAccumulator h(d_.q_dim, device);
        pass(L, Stop::o_input, {.o = &h});
        H = h.finish();
        INGOT_RETURN_IF_ERROR(h.status());
      }
      INGOT_RETURN_IF_ERROR(quantize(l, L.wo, &H, true));
      {
        HessianAccumulator h(d_.dim, device);
        pass(L, Stop::w13_input, {.w13 = &h});
        H = h.finish();
        INGOT_RETURN_IF_ERROR(h.status());
      }
      INGOT_RETURN_IF_ERROR(quantize(l, L.w1, &H, false));
      INGOT_RETURN_IF_ERROR(quantize(l, L.w3, &H, true));
      {
        HessianAccumulator h(d_.ffn, device);
        pass(L, Stop::w2_input, {.w2 = &h});
        H = h.finish();
        INGOT_RETURN_IF_ERROR(h.status());
      }
      INGOT_RETURN_IF_ERROR(quantize(l, L.w2, &H, true));
    } else {
      // Every input from the unquantized layer, in one pass.
      HessianAccumulator h_qkv(d_.dim, device), h_o(d_.q_dim, device), h_13(d_.dim, device), h_2(d_.ffn, device);
      pass(L, Stop::w2_input, {.qkv = &h_qkv, .o = &h_o, .w13 = &h_13, .w2 = &h_2});
      std::vector<float> H = h_qkv.finish();
      INGOT_RETURN_IF_ERROR(h_qkv.status());
      INGOT_RETURN_IF_ERROR(quantize(l, L.wq, &H, false));
      INGOT_RETURN_IF_ERROR(quantize(l, L.wk, &H, false));
      INGOT_RETURN_IF_ERROR(quantize(l, L.wv, &H, true));
      H = h_o.finish();
      INGOT_RETURN_IF_ERROR(h_o.status());
      INGOT_RETURN_IF_ERROR(quantize(l, L.wo, &H, true));
      H = h_13.finish();
      INGOT_RETURN_IF_ERROR(h_13.status());
      INGOT_RETURN_IF_ERROR(quantize(l, L.w1, &H, false));
      INGOT_RETURN_IF_ERROR(quantize(l, L.w3, &H, true));
      H = h_2.finish();
      INGOT_RETURN_IF_ERROR(h_2.status());
      INGOT_RETURN_IF_ERROR(quantize(l, L.w2, &H, true));
    }
    // The quantized layer's output is the next layer's input (in place, sample by sample).
    pass(L, Stop::output, {});
  }
  std::vector<float>().swap(x_fp);  // the lm_head (if asked) is plain GPTQ on x

  if (lm_head != nullptr) {
    SourceTensor* norm = nullptr;
    INGOT_RETURN_IF_ERROR(find("norm.weight", {d_.dim}, &norm));
    std::vector<float> norm_w;
    to_f32(*norm, &norm_w);
    const cpu::WeightView norm_view{norm_w.data(), fb::DType::F32, 1, d_.dim};
    HessianAccumulator h_out(d_.dim);
    std::vector<float> xn(max_len * d_.dim);  // (seqlen, dim)
    for (size_t i = 0; i < samples.size(); ++i) {
      const size_t n = offset[i + 1] - offset[i];
      cpu::rmsnorm(x.data() + offset[i] * d_.dim, n, d_.dim, norm_view, d_.eps, xn.data());
      h_out.add(xn.data(), n);
    }
    x = {};
    Linear out{lm_head, d_.vocab, d_.dim, {}};
    to_f32(*lm_head, &out.w);
    std::vector<float> H = h_out.finish();
    INGOT_RETURN_IF_ERROR(quantize(d_.n_layer - 1, out, &H, true, nullptr, &head_config()));
  }
  return Status::success();
}

}  // namespace

Status quantize_model(SourceModel& model, const std::vector<std::vector<int32_t>>& samples,
                      const QuantizeOptions& options) {
  Driver driver(model, options);
  return driver.run(samples);
}

std::string TensorDone::line() const {
  char buf[512];
  std::snprintf(buf, sizeof buf, "layer %zu/%zu %s (%zu, %zu)  loss %.4g  %.2f s%s", layer + 1, n_layers,
                tensor.c_str(), out, in, loss, seconds,
                damp_raises > 0 ? ("  damp raised " + std::to_string(damp_raises) + " times").c_str() : "");
  return buf;
}

}  // namespace ingot::compiler
