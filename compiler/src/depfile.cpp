#include "depfile.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace ingot::compiler {

std::string depfile_escape(const std::string& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == ' ' || c == '#') {
      // Backslashes just before a space are doubled so they stay backslashes (GNU Make's rule).
      for (size_t j = i; j > 0 && path[j - 1] == '\\'; --j) out += '\\';
      out += '\\';
      out += c;
    } else if (c == '$') {
      out += "$$";
    } else {
      out += c;
    }
  }
  return out;
}

format::Status write_depfile(const std::string& path, const std::string& target, const std::vector<std::string>& inputs) {
  using format::StatusCode;
  for (const std::string& p : inputs) {
    if (p.find('\n') != std::string::npos) {
      return format::fail(StatusCode::invalid_argument, "cannot list '", p, "' in a depfile: it contains a newline");
    }
  }
  const auto absolute = [](const std::string& p) {
    std::error_code ec;
    std::filesystem::path a = std::filesystem::absolute(p, ec);
    return (ec ? std::filesystem::path(p) : a).lexically_normal().string();
  };
  std::string text = depfile_escape(absolute(target)) + ":";
  for (const std::string& p : inputs) text += " \\\n  " + depfile_escape(absolute(p));
  text += "\n";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      return format::fail(StatusCode::io_error, "cannot write the depfile '", path, "'");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return format::fail(StatusCode::io_error, "cannot write the depfile '", path, "': ", ec.message());
  }
  return format::Status::success();
}

}  // namespace ingot::compiler
