// `ingot inspect FILE [--json]`: header, config, tokenizer, tensor table, totals, provenance.
#include <algorithm>
#include <cstdio>
#include <string>

#include "commands.h"

namespace ingot::cli {

using nlohmann::json;

namespace {

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = double(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

std::string shape_str(const json& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i].get<uint64_t>());
  return s + "]";
}

std::string scalar(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

void print_object(const char* title, const json& obj) {
  std::printf("%s\n", title);
  if (obj.is_null()) {
    std::printf("  (none)\n");
    return;
  }
  for (const auto& [k, v] : obj.items()) {
    if (v.is_object() || v.is_array()) {
      std::printf("  %-24s %s\n", k.c_str(), v.dump().c_str());
    } else {
      std::string s = scalar(v);
      if (s.size() > 100) s = s.substr(0, 97) + "...";
      std::printf("  %-24s %s\n", k.c_str(), s.c_str());
    }
  }
}

void print_text(const std::string& path, const json& d) {
  std::printf("%s\n\n", path.c_str());
  print_object("header", d["header"]);
  std::printf("\n");
  print_object("config", d["config"]);
  std::printf("\n");
  print_object("tokenizer", d["tokenizer"]);
  std::printf("\n");

  size_t name_w = 4;
  for (const json& t : d["tensors"]) name_w = std::max(name_w, t["name"].get<std::string>().size());
  std::printf("tensors\n  %-*s  %-5s  %-18s  %-13s  %12s  %s\n", int(name_w), "name", "dtype", "shape", "layout",
              "bytes", "compression / quantization");
  for (const json& t : d["tensors"]) {
    std::string extra = t["data"]["compression"].get<std::string>();
    if (t.contains("quant")) {
      const json& q = t["quant"];
      extra += ", " + q["method"].get<std::string>() + " " + std::to_string(q["bits"].get<int>()) + "-bit g" +
               std::to_string(q["group_size"].get<int>()) + (q["symmetric"].get<bool>() ? " sym" : " asym") +
               (q["act_order"].get<bool>() ? " act-order" : "");
    }
    std::printf("  %-*s  %-5s  %-18s  %-13s  %12s  %s\n", int(name_w), t["name"].get<std::string>().c_str(),
                t["dtype"].get<std::string>().c_str(), shape_str(t["shape"]).c_str(),
                t["layout"].get<std::string>().c_str(), human_bytes(t["bytes"].get<uint64_t>()).c_str(),
                extra.c_str());
  }
  const json& tot = d["totals"];
  std::printf("\ntotals\n  %zu tensors, %s stored, %s uncompressed, file %s\n\n", tot["n_tensors"].get<size_t>(),
              human_bytes(tot["bytes"].get<uint64_t>()).c_str(), human_bytes(tot["raw_bytes"].get<uint64_t>()).c_str(),
              human_bytes(d["header"]["file_size"].get<uint64_t>()).c_str());
  json provenance = d["provenance"];
  if (provenance.is_object()) provenance.erase("source_tensor_types");  // one per tensor: --json only
  print_object("provenance", provenance);
  std::printf("\n");
  print_object("metadata", d["metadata"].empty() ? json(nullptr) : d["metadata"]);
}

}  // namespace

void add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Describe a container: header, config, tokenizer, tensors, provenance");
  static std::string path;
  static bool as_json = false;
  cmd->add_option("FILE", path, "the .ingot file")->required();
  cmd->add_flag("--json", as_json, "print the description as JSON");
  cmd->callback([] {
    std::unique_ptr<format::Container> c;
    format::Status s = format::Container::open(path, {}, &c);
    if (!s.ok()) {
      std::fprintf(stderr, "ingot inspect: %s\n", s.to_string().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    const json d = describe(*c);
    if (as_json) {
      std::printf("%s\n", d.dump(2).c_str());
    } else {
      print_text(path, d);
    }
  });
}

}  // namespace ingot::cli
