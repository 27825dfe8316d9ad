#include "import/safetensors.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "import/file.h"

namespace ingot::compiler {

namespace {

using format::fail;
using format::Status;
using format::StatusCode;
using json = nlohmann::json;

// The dtypes of the reference implementation (safetensors/src/tensor.rs, enum Dtype), with their
// sizes in bits.
struct DtypeBits {
  std::string_view name;
  uint32_t bits;
};
constexpr DtypeBits kDtypes[] = {{"BOOL", 8},    {"U8", 8},   {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8},
                                 {"F8_E8M0", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16},    {"BF16", 16},
                                 {"I32", 32},    {"U32", 32}, {"F32", 32}, {"F64", 64},    {"I64", 64},
                                 {"U64", 64},    {"C64", 64}, {"F4", 4},   {"F6_E2M3", 6}, {"F6_E3M2", 6}};

// A JSON array of non-negative integers (what the reference reads as Vec<usize>).
bool read_uints(const json& v, std::vector<uint64_t>* out) {
  if (!v.is_array()) return false;
  out->clear();
  for (const json& e : v) {
    if (!e.is_number_unsigned()) return false;
    out->push_back(e.get<uint64_t>());
  }
  return true;
}

struct Entry {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;
};

// One header entry: {"dtype", "shape", "data_offsets"} (other keys are ignored, as the reference
// does), checked against the size of the data region.
Status read_entry(const std::string& path, const std::string& name, const json& v, uint64_t data_size, Entry* e) {
  e->name = name;
  if (!v.is_object()) return file_error(path, "tensor '", name, "': its header entry is not a JSON object");
  const auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string()) return file_error(path, "tensor '", name, "' has no dtype string");
  e->dtype = dtype->get<std::string>();
  const uint32_t bits = safetensors_dtype_bits(e->dtype);
  if (bits == 0) return file_error(path, "tensor '", name, "' has unknown dtype '", e->dtype, "'");
  const auto shape = v.find("shape");
  if (shape == v.end() || !read_uints(*shape, &e->shape)) {
    return file_error(path, "tensor '", name, "': shape is not a list of non-negative integers");
  }
  const auto offsets = v.find("data_offsets");
  std::vector<uint64_t> off;
  if (offsets == v.end() || !read_uints(*offsets, &off) || off.size() != 2) {
    return file_error(path, "tensor '", name, "': data_offsets is not a pair [begin, end] of non-negative integers");
  }
  e->begin = off[0];
  e->end = off[1];
  if (e->begin > e->end) {
    return file_error(path, "tensor '", name, "': data_offsets [", e->begin, ", ", e->end, "] end before they begin");
  }
  if (e->end > data_size) {
    return file_error(path, "tensor '", name, "': data_offsets [", e->begin, ", ", e->end,
               "] run past the end of the data region (", data_size, " bytes)");
  }
  uint64_t n_bits = bits;
  for (uint64_t d : e->shape) {
    if (__builtin_mul_overflow(n_bits, d, &n_bits)) {
      return file_error(path, "tensor '", name, "': shape ", shape_string(e->shape), " of ", e->dtype, " overflows 64 bits");
    }
  }
  if (n_bits % 8 != 0) {
    return file_error(path, "tensor '", name, "': shape ", shape_string(e->shape), " of ", e->dtype,
               " is not a whole number of bytes");
  }
  if (n_bits / 8 != e->end - e->begin) {
    return file_error(path, "tensor '", name, "': dtype ", e->dtype, " with shape ", shape_string(e->shape), " takes ",
               n_bits / 8, " bytes but data_offsets [", e->begin, ", ", e->end, "] hold ", e->end - e->begin);
  }
  return Status::success();
}

Status parse(std::span<const uint8_t> bytes, const std::string& path, SafetensorsFile* out) {
  if (bytes.size() < 8) {
    return file_error(path, "is too small for a safetensors file (", bytes.size(), " bytes; the header length takes 8)");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[size_t(i)];
  if (n > kSafetensorsMaxHeaderSize) {
    return file_error(path, "header length ", n, " is over the safetensors limit of ", kSafetensorsMaxHeaderSize, " bytes");
  }
  if (n > bytes.size() - 8) {
    return file_error(path, "header length ", n, " runs past the end of the file (", bytes.size(), " bytes)");
  }
  const char* header = reinterpret_cast<const char*>(bytes.data() + 8);

  // A name given twice would hide a tensor (the JSON reader keeps the last): note the first.
  std::set<std::string> names;
  std::string twice;
  const json::parser_callback_t note_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && !names.insert(parsed.get<std::string>()).second &&
        twice.empty()) {
      twice = parsed.get<std::string>();
    }
    return true;
  };
  json root;
  try {
    root = json::parse(header, header + n, note_keys);
  } catch (const json::parse_error& e) {
    return file_error(path, "the ", n, "-byte header is not valid JSON (", e.what(), ")");
  }
  if (!root.is_object()) return file_error(path, "the header is not a JSON object");
  if (!twice.empty()) return file_error(path, "the header names '", twice, "' twice");

  const uint64_t data_size = bytes.size() - 8 - n;
  SafetensorsFile f;
  f.path = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return file_error(path, "__metadata__ is not a JSON object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) return file_error(path, "__metadata__ entry '", k, "' is not a string");
        f.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    Entry e;
    INGOT_RETURN_IF_ERROR(read_entry(path, key, value, data_size, &e));
    entries.push_back(std::move(e));
  }

  // Back to back from 0 to the end of the file, in offset order.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t at = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < at) {
      return file_error(path, "tensor '", e.name, "' (data_offsets [", e.begin, ", ", e.end, "]) overlaps tensor '",
                 prev->name, "' (data_offsets [", prev->begin, ", ", prev->end, "])");
    }
    if (e.begin > at) {
      return file_error(path, "bytes [", at, ", ", e.begin, ") of the data region belong to no tensor (before tensor '",
                 e.name, "'); the tensors must lie back to back");
    }
    at = e.end;
    prev = &e;
  }
  if (at != data_size) {
    return file_error(path, "the tensors cover ", at, " bytes but the data region after the header holds ", data_size,
               " bytes");
  }
  const uint8_t* data = bytes.data() + 8 + n;
  for (Entry& e : entries) {
    f.tensors.push_back({std::move(e.name), std::move(e.dtype), std::move(e.shape),
                         std::span<const uint8_t>(data + e.begin, size_t(e.end - e.begin)), path});
  }
  *out = std::move(f);
  return Status::success();
}

// Maps and parses `path`, adding its tensors to `out`; a tensor already there is an error.
Status add_file(const std::string& path, SafetensorsCheckpoint* out, SafetensorsFile* parsed) {
  std::unique_ptr<Mapping> m;
  INGOT_RETURN_IF_ERROR(map_file(path, &m));
  INGOT_RETURN_IF_ERROR(parse_safetensors(m->bytes(), path, parsed));
  for (const SafetensorsTensor& t : parsed->tensors) {
    if (const auto it = out->tensors.find(t.name); it != out->tensors.end()) {
      return fail(StatusCode::invalid_argument, "tensor '", t.name, "' is in both '", it->second.file, "' and '", path,
                  "'");
    }
    out->tensors.emplace(t.name, t);
  }
  out->sources.push_back(digest(path, *m));
  out->mappings.push_back(std::move(m));
  return Status::success();
}

Status open_index(const std::string& path, SafetensorsCheckpoint* out) {
  std::unique_ptr<Mapping> m;
  INGOT_RETURN_IF_ERROR(map_file(path, &m));
  const char* text = reinterpret_cast<const char*>(m->bytes().data());
  json root;
  try {
    root = json::parse(text, text + m->bytes().size());
  } catch (const json::parse_error& e) {
    return file_error(path, "is not valid JSON (", e.what(), ")");
  }
  const auto map = root.is_object() ? root.find("weight_map") : root.end();
  if (map == root.end() || !map->is_object()) return file_error(path, "has no \"weight_map\" object");
  // Shard names are plain file names beside the index, each mapped once, in name order.
  std::map<std::string, std::string> shard_of;
  std::set<std::string> shards;
  for (const auto& [tensor, file] : map->items()) {
    if (!file.is_string()) return file_error(path, "weight_map entry '", tensor, "' is not a file name");
    const std::string f = file.get<std::string>();
    if (f.empty() || f == "." || f == ".." || f.find('/') != std::string::npos || f.find('\\') != std::string::npos) {
      return file_error(path, "weight_map entry '", tensor, "' names '", f, "', not a file beside the index");
    }
    shard_of[tensor] = f;
    shards.insert(f);
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  SafetensorsCheckpoint c;
  c.sources.push_back(digest(path, *m));
  std::map<std::string, std::string> path_of;  // shard file name -> path
  for (const std::string& s : shards) {
    const std::string shard_path = (dir / s).string();
    path_of[s] = shard_path;
    SafetensorsFile f;
    INGOT_RETURN_IF_ERROR(add_file(shard_path, &c, &f));
    for (const SafetensorsTensor& t : f.tensors) {
      if (shard_of.count(t.name) == 0) {
        return file_error(path, "tensor '", t.name, "' is in shard '", s, "' but not in the weight_map");
      }
    }
  }
  for (const auto& [tensor, s] : shard_of) {
    const auto it = c.tensors.find(tensor);
    if (it == c.tensors.end()) {
      return file_error(path, "weight_map puts tensor '", tensor, "' in '", s, "', but that shard does not hold it");
    }
    if (it->second.file != path_of[s]) {
      return file_error(path, "weight_map puts tensor '", tensor, "' in '", s, "', but it is in '", it->second.file, "'");
    }
  }
  *out = std::move(c);
  return Status::success();
}

}  // namespace

uint32_t safetensors_dtype_bits(std::string_view dtype) {
  for (const DtypeBits& d : kDtypes) {
    if (d.name == dtype) return d.bits;
  }
  return 0;
}

std::optional<fb::DType> safetensors_import_dtype(std::string_view dtype) {
  if (dtype == "F32") return fb::DType::F32;
  if (dtype == "F16") return fb::DType::F16;
  if (dtype == "BF16") return fb::DType::BF16;
  return std::nullopt;
}

format::Status parse_safetensors(std::span<const uint8_t> bytes, const std::string& path, SafetensorsFile* out) {
  try {
    return parse(bytes, path, out);
  } catch (const json::exception& e) {  // not expected: every access above is type-checked
    return file_error(path, "unexpected header content (", e.what(), ")");
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::out_of_memory, "'", path, "': out of memory reading the header");
  }
}

format::Status open_safetensors(const std::string& path, SafetensorsCheckpoint* out) {
  try {
    const std::string name = std::filesystem::path(path).filename().string();
    if (name.size() > 11 && name.compare(name.size() - 11, 11, ".index.json") == 0) return open_index(path, out);
    SafetensorsCheckpoint c;
    SafetensorsFile f;
    INGOT_RETURN_IF_ERROR(add_file(path, &c, &f));
    *out = std::move(c);
    return Status::success();
  } catch (const json::exception& e) {
    return file_error(path, "unexpected content (", e.what(), ")");
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::out_of_memory, "'", path, "': out of memory");
  }
}

}  // namespace ingot::compiler
