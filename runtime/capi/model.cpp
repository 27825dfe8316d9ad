// ingot_model_*: loading, dimensions and metadata.
#include <cstring>

#include "backend/cuda/cuda_backend.h"
#include "capi/boundary.h"

using ingot::capi::fail;
using ingot::capi::from_status;
using ingot::capi::guard;

namespace {

// Metadata the container carries, flattened once at load so the C strings live with the model.
void collect_meta(ingot_model& m) {
  const ingot::fb::Index& index = m.model->container().index();
  if (const auto* kvs = index.metadata()) {
    for (const ingot::fb::KeyValue* kv : *kvs) {
      m.meta.emplace_back(kv->key()->str(), kv->value() != nullptr ? kv->value()->str() : std::string());
    }
  }
  if (const ingot::fb::Provenance* p = index.provenance()) {
    if (p->compiler() != nullptr) m.meta.emplace_back("provenance.compiler", p->compiler()->str());
    if (p->options() != nullptr) {
      for (const ingot::fb::KeyValue* kv : *p->options()) {
        m.meta.emplace_back("provenance." + kv->key()->str(), kv->value() != nullptr ? kv->value()->str() : "");
      }
    }
  }
}

int32_t dim_or_zero(const ingot_model* m, size_t ingot::runtime::ModelDims::*field) {
  return m != nullptr ? int32_t(m->model->dims().*field) : 0;
}

}  // namespace

extern "C" {

ingot_model_params ingot_model_default_params(void) {
  ingot_model_params p;
  p.backend = INGOT_BACKEND_CPU;
  p.n_threads = 0;
  p.verify_checksums = false;
  p.progress = nullptr;
  p.progress_user_data = nullptr;
  p.kv_type = INGOT_KV_F16;
  p.kv_budget_bytes = 0;
  p.activations = ingot::cpu::default_activations() == ingot::cpu::Activations::f32 ? INGOT_ACTIVATIONS_F32
                                                                                     : INGOT_ACTIVATIONS_INT8;
  return p;
}

ingot_status ingot_model_load(const char* path, ingot_model_params params, ingot_model** out) {
  static const char* fn = "ingot_model_load";
  if (out != nullptr) *out = nullptr;
  return guard(fn, [&] {
    INGOT_CAPI_REQUIRE(fn, out != nullptr, "out is NULL");
    INGOT_CAPI_REQUIRE(fn, path != nullptr && path[0] != '\0', "path is NULL or empty");
    INGOT_CAPI_REQUIRE(fn, params.n_threads >= 0, "n_threads is negative");
    if (params.backend == INGOT_BACKEND_CUDA) {
      if (const ingot::format::Status s = ingot::runtime::cuda_backend_available(); !s.ok()) {
        return fail(fn, INGOT_STATUS_UNSUPPORTED, "the CUDA backend is not available: " + s.message() +
                                                      "; use INGOT_BACKEND_CPU");
      }
    } else if (params.backend != INGOT_BACKEND_CPU) {
      return fail(fn, INGOT_STATUS_INVALID_ARGUMENT, "unknown backend " + std::to_string(int(params.backend)));
    }
    auto m = std::make_unique<ingot_model>();
    m->n_threads = params.n_threads;
    ingot::runtime::LoadOptions options;
    options.verify_checksums = params.verify_checksums;
    INGOT_CAPI_REQUIRE(fn, params.kv_type == INGOT_KV_F16 || params.kv_type == INGOT_KV_F32, "unknown kv_type");
    options.kv_dtype = params.kv_type == INGOT_KV_F32 ? ingot::runtime::KvDtype::f32 : ingot::runtime::KvDtype::f16;
    options.kv_budget_bytes = params.kv_budget_bytes;
    INGOT_CAPI_REQUIRE(fn, params.activations == INGOT_ACTIVATIONS_INT8 || params.activations == INGOT_ACTIVATIONS_F32,
                       "unknown activations");
    options.activations = params.activations == INGOT_ACTIVATIONS_F32 ? ingot::cpu::Activations::f32
                                                                      : ingot::cpu::Activations::int8;
    options.backend = params.backend == INGOT_BACKEND_CUDA ? ingot::runtime::BackendKind::cuda
                                                           : ingot::runtime::BackendKind::cpu;
    options.n_threads = params.n_threads;  // the model's worker pool; 0: one per core
    if (params.progress != nullptr) {
      options.progress = [&](double f) { return params.progress(float(f), params.progress_user_data); };
    }
    ingot::capi::use_threads(params.n_threads);  // decompression and binding run on this thread
    if (ingot_status s = from_status(fn, ingot::runtime::Model::load(path, options, &m->model)); s != INGOT_STATUS_OK) {
      return s;
    }
    collect_meta(*m);
    const ingot::runtime::ModelDims& d = m->model->dims();
    ingot::capi::log(INGOT_LOG_INFO, std::string("loaded '") + path + "': " + std::to_string(d.n_layer) +
                                         " layers, dim " + std::to_string(d.dim) + ", vocab " +
                                         std::to_string(d.vocab) + ", context " + std::to_string(d.context) +
                                         ", CPU backend");
    *out = m.release();
    return INGOT_STATUS_OK;
  });
}

void ingot_model_free(ingot_model* model) { delete model; }

int32_t ingot_model_n_vocab(const ingot_model* m) { return dim_or_zero(m, &ingot::runtime::ModelDims::vocab); }
int32_t ingot_model_n_ctx(const ingot_model* m) { return dim_or_zero(m, &ingot::runtime::ModelDims::context); }
int32_t ingot_model_n_embd(const ingot_model* m) { return dim_or_zero(m, &ingot::runtime::ModelDims::dim); }
int32_t ingot_model_n_layer(const ingot_model* m) { return dim_or_zero(m, &ingot::runtime::ModelDims::n_layer); }
int32_t ingot_model_n_head(const ingot_model* m) { return dim_or_zero(m, &ingot::runtime::ModelDims::n_head); }
int32_t ingot_model_n_head_kv(const ingot_model* m) { return dim_or_zero(m, &ingot::runtime::ModelDims::n_head_kv); }
int32_t ingot_model_token_bos(const ingot_model* m) { return m != nullptr ? m->model->dims().bos : -1; }
int32_t ingot_model_token_eos(const ingot_model* m) { return m != nullptr ? m->model->dims().eos : -1; }
bool ingot_model_token_is_eos(const ingot_model* m, int32_t token) { return m != nullptr && m->model->is_eos(token); }
bool ingot_model_has_tokenizer(const ingot_model* m) { return m != nullptr && m->model->has_tokenizer(); }

size_t ingot_model_meta_count(const ingot_model* m) { return m != nullptr ? m->meta.size() : 0; }

const char* ingot_model_meta_key(const ingot_model* m, size_t i) {
  return m != nullptr && i < m->meta.size() ? m->meta[i].first.c_str() : nullptr;
}

const char* ingot_model_meta_value(const ingot_model* m, size_t i) {
  return m != nullptr && i < m->meta.size() ? m->meta[i].second.c_str() : nullptr;
}

const char* ingot_model_meta_get(const ingot_model* m, const char* key) {
  if (m == nullptr || key == nullptr) return nullptr;
  for (const auto& [k, v] : m->meta) {
    if (k == key) return v.c_str();
  }
  return nullptr;
}

}  // extern "C"
