#include "logits_binding.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <numeric>

#include "binding_state.h"

namespace ingot::scripting {

namespace {

const char* kMetatable = "ingot.logits";
const char* kInstance = "ingot.logits.instance";

// The buffer behind `self`; raises when the method is called outside the hook that got it.
std::span<float> check_logits(lua_State* L) {
  luaL_checkudata(L, 1, kMetatable);
  std::span<float> l = binding_state(L).logits;
  if (l.empty()) luaL_error(L, "logits used outside the hook call that received them");
  return l;
}

// A token id argument (an integer in [0, n)).
size_t check_id(lua_State* L, int arg, size_t n, const char* fn) {
  int is_int = 0;
  const lua_Integer id = lua_tointegerx(L, arg, &is_int);
  if (!is_int) luaL_error(L, "%s: token id must be an integer, got %s", fn, luaL_typename(L, arg));
  if (id < 0 || lua_Unsigned(id) >= n) luaL_error(L, "%s: token id %I is outside the vocabulary [0, %I)", fn, id, lua_Integer(n));
  return size_t(id);
}

// The ids in the array at `arg` into BindingState::ids, each checked against the vocabulary.
void read_id_list(lua_State* L, int arg, size_t n, const char* fn) {
  luaL_checktype(L, arg, LUA_TTABLE);
  BindingState& st = binding_state(L);
  const lua_Unsigned count = lua_rawlen(L, arg);
  st.ids.clear();
  guarded(L, fn, [&] { st.ids.reserve(size_t(count)); });  // push_back below cannot throw then
  for (lua_Unsigned i = 1; i <= count; ++i) {
    lua_rawgeti(L, arg, lua_Integer(i));
    int is_int = 0;
    const lua_Integer id = lua_tointegerx(L, -1, &is_int);
    if (!is_int) luaL_error(L, "%s: element %I is %s, expected a token id", fn, lua_Integer(i), luaL_typename(L, -1));
    if (id < 0 || lua_Unsigned(id) >= n) {
      luaL_error(L, "%s: element %I is token id %I, outside the vocabulary [0, %I)", fn, lua_Integer(i), id, lua_Integer(n));
    }
    lua_pop(L, 1);
    st.ids.push_back(int32_t(id));
  }
}

// Strict order of the candidates: higher logit first, lower id first on ties (as the built-in
// sampler orders them, so both pick the same tokens).
struct Better {
  const float* l;
  bool operator()(int32_t a, int32_t b) const {
    return l[a] > l[b] || (l[a] == l[b] && a < b);
  }
};

int l_size(lua_State* L) {
  lua_pushinteger(L, lua_Integer(check_logits(L).size()));
  return 1;
}

int l_get(lua_State* L) {
  const std::span<float> l = check_logits(L);
  lua_pushnumber(L, l[check_id(L, 2, l.size(), "get")]);
  return 1;
}

int l_set(lua_State* L) {
  const std::span<float> l = check_logits(L);
  const size_t id = check_id(L, 2, l.size(), "set");
  l[id] = float(luaL_checknumber(L, 3));
  return 0;
}

int l_scale(lua_State* L) {
  const std::span<float> l = check_logits(L);
  const double f = luaL_checknumber(L, 2);
  if (!std::isfinite(f)) luaL_error(L, "scale: factor must be finite, got %f", f);
  const float ff = float(f);
  for (float& v : l) v *= ff;
  return 0;
}

int l_add_bias(lua_State* L) {
  const std::span<float> l = check_logits(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    const size_t id = check_id(L, -2, l.size(), "add_bias");
    if (lua_type(L, -1) != LUA_TNUMBER) luaL_error(L, "add_bias: bias of token %I is %s, expected a number", lua_Integer(id), luaL_typename(L, -1));
    l[id] += float(lua_tonumber(L, -1));
    lua_pop(L, 1);
  }
  return 0;
}

int l_ban(lua_State* L) {
  const std::span<float> l = check_logits(L);
  read_id_list(L, 2, l.size(), "ban");
  for (int32_t id : binding_state(L).ids) l[size_t(id)] = -INFINITY;
  return 0;
}

int l_allow(lua_State* L) {
  const std::span<float> l = check_logits(L);
  read_id_list(L, 2, l.size(), "allow");
  BindingState& st = binding_state(L);
  guarded(L, "allow", [&] {
    st.values.resize(st.ids.size());
    for (size_t i = 0; i < st.ids.size(); ++i) st.values[i] = l[size_t(st.ids[i])];
    std::fill(l.begin(), l.end(), -INFINITY);
    for (size_t i = 0; i < st.ids.size(); ++i) l[size_t(st.ids[i])] = st.values[i];
  });
  return 0;
}

int l_argmax(lua_State* L) {
  const std::span<float> l = check_logits(L);
  lua_pushinteger(L, lua_Integer(std::max_element(l.begin(), l.end()) - l.begin()));  // first of ties
  return 1;
}

// top_k(k) -> ids, values: the k highest logits, best first, as two arrays.
int l_top_k(lua_State* L) {
  const std::span<float> l = check_logits(L);
  const lua_Integer k_arg = luaL_checkinteger(L, 2);
  if (k_arg < 1) luaL_error(L, "top_k: k must be at least 1, got %I", k_arg);
  const size_t k = std::min(size_t(k_arg), l.size());
  BindingState& st = binding_state(L);
  guarded(L, "top_k", [&] {
    // A heap of the k best so far with the worst on top: one pass, O(n log k).
    const Better better{l.data()};
    st.ids.clear();
    st.ids.reserve(k);
    for (int32_t id = 0; id < int32_t(l.size()); ++id) {
      if (std::isnan(l[size_t(id)])) continue;
      if (st.ids.size() < k) {
        st.ids.push_back(id);
        std::push_heap(st.ids.begin(), st.ids.end(), better);
      } else if (better(id, st.ids.front())) {
        std::pop_heap(st.ids.begin(), st.ids.end(), better);
        st.ids.back() = id;
        std::push_heap(st.ids.begin(), st.ids.end(), better);
      }
    }
    std::sort_heap(st.ids.begin(), st.ids.end(), better);
  });
  const int n = int(st.ids.size());
  lua_createtable(L, n, 0);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; ++i) {
    lua_pushinteger(L, st.ids[size_t(i)]);
    lua_rawseti(L, -3, i + 1);
    lua_pushnumber(L, l[size_t(st.ids[size_t(i)])]);
    lua_rawseti(L, -2, i + 1);
  }
  return 2;
}

// The largest logit, raising when there is no finite one (nothing to normalise against).
float finite_max(lua_State* L, std::span<const float> l, const char* fn) {
  float max = -INFINITY;
  for (float v : l) max = v > max ? v : max;  // NaN never wins
  if (!(max > -INFINITY) || std::isinf(max)) luaL_error(L, "%s: no finite logit (all are -inf or NaN, or one is +inf)", fn);
  return max;
}

int l_softmax(lua_State* L) {
  const std::span<float> l = check_logits(L);
  const double max = finite_max(L, l, "softmax");
  double sum = 0;
  for (float& v : l) {
    const double e = std::isnan(v) ? 0.0 : std::exp(double(v) - max);
    v = float(e);
    sum += e;
  }
  const double inv = 1.0 / sum;
  for (float& v : l) v = float(double(v) * inv);
  return 0;
}

// sample_top_p(p) -> id: softmax of the logits as they are (scale first for a temperature), keep
// the fewest most likely tokens whose mass reaches p, draw one with the script's seeded RNG.
int l_sample_top_p(lua_State* L) {
  const std::span<float> l = check_logits(L);
  const double p = luaL_checknumber(L, 2);
  if (!(p > 0 && p <= 1)) luaL_error(L, "sample_top_p: p must be in (0, 1], got %f", p);
  const double max = finite_max(L, l, "sample_top_p");
  BindingState& st = binding_state(L);
  int32_t chosen = -1;
  guarded(L, "sample_top_p", [&] {
    const size_t n = l.size();
    st.probs.resize(n);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += st.probs[i] = std::isnan(l[i]) ? 0.0 : std::exp(double(l[i]) - max);
    st.ids.resize(n);
    std::iota(st.ids.begin(), st.ids.end(), 0);
    // Sort only as far as needed. Every token has exp(l - max) <= 1, so the nucleus holds at least
    // p * sum tokens: a flat row (a random model) is sorted whole at once, a peaked one (a trained
    // model) first only its top candidates, then, if they fall short, everything else.
    const Better better{l.data()};
    const double target = p * sum;
    double kept = 0;
    size_t sorted = 0, keep = 0;
    size_t upto = std::max<size_t>(64, size_t(2 * target) + 1);
    if (upto >= n / 4) upto = n;
    while (keep == 0) {
      if (upto < n) {
        std::nth_element(st.ids.begin() + std::ptrdiff_t(sorted), st.ids.begin() + std::ptrdiff_t(upto - 1),
                         st.ids.end(), better);
      }
      std::sort(st.ids.begin() + std::ptrdiff_t(sorted), st.ids.begin() + std::ptrdiff_t(upto), better);
      for (size_t i = sorted; i < upto; ++i) {
        kept += st.probs[size_t(st.ids[i])];
        if (kept >= target) {
          keep = i + 1;
          break;
        }
      }
      sorted = upto;
      if (sorted == n && keep == 0) keep = n;  // rounding left the mass just short of p: keep all
      upto = n;
    }
    const double r = st.uniform() * kept;
    double cum = 0;
    chosen = st.ids[keep - 1];
    for (size_t i = 0; i < keep; ++i) {
      cum += st.probs[size_t(st.ids[i])];
      if (r < cum) {
        chosen = st.ids[i];
        break;
      }
    }
  });
  lua_pushinteger(L, chosen);
  return 1;
}

// penalize(ids, factor): the repetition penalty of the built-in sampler (CTRL paper): each
// distinct listed token's logit is divided by factor when positive, multiplied when not.
int l_penalize(lua_State* L) {
  const std::span<float> l = check_logits(L);
  read_id_list(L, 2, l.size(), "penalize");
  const double f = luaL_checknumber(L, 3);
  if (!(f > 0) || !std::isfinite(f)) luaL_error(L, "penalize: factor must be positive and finite, got %f", f);
  BindingState& st = binding_state(L);
  std::sort(st.ids.begin(), st.ids.end());
  st.ids.erase(std::unique(st.ids.begin(), st.ids.end()), st.ids.end());
  const float ff = float(f);
  for (int32_t id : st.ids) {
    float& v = l[size_t(id)];
    v = v > 0 ? v / ff : v * ff;
  }
  return 0;
}

int l_tostring(lua_State* L) {
  luaL_checkudata(L, 1, kMetatable);
  lua_pushfstring(L, "logits(%I)", lua_Integer(binding_state(L).logits.size()));
  return 1;
}

}  // namespace

void open_logits(lua_State* L) {
  const luaL_Reg methods[] = {{"size", l_size},       {"get", l_get},         {"set", l_set},
                              {"scale", l_scale},     {"add_bias", l_add_bias}, {"ban", l_ban},
                              {"allow", l_allow},     {"top_k", l_top_k},     {"softmax", l_softmax},
                              {"argmax", l_argmax},   {"sample_top_p", l_sample_top_p},
                              {"penalize", l_penalize}, {nullptr, nullptr}};
  luaL_newmetatable(L, kMetatable);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_size);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "logits");  // getmetatable(logits) gives this string, not the methods
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  lua_newuserdatauv(L, 0, 0);
  luaL_setmetatable(L, kMetatable);
  lua_setfield(L, LUA_REGISTRYINDEX, kInstance);
}

void push_logits(lua_State* L) { lua_getfield(L, LUA_REGISTRYINDEX, kInstance); }

}  // namespace ingot::scripting
