#include "model/model.h"

#include <algorithm>

#include "cpu/threads.h"

namespace ingot::runtime {

using format::fail;
using format::Status;
using format::StatusCode;

Status Model::bind(const std::string& name, std::vector<uint64_t> shape, cpu::WeightView* out) {
  const fb::Tensor* t = container_->find_tensor(name);
  if (t == nullptr) return fail(StatusCode::invalid_index, "the model has no tensor '", name, "'");
  const std::vector<uint64_t> have(t->shape()->begin(), t->shape()->end());
  if (have != shape) {
    auto str = [](const std::vector<uint64_t>& s) {
      std::string r = "(";
      for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
      return r + ")";
    };
    return fail(StatusCode::invalid_index, "tensor '", name, "' has shape ", str(have), ", the config implies ",
                str(shape));
  }
  if (t->quant() != nullptr || t->layout() != fb::Layout::DenseRowMajor ||
      (t->dtype() != fb::DType::F32 && t->dtype() != fb::DType::F16 && t->dtype() != fb::DType::BF16)) {
    return fail(StatusCode::invalid_index, "tensor '", name, "' is ", format::dtype_name(t->dtype()), " ",
                format::layout_name(t->layout()), ": the CPU backend runs f32/f16/bf16 dense weights");
  }
  format::BlobBytes bytes;
  INGOT_RETURN_IF_ERROR(container_->read_tensor(*t, false, &bytes));
  out->data = bytes.bytes().data();
  out->dtype = t->dtype();
  out->rows = shape.size() == 2 ? shape[0] : 1;
  out->cols = shape.back();
  if (!bytes.is_view()) blobs_.push_back(std::move(bytes));  // keep decompressed bytes alive
  return Status::success();
}

const uint8_t* Model::blob_data(const fb::Blob* blob, const std::string& what, format::Status* status) {
  if (blob == nullptr) return nullptr;
  format::BlobBytes bytes;
  *status = container_->read_blob(*blob, what, false, &bytes);
  if (!status->ok()) return nullptr;
  const uint8_t* p = bytes.bytes().data();
  if (!bytes.is_view()) blobs_.push_back(std::move(bytes));  // keep decompressed bytes alive
  return p;
}

Status Model::bind_linear(const std::string& name, std::vector<uint64_t> shape, Linear* out) {
  const fb::Tensor* t = container_->find_tensor(name);
  if (t == nullptr || t->quant() == nullptr) {
    out->quantized = false;
    return bind(name, std::move(shape), &out->dense);
  }
  const fb::Quantization& q = *t->quant();
  const std::vector<uint64_t> have(t->shape()->begin(), t->shape()->end());
  if (have != shape) {
    return fail(StatusCode::invalid_index, "tensor '", name, "' has the wrong shape for the config");
  }
  const bool sorted = t->layout() == fb::Layout::GptqPackedKSorted;
  if ((t->layout() != fb::Layout::GptqPackedK && !sorted) || q.scales_dtype() != fb::DType::F16 ||
      (q.zeros() != nullptr && q.zeros_dtype() != t->dtype())) {
    return fail(StatusCode::invalid_index, "tensor '", name, "': the CPU backend runs quantized weights in layout ",
                "gptq-packed-k(-sorted) with f16 scales and zeros of the weight's dtype; this one is ",
                format::layout_name(t->layout()), " with ", format::dtype_name(q.scales_dtype()), " scales");
  }
  Status s;
  cpu::QuantView& v = out->quant;
  v.qweight = reinterpret_cast<const uint32_t*>(blob_data(t->data(), name, &s));
  if (s.ok()) v.scales = reinterpret_cast<const uint16_t*>(blob_data(q.scales(), name + "/scales", &s));
  if (s.ok()) v.zeros = reinterpret_cast<const uint32_t*>(blob_data(q.zeros(), name + "/zeros", &s));
  if (s.ok()) v.g_idx = reinterpret_cast<const int32_t*>(blob_data(q.perm(), name + "/perm", &s));
  // The reader has checked that the sorted layout has its input_order (format/src/layout.cpp).
  if (s.ok() && sorted) {
    v.order = reinterpret_cast<const int32_t*>(blob_data(q.input_order(), name + "/input_order", &s));
  }
  INGOT_RETURN_IF_ERROR(s);
  v.bits = q.bits();
  v.group_size = q.group_size();
  v.rows = shape[0];
  v.cols = shape[1];
  // g_idx values inside the groups; input_order a permutation
  INGOT_RETURN_IF_ERROR(cpu::check_quant_view(v, name.c_str()));
  out->quantized = true;
  return Status::success();
}

bool Model::is_eos(int32_t id) const {
  return id == dims_.eos || std::find(dims_.extra_eos.begin(), dims_.extra_eos.end(), id) != dims_.extra_eos.end();
}

Status Model::load(const std::string& path, const LoadOptions& options, std::unique_ptr<Model>* out) {
  std::unique_ptr<Model> m(new Model());
  INGOT_RETURN_IF_ERROR(format::Container::open(path, {}, &m->container_));
  // Checksums take most of a verified load: they get the first 90% of the progress range.
  const double verify_share = options.verify_checksums ? 0.9 : 0.0;
  const auto report = [&](double fraction) {
    return !options.progress || options.progress(fraction);
  };
  const auto cancelled = [&] { return fail(StatusCode::interrupted, "'", path, "': loading cancelled"); };
  if (options.verify_checksums) {
    format::Status s = m->container_->verify([&](uint64_t done, uint64_t total) {
      return report(verify_share * double(done) / double(std::max<uint64_t>(total, 1)));
    });
    if (s.code() == StatusCode::interrupted) return cancelled();
    if (!s.ok()) return format::Status(s.code(), "'" + path + "': " + s.message());
  }
  const fb::ModelConfig* c = m->container_->index().config();
  if (c == nullptr) return fail(StatusCode::invalid_index, "'", path, "' holds no model config");
  ModelDims& d = m->dims_;
  d = {c->dim(), c->n_layer(), c->n_head(), c->n_head_kv(), c->head_dim(), c->ffn_dim(), c->vocab_size(),
       c->context_length(), c->norm_eps(), c->bos_id(), c->eos_id(), {}};
  if (c->extra_eos_ids() != nullptr) d.extra_eos.assign(c->extra_eos_ids()->begin(), c->extra_eos_ids()->end());
  if (d.dim == 0 || d.n_layer == 0 || d.n_head == 0 || d.n_head_kv == 0 || d.head_dim == 0 || d.head_dim % 2 != 0 ||
      d.ffn_dim == 0 || d.vocab == 0 || d.context == 0) {
    return fail(StatusCode::invalid_index, "'", path, "': config has a zero size or an odd head_dim (dim ", d.dim,
                ", n_layer ", d.n_layer, ", n_head ", d.n_head, ", n_head_kv ", d.n_head_kv, ", head_dim ",
                d.head_dim, ", ffn_dim ", d.ffn_dim, ", vocab ", d.vocab, ", context ", d.context, ")");
  }
  if (!(d.norm_eps > 0) || !(c->rope_theta() > 0)) {
    return fail(StatusCode::invalid_index, "'", path, "': norm_eps and rope_theta must be positive");
  }
  m->rope_.head_dim = d.head_dim;
  m->rope_.theta = c->rope_theta();
  m->rope_.form = c->rope_form();
  if (const fb::RopeScaling* r = c->rope_scaling()) {
    m->rope_.scaling = r->type();
    m->rope_.factor = r->factor();
    m->rope_.low_freq_factor = r->low_freq_factor();
    m->rope_.high_freq_factor = r->high_freq_factor();
    m->rope_.original_context_length = float(r->original_context_length());
    if (r->type() == fb::RopeScalingType::Dynamic || r->type() == fb::RopeScalingType::Yarn) {
      return fail(StatusCode::invalid_index, "'", path, "': rope scaling '", format::rope_scaling_name(r->type()),
                  "' is not supported by the CPU backend");
    }
    if (r->type() != fb::RopeScalingType::None && !(r->factor() > 0)) {
      return fail(StatusCode::invalid_index, "'", path, "': rope scaling factor must be positive");
    }
  }
  m->inv_freq_ = cpu::rope_inv_freq(m->rope_);

  const uint64_t q_dim = d.n_head * d.head_dim, kv_dim = d.n_head_kv * d.head_dim;
  INGOT_RETURN_IF_ERROR(m->bind("tok_embeddings.weight", {d.vocab, d.dim}, &m->tok_embeddings));
  m->layers.resize(d.n_layer);
  for (size_t i = 0; i < d.n_layer; ++i) {
    const std::string p = "layers." + std::to_string(i) + ".";
    LayerWeights& l = m->layers[i];
    INGOT_RETURN_IF_ERROR(m->bind(p + "attention_norm.weight", {d.dim}, &l.attention_norm));
    INGOT_RETURN_IF_ERROR(m->bind_linear(p + "attention.wq.weight", {q_dim, d.dim}, &l.wq));
    INGOT_RETURN_IF_ERROR(m->bind_linear(p + "attention.wk.weight", {kv_dim, d.dim}, &l.wk));
    INGOT_RETURN_IF_ERROR(m->bind_linear(p + "attention.wv.weight", {kv_dim, d.dim}, &l.wv));
    INGOT_RETURN_IF_ERROR(m->bind_linear(p + "attention.wo.weight", {d.dim, q_dim}, &l.wo));
    INGOT_RETURN_IF_ERROR(m->bind(p + "ffn_norm.weight", {d.dim}, &l.ffn_norm));
    INGOT_RETURN_IF_ERROR(m->bind_linear(p + "feed_forward.w1.weight", {d.ffn_dim, d.dim}, &l.w1));
    INGOT_RETURN_IF_ERROR(m->bind_linear(p + "feed_forward.w2.weight", {d.dim, d.ffn_dim}, &l.w2));
    INGOT_RETURN_IF_ERROR(m->bind_linear(p + "feed_forward.w3.weight", {d.ffn_dim, d.dim}, &l.w3));
    if (!report(verify_share + (1 - verify_share) * double(i + 1) / double(d.n_layer + 1))) return cancelled();
  }
  INGOT_RETURN_IF_ERROR(m->bind("norm.weight", {d.dim}, &m->norm));
  if (c->tied_embeddings()) {
    m->output.quantized = false;
    m->output.dense = m->tok_embeddings;
  } else {
    INGOT_RETURN_IF_ERROR(m->bind_linear("output.weight", {d.vocab, d.dim}, &m->output));
  }
  if (const fb::Tokenizer* t = m->container_->index().tokenizer(); t != nullptr && t->kind() != fb::TokenizerKind::None) {
    INGOT_RETURN_IF_ERROR(Tokenizer::create(*t, &m->tokenizer_));
  }
  if (options.backend == BackendKind::cuda) {
    INGOT_RETURN_IF_ERROR(make_cuda_backend(&m->backend_));
  } else {
    m->backend_ = make_cpu_backend();
  }
  if (options.wrap_backend) m->backend_ = options.wrap_backend(std::move(m->backend_));
  PageShape pages{d.n_layer, kv_dim, options.kv_page_size, options.kv_dtype};
  if (pages.page_size == 0 || pages.page_size > d.context) {
    return fail(StatusCode::invalid_argument, "'", path, "': KV page size ", pages.page_size,
                " must be in [1, context length ", d.context, "]");
  }
  const size_t per_context = (d.context + pages.page_size - 1) / pages.page_size;
  const size_t max_pages = options.kv_budget_bytes == 0 ? 8 * per_context : options.kv_budget_bytes / pages.page_bytes();
  if (max_pages == 0 || max_pages > size_t{UINT32_MAX}) {
    return fail(StatusCode::invalid_argument, "'", path, "': a KV budget of ", options.kv_budget_bytes,
                " bytes holds ", max_pages, " pages of ", pages.page_bytes(), " bytes; it must hold 1 to 2^32 − 1");
  }
  try {
    m->kv_pool_ = m->backend_->make_page_pool(pages, max_pages);
  } catch (const std::exception& e) {  // a device backend out of memory for its pages
    return fail(StatusCode::out_of_memory, "'", path, "': ", e.what());
  }
  if (options.n_threads < 0) {
    return fail(StatusCode::invalid_argument, "'", path, "': n_threads is negative (", options.n_threads, ")");
  }
  m->activations_ = options.activations;
  m->workers_ = std::make_unique<cpu::WorkerPool>(options.n_threads > 0 ? options.n_threads : cpu::requested_threads());
  if (!report(1.0)) return cancelled();
  *out = std::move(m);
  return Status::success();
}

}  // namespace ingot::runtime
