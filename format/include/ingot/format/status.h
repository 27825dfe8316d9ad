// Status: what every fallible format operation returns. No exception leaves format/.
#pragma once

#include <sstream>
#include <string>
#include <utility>

namespace ingot::format {

enum class StatusCode {
  ok = 0,
  io_error,              // open/read/write/mmap/rename failed (errno text in the message)
  bad_magic,             // not an .ingot file
  unsupported_version,   // major version newer than this reader
  truncated,             // file shorter than its header says
  corrupt_header,        // header checksum or a header field is wrong
  corrupt_index,         // index checksum, FlatBuffers verification or identifier failed
  invalid_index,         // the index verifies but a count, offset, size or name is inconsistent
  checksum_mismatch,     // a blob's bytes do not match its XXH3-64
  decompression_failed,  // a zstd blob does not decompress to its raw size
  invalid_argument,      // a caller's request is inconsistent (writer side)
  not_found,             // no such tensor
  out_of_memory,
  interrupted,           // SIGINT/SIGTERM while writing
  script_error,          // a Lua script failed: error, limit, wrong return value (scripting/)
  kv_cache_full,         // the model's KV page pool has too few free pages for a batch (runtime/)
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status success() { return {}; }

  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", for logs and CLI errors.
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

// Concatenates anything streamable: fail(code, "tensor '", name, "': ...").
template <typename... Args>
Status fail(StatusCode code, Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return Status(code, out.str());
}

}  // namespace ingot::format

// Propagates a non-ok Status to the caller.
#define INGOT_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::ingot::format::Status ingot_status_ = (expr); \
    if (!ingot_status_.ok()) return ingot_status_; \
  } while (0)
