#include "ctx_binding.h"

#include <cstdio>
#include <exception>

#include "binding_state.h"

namespace ingot::scripting {

namespace {

const char* kInstance = "ingot.ctx.instance";

const runtime::Tokenizer& check_tokenizer(lua_State* L, const char* fn) {
  const runtime::Model* m = binding_state(L).model;
  if (m == nullptr) luaL_error(L, "%s: no model is attached to the script", fn);
  if (!m->has_tokenizer()) luaL_error(L, "%s: the model has no tokenizer", fn);
  return m->tokenizer();
}

void push_id_array(lua_State* L, std::span<const int32_t> ids) {
  lua_createtable(L, int(ids.size()), 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    lua_pushinteger(L, ids[i]);
    lua_rawseti(L, -2, lua_Integer(i + 1));
  }
}

// random() -> [0,1); random(m) -> [1,m]; random(m, n) -> [m,n]; like math.random but drawn from
// the generator logits:sample_top_p uses (seeded with the run's seed at the start of generation).
int c_random(lua_State* L) {
  BindingState& st = binding_state(L);
  const int n = lua_gettop(L) - 1;  // without self
  const double u = st.uniform();
  if (n == 0) {
    lua_pushnumber(L, u);
    return 1;
  }
  lua_Integer lo = 1, hi = 0;
  if (n == 1) {
    hi = luaL_checkinteger(L, 2);
  } else {
    lo = luaL_checkinteger(L, 2);
    hi = luaL_checkinteger(L, 3);
  }
  if (lo > hi) luaL_error(L, "random: interval [%I, %I] is empty", lo, hi);
  const double span = double(lua_Unsigned(hi) - lua_Unsigned(lo)) + 1.0;
  lua_Integer r = lo + lua_Integer(u * span);
  if (r > hi) r = hi;  // guards the rounding of u * span for huge intervals
  lua_pushinteger(L, r);
  return 1;
}

int c_history(lua_State* L) {
  push_id_array(L, binding_state(L).hook.history);
  return 1;
}

// recent(n): the last n tokens of the history (fewer when the history is shorter).
int c_recent(lua_State* L) {
  const lua_Integer n = luaL_checkinteger(L, 2);
  if (n < 0) luaL_error(L, "recent: n must not be negative, got %I", n);
  const std::span<const int32_t> h = binding_state(L).hook.history;
  const size_t take = std::min(h.size(), size_t(n));
  push_id_array(L, h.subspan(h.size() - take));
  return 1;
}

int c_tokenize(lua_State* L) {
  size_t len = 0;
  const char* s = luaL_checklstring(L, 2, &len);
  const bool special = lua_toboolean(L, 3) != 0;
  const runtime::Tokenizer& t = check_tokenizer(L, "tokenize");
  BindingState& st = binding_state(L);
  guarded(L, "tokenize", [&] { st.ids = t.encode(std::string_view(s, len), special); });
  push_id_array(L, st.ids);
  return 1;
}

int c_detokenize(lua_State* L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  const runtime::Tokenizer& t = check_tokenizer(L, "detokenize");
  BindingState& st = binding_state(L);
  const lua_Unsigned count = lua_rawlen(L, 2);
  guarded(L, "detokenize", [&] {
    st.ids.clear();
    st.ids.reserve(size_t(count));
  });
  for (lua_Unsigned i = 1; i <= count; ++i) {
    lua_rawgeti(L, 2, lua_Integer(i));
    int is_int = 0;
    const lua_Integer id = lua_tointegerx(L, -1, &is_int);
    if (!is_int || id < 0 || lua_Unsigned(id) >= t.n_vocab()) {
      luaL_error(L, "detokenize: element %I is not a token id in [0, %I)", lua_Integer(i), lua_Integer(t.n_vocab()));
    }
    lua_pop(L, 1);
    st.ids.push_back(int32_t(id));
  }
  guarded(L, "detokenize", [&] { st.text = t.decode(st.ids); });
  lua_pushlstring(L, st.text.data(), st.text.size());
  return 1;
}

int c_piece(lua_State* L) {
  const runtime::Tokenizer& t = check_tokenizer(L, "piece");
  const lua_Integer id = luaL_checkinteger(L, 2);
  if (id < 0 || lua_Unsigned(id) >= t.n_vocab()) luaL_error(L, "piece: token id %I is outside the vocabulary [0, %I)", id, lua_Integer(t.n_vocab()));
  const std::string_view p = t.piece(int32_t(id));
  lua_pushlstring(L, p.data(), p.size());
  return 1;
}

// token_id(piece) -> id or nil: the vocabulary entry spelled exactly `piece` (e.g. "▁the").
int c_token_id(lua_State* L) {
  size_t len = 0;
  const char* s = luaL_checklstring(L, 2, &len);
  const runtime::Tokenizer& t = check_tokenizer(L, "token_id");
  BindingState& st = binding_state(L);
  int32_t found = -1;
  guarded(L, "token_id", [&] {
    if (!st.piece_map_built) {
      st.piece_to_id.clear();
      for (size_t i = 0; i < t.n_vocab(); ++i) st.piece_to_id.emplace(std::string(t.piece(int32_t(i))), int32_t(i));
      st.piece_map_built = true;
    }
    const auto it = st.piece_to_id.find(std::string(s, len));
    if (it != st.piece_to_id.end()) found = it->second;
  });
  if (found < 0) {
    lua_pushnil(L);
  } else {
    lua_pushinteger(L, found);
  }
  return 1;
}

int c_is_eos(lua_State* L) {
  const lua_Integer id = luaL_checkinteger(L, 2);
  const runtime::Model* m = binding_state(L).model;
  lua_pushboolean(L, m != nullptr && id >= INT32_MIN && id <= INT32_MAX && m->is_eos(int32_t(id)));
  return 1;
}

void set_int_or_nil(lua_State* L, const char* name, int64_t v) {
  if (v < 0) {
    lua_pushnil(L);
  } else {
    lua_pushinteger(L, lua_Integer(v));
  }
  lua_setfield(L, -2, name);
}

}  // namespace

void open_ctx(lua_State* L) {
  const luaL_Reg methods[] = {{"random", c_random},     {"history", c_history}, {"recent", c_recent},
                              {"tokenize", c_tokenize}, {"detokenize", c_detokenize}, {"piece", c_piece},
                              {"token_id", c_token_id}, {"is_eos", c_is_eos}, {nullptr, nullptr}};
  lua_createtable(L, 0, 16);   // ctx
  lua_createtable(L, 0, 2);    // its metatable
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "ctx");   // getmetatable(ctx) gives this; setmetatable(ctx, ...) is refused
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, kInstance);
  set_ctx_model(L);
}

void set_ctx_model(lua_State* L) {
  BindingState& st = binding_state(L);
  st.piece_map_built = false;
  lua_getfield(L, LUA_REGISTRYINDEX, kInstance);
  const runtime::Model* m = st.model;
  set_int_or_nil(L, "n_vocab", m != nullptr ? int64_t(m->dims().vocab) : -1);
  set_int_or_nil(L, "bos", m != nullptr ? m->dims().bos : -1);
  set_int_or_nil(L, "eos", m != nullptr ? m->dims().eos : -1);
  lua_newtable(L);  // eos_ids: every id that ends generation
  if (m != nullptr) {
    lua_Integer n = 0;
    if (m->dims().eos >= 0) {
      lua_pushinteger(L, m->dims().eos);
      lua_rawseti(L, -2, ++n);
    }
    for (int32_t id : m->dims().extra_eos) {
      lua_pushinteger(L, id);
      lua_rawseti(L, -2, ++n);
    }
  }
  lua_setfield(L, -2, "eos_ids");
  lua_newtable(L);  // special_tokens: content -> id
  const fb::Tokenizer* t = m != nullptr ? m->container().index().tokenizer() : nullptr;
  if (t != nullptr && t->special_tokens() != nullptr) {
    for (const fb::SpecialToken* s : *t->special_tokens()) {
      lua_pushinteger(L, s->id());
      lua_setfield(L, -2, s->content()->c_str());
    }
  }
  lua_setfield(L, -2, "special_tokens");
  if (t != nullptr && t->chat_template() != nullptr && t->chat_template()->size() > 0) {
    lua_pushlstring(L, t->chat_template()->data(), t->chat_template()->size());
  } else {
    lua_pushnil(L);
  }
  lua_setfield(L, -2, "chat_template");
  lua_pop(L, 1);
}

void push_ctx(lua_State* L) {
  const runtime::HookContext& h = binding_state(L).hook;
  lua_getfield(L, LUA_REGISTRYINDEX, kInstance);
  lua_pushinteger(L, lua_Integer(h.position));
  lua_setfield(L, -2, "position");
  lua_pushinteger(L, lua_Integer(h.n_prompt));
  lua_setfield(L, -2, "n_prompt");
  lua_pushinteger(L, lua_Integer(h.n_generated));
  lua_setfield(L, -2, "n_generated");
  lua_pushinteger(L, lua_Integer(h.seed));
  lua_setfield(L, -2, "seed");
}

}  // namespace ingot::scripting
