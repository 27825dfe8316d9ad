#include <cstdio>
#include <string>

#include "commands.h"

namespace ingot::cli {

void add_verify(CLI::App& app) {
  auto* cmd = app.add_subcommand("verify", "Check a container completely: header, index, every blob's checksum");
  static std::string path;
  cmd->add_option("FILE", path, "the .ingot file")->required();
  cmd->callback([] {
    std::unique_ptr<format::Container> c;
    format::Status s = format::Container::open(path, {.verify_checksums = true}, &c);
    if (!s.ok()) {
      std::fprintf(stderr, "ingot verify: FAILED: %s\n", s.to_string().c_str());
      throw CLI::RuntimeError(kExitInvalid);
    }
    std::printf("%s: OK (format %u.%u, %zu tensors, %zu blobs, %llu bytes, all checksums match)\n", path.c_str(),
                c->header().major, c->header().minor, c->n_tensors(), c->blobs().size(),
                static_cast<unsigned long long>(c->file_size()));
  });
}

}  // namespace ingot::cli
