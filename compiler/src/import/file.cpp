#include "import/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "ingot/format/header.h"

namespace ingot::compiler {

namespace {

class FileMapping final : public Mapping {
 public:
  FileMapping(void* p, size_t n) : p_(p), n_(n) {}
  ~FileMapping() override {
    if (p_ != nullptr) munmap(p_, n_);
  }
  std::span<const uint8_t> bytes() const override { return {static_cast<const uint8_t*>(p_), n_}; }

 private:
  void* p_;
  size_t n_;
};

std::mutex files_read_mutex;
std::vector<std::string> files_read_list;  // guarded by files_read_mutex

void record_read(const std::string& path) {
  std::lock_guard<std::mutex> lock(files_read_mutex);
  for (const std::string& p : files_read_list) {
    if (p == path) return;
  }
  files_read_list.push_back(path);
}

}  // namespace

std::vector<std::string> files_read() {
  std::lock_guard<std::mutex> lock(files_read_mutex);
  return files_read_list;
}

format::Status map_file(const std::string& path, std::unique_ptr<Mapping>* out) {
  using format::StatusCode;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return format::fail(StatusCode::io_error, "cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return format::fail(StatusCode::io_error, "'", path, "' is not a readable regular file");
  }
  void* p = nullptr;
  if (st.st_size > 0) {
    p = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      close(fd);
      return format::fail(StatusCode::io_error, "cannot map '", path, "': ", std::strerror(err));
    }
  }
  close(fd);
  *out = std::make_unique<FileMapping>(p, size_t(st.st_size));
  record_read(path);
  return format::Status::success();
}

std::string shape_string(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::unique_ptr<fb::DigestT> digest(const std::string& path, const Mapping& m) {
  auto d = std::make_unique<fb::DigestT>();
  d->name = std::filesystem::path(path).filename().string();
  d->xxh3 = format::checksum(m.bytes());
  d->size = m.bytes().size();
  return d;
}

}  // namespace ingot::compiler
