#include "emit.h"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <unistd.h>

#include "cpu/convert.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;

// Converts a tensor's bytes to `to`; `values` of the source dtype.
Status convert(const SourceTensor& t, fb::DType to, std::vector<uint8_t>* out) {
  const size_t n = t.bytes.size() / (format::dtype_bits(t.dtype) / 8);
  out->resize(n * (format::dtype_bits(to) / 8));
  auto load = [&](size_t i) -> float {
    uint16_t h;
    float f;
    switch (t.dtype) {
      case fb::DType::F16: std::memcpy(&h, t.bytes.data() + 2 * i, 2); return cpu::f16_to_f32(h);
      case fb::DType::BF16: std::memcpy(&h, t.bytes.data() + 2 * i, 2); return cpu::bf16_to_f32(h);
      default: std::memcpy(&f, t.bytes.data() + 4 * i, 4); return f;
    }
  };
  for (size_t i = 0; i < n; ++i) {
    const float v = load(i);
    if (!std::isfinite(v)) {
      return fail(StatusCode::invalid_argument, "tensor '", t.name, "' holds a non-finite value (", v, ") at element ", i);
    }
    uint16_t h;
    switch (to) {
      case fb::DType::F16:
        if (std::fabs(v) > 65504.0f) {
          return fail(StatusCode::invalid_argument, "tensor '", t.name, "' element ", i, " = ", v,
                      " overflows f16; use --dtype bf16 or f32");
        }
        h = cpu::f32_to_f16(v);
        std::memcpy(out->data() + 2 * i, &h, 2);
        break;
      case fb::DType::BF16:
        h = cpu::f32_to_bf16(v);
        std::memcpy(out->data() + 2 * i, &h, 2);
        break;
      default: std::memcpy(out->data() + 4 * i, &v, 4);
    }
  }
  return Status::success();
}

fb::DType packed_dtype(uint32_t bits) {
  switch (bits) {
    case 2: return fb::DType::Q2;
    case 3: return fb::DType::Q3;
    case 8: return fb::DType::Q8;
    default: return fb::DType::Q4;
  }
}

// A quantized weight in the canonical GPTQ layout (spec/quant-layouts.md).
Status add_quantized(format::Writer& w, const SourceTensor& t) {
  const PackedQuant& p = *t.quant;
  const fb::DType dt = packed_dtype(p.bits);
  format::QuantDesc q;
  q.method = p.method;
  q.bits = uint8_t(p.bits);
  q.group_size = p.group_size;
  q.symmetric = p.symmetric;
  q.act_order = p.act_order;
  q.static_groups = p.static_groups;
  q.scales_dtype = fb::DType::F16;
  q.scales = format::BlobSource::of(std::span<const uint16_t>(p.scales));
  q.zeros_dtype = dt;
  if (!p.zeros.empty()) q.zeros = format::BlobSource::of(std::span<const uint32_t>(p.zeros));
  if (!p.g_idx.empty()) q.perm = format::BlobSource::of(std::span<const int32_t>(p.g_idx));
  // Act-order weights stored sorted into group order (spec/quant-layouts.md §2.3).
  if (!p.order.empty()) q.input_order = format::BlobSource::of(std::span<const int32_t>(p.order));
  const fb::Layout layout = p.order.empty() ? fb::Layout::GptqPackedK : fb::Layout::GptqPackedKSorted;
  return w.add_tensor({t.name, dt, t.shape, layout},
                      format::BlobSource::of(std::span<const uint32_t>(p.qweight)), &q);
}

}  // namespace

Status emit(SourceModel& model, const std::string& path, const EmitOptions& options) {
  std::unique_ptr<format::Writer> w;
  INGOT_RETURN_IF_ERROR(format::Writer::create(path, options.writer, &w));
  w->set_config(std::move(model.config));
  w->set_tokenizer(std::move(model.tokenizer));
  fb::ProvenanceT prov;
  prov.compiler = "ingotc 0.1.0";
  for (const auto& [k, v] : options.options) {
    auto kv = std::make_unique<fb::KeyValueT>();
    kv->key = k;
    kv->value = v;
    prov.options.push_back(std::move(kv));
  }
  prov.sources = std::move(model.sources);
  const bool any_source_type = std::any_of(model.tensors.begin(), model.tensors.end(),
                                           [](const SourceTensor& t) { return !t.source_type.empty(); });
  for (const SourceTensor& t : model.tensors) {
    if (!any_source_type) break;
    auto kv = std::make_unique<fb::KeyValueT>();
    kv->key = t.name;
    kv->value = t.source_type.empty() ? format::dtype_name(t.dtype) : t.source_type;
    prov.source_types.push_back(std::move(kv));
  }

  prov.calibration = std::move(model.calibration);
  prov.layer_losses = std::move(model.layer_losses);
  w->set_provenance(std::move(prov));
  std::vector<uint8_t> buf;
  size_t done = 0;
  const bool tty = isatty(STDERR_FILENO) != 0;
  for (const SourceTensor& t : model.tensors) {
    if (t.quant != nullptr) {
      INGOT_RETURN_IF_ERROR(add_quantized(*w, t));
      ++done;
      continue;
    }
    const fb::DType to = t.shape.size() == 1 ? fb::DType::F32 : options.dtype;
    INGOT_RETURN_IF_ERROR(convert(t, to, &buf));
    INGOT_RETURN_IF_ERROR(w->add_tensor({t.name, to, t.shape}, format::BlobSource(buf)));
    ++done;
    if (options.progress && tty) {
      std::fprintf(stderr, "\ringotc: %zu/%zu tensors", done, model.tensors.size());
      std::fflush(stderr);
    }
  }
  if (options.progress) std::fprintf(stderr, "%singotc: %zu tensors written\n", tty ? "\r" : "", done);
  return w->finish();
}

}  // namespace ingot::compiler
