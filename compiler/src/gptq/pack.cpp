#include "gptq/pack.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "cpu/convert.h"
#include "cpu/quant.h"

namespace ingot::compiler {

using format::fail;
using format::Status;
using format::StatusCode;

bool is_linear_weight(const std::string& name) {
  static const char* const kSuffixes[] = {".attention.wq.weight", ".attention.wk.weight", ".attention.wv.weight",
                                          ".attention.wo.weight", ".feed_forward.w1.weight", ".feed_forward.w3.weight",
                                          ".feed_forward.w2.weight"};
  if (name.rfind("layers.", 0) != 0) return false;
  return std::any_of(std::begin(kSuffixes), std::end(kSuffixes), [&](const char* s) {
    const std::string suffix(s);
    return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  });
}

Status pack_result(const QuantResult& r, const QuantConfig& config, fb::QuantMethod method, size_t out, size_t in,
                   PackedQuant* packed) {
  const uint32_t bits = uint32_t(config.bits);
  const size_t n_groups = cpu::quant_n_groups(in, config.group_size);
  if (r.q.size() != out * in || r.scales.size() != n_groups * out || r.zeros.size() != n_groups * out ||
      r.g_idx.size() != in) {
    return fail(StatusCode::invalid_argument, "pack_result: result sizes do not match (", out, ", ", in, ") with ",
                n_groups, " groups");
  }
  PackedQuant p;
  p.method = method;
  p.bits = bits;
  p.group_size = config.group_size;
  p.symmetric = config.sym;
  p.act_order = config.act_order && method == fb::QuantMethod::GPTQ;
  p.static_groups = config.static_groups && method == fb::QuantMethod::GPTQ;
  INGOT_RETURN_IF_ERROR(cpu::pack_gptq(r.q.data(), out, in, bits, &p.qweight));
  p.scales.resize(r.scales.size());
  for (size_t i = 0; i < r.scales.size(); ++i) {
    if (!(std::fabs(r.scales[i]) <= 65504.0f)) {
      return fail(StatusCode::invalid_argument, "pack_result: scale ", r.scales[i], " does not fit f16");
    }
    p.scales[i] = cpu::f32_to_f16(r.scales[i]);
  }
  const int32_t default_zero = 1 << (bits - 1);
  if (!std::all_of(r.zeros.begin(), r.zeros.end(), [&](int32_t z) { return z == default_zero; })) {
    std::vector<uint8_t> z(r.zeros.size());
    for (size_t i = 0; i < z.size(); ++i) {
      if (r.zeros[i] < 0 || r.zeros[i] >= (1 << bits)) {
        return fail(StatusCode::invalid_argument, "pack_result: zero point ", r.zeros[i], " outside ", bits, " bits");
      }
      z[i] = uint8_t(r.zeros[i]);
    }
    INGOT_RETURN_IF_ERROR(cpu::pack_zeros(z.data(), n_groups, out, bits, &p.zeros));
  }
  bool trivial = true;
  for (size_t k = 0; k < in && trivial; ++k) {
    trivial = r.g_idx[k] == (config.group_size == -1 ? 0 : int32_t(k / size_t(config.group_size)));
  }
  if (!trivial) p.g_idx = r.g_idx;
  // GPTQ's act-order assigns groups along its quantization order (perm[i] gets group i / gs, not
  // static groups, whose g_idx is k / gs): stored in that order, the weight needs no g_idx.
  bool sorted = false;
  INGOT_RETURN_IF_ERROR(sort_act_order(&p, out, in, r.perm, &sorted));
  *packed = std::move(p);
  return Status::success();
}

std::vector<uint32_t> permute_gptq_columns(const uint32_t* qweight, size_t out, size_t in, uint32_t bits,
                                           const int32_t* order, bool inverse) {
  std::vector<uint8_t> q(out * in), moved(out * in);
  cpu::unpack_gptq(qweight, out, in, bits, q.data());
  for (size_t o = 0; o < out; ++o) {
    const uint8_t* src = q.data() + o * in;
    uint8_t* dst = moved.data() + o * in;
    for (size_t j = 0; j < in; ++j) {
      if (inverse) {
        dst[size_t(order[j])] = src[j];
      } else {
        dst[j] = src[size_t(order[j])];
      }
    }
  }
  std::vector<uint32_t> packed;
  (void)cpu::pack_gptq(moved.data(), out, in, bits, &packed);  // values < 2^bits: they came from words
  return packed;
}

Status sort_act_order(PackedQuant* p, size_t out, size_t in, const std::vector<int32_t>& preferred, bool* sorted) {
  *sorted = false;
  if (p->g_idx.empty() || p->group_size < 1) return Status::success();
  if (p->g_idx.size() != in || p->qweight.size() != cpu::quant_words(in, p->bits) * out) {
    return fail(StatusCode::invalid_argument, "sort_act_order: sizes do not match (", out, ", ", in, ")");
  }
  if (const char* e = std::getenv("INGOTC_UNSORTED_ACT_ORDER"); e != nullptr && std::strcmp(e, "1") == 0) {
    return Status::success();
  }
  std::vector<int32_t> order;
  bool ok = preferred.size() == in;
  if (ok) {
    // A permutation whose j-th column is in group j / gs.
    std::vector<bool> seen(in, false);
    for (size_t j = 0; j < in && ok; ++j) {
      const int32_t k = preferred[j];
      ok = k >= 0 && size_t(k) < in && !seen[size_t(k)] && p->g_idx[size_t(k)] == int32_t(j / size_t(p->group_size));
      if (ok) seen[size_t(k)] = true;
    }
    if (ok) order = preferred;
  }
  if (!ok && !cpu::quant_group_order(p->g_idx.data(), in, p->group_size, &order)) return Status::success();
  p->qweight = permute_gptq_columns(p->qweight.data(), out, in, p->bits, order.data(), false);
  p->order = std::move(order);
  p->g_idx.clear();
  *sorted = true;
  return Status::success();
}

}  // namespace ingot::compiler
