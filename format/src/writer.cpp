#include "ingot/format/writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>

#include "ingot/format/header.h"
#include "ingot/format/layout.h"
#include "temp_files.h"
#include "validate.h"

namespace ingot::format {

namespace {

constexpr size_t kChunk = size_t{1} << 20;  // unit of streaming, zero detection and copying

Status errno_status(const char* what, const std::string& path) {
  return fail(StatusCode::io_error, what, " '", path, "': ", std::strerror(errno));
}

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

Status pwrite_all(int fd, std::span<const uint8_t> bytes, uint64_t offset, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = pwrite(fd, bytes.data(), bytes.size(), off_t(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status("cannot write", path);
    }
    bytes = bytes.subspan(size_t(n));
    offset += uint64_t(n);
  }
  return Status::success();
}

// Copies [from, from + size) of `in` to `out` at `to`: in the kernel when it can, else through
// a buffer.
Status copy_range(int in, uint64_t from, int out, uint64_t to, uint64_t size, const std::string& path) {
  while (size > 0) {
    loff_t off_in = loff_t(from), off_out = loff_t(to);
    const ssize_t n = copy_file_range(in, &off_in, out, &off_out, size_t(std::min<uint64_t>(size, 1u << 30)), 0);
    if (n > 0) {
      from += uint64_t(n), to += uint64_t(n), size -= uint64_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) {
      return errno_status("cannot copy data into", path);
    }
    std::vector<uint8_t> buf(kChunk);
    while (size > 0) {
      const ssize_t r = pread(in, buf.data(), size_t(std::min<uint64_t>(size, kChunk)), off_t(from));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return errno_status("cannot read back the data section for", path);
      INGOT_RETURN_IF_ERROR(pwrite_all(out, {buf.data(), size_t(r)}, to, path));
      from += uint64_t(r), to += uint64_t(r), size -= uint64_t(r);
    }
  }
  return Status::success();
}

// Copies the `size` bytes of `in` to `out` at `to`, skipping holes so sparse stays sparse.
Status copy_sparse(int in, uint64_t size, int out, uint64_t to, const std::string& path) {
  uint64_t pos = 0;
  while (pos < size) {
    const off_t data = lseek(in, off_t(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) return Status::success();  // only a hole remains
      return copy_range(in, pos, out, to + pos, size - pos, path);  // no SEEK_DATA here
    }
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0) hole = off_t(size);
    const uint64_t end = std::min<uint64_t>(uint64_t(hole), size);
    INGOT_RETURN_IF_ERROR(copy_range(in, uint64_t(data), out, to + uint64_t(data), end - uint64_t(data), path));
    pos = end;
  }
  return Status::success();
}

// An anonymous file in `dir` (gone when closed, even after SIGKILL where O_TMPFILE exists).
int open_spill(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string tmpl = dir + "/.ingot-spill-XXXXXX";
  fd = mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd >= 0) unlink(tmpl.c_str());
  return fd;
}

mode_t default_file_mode() {
  const mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

}  // namespace

Status Writer::create(const std::string& path, const WriterOptions& options, std::unique_ptr<Writer>* out) {
  if (!is_power_of_two(options.alignment) || options.alignment < kMinAlignment || options.alignment > kMaxAlignment) {
    return fail(StatusCode::invalid_argument, "alignment ", options.alignment, " is not a power of two in [",
                kMinAlignment, ", ", kMaxAlignment, "]");
  }
  if (options.zstd_level < 1 || options.zstd_level > ZSTD_maxCLevel()) {
    return fail(StatusCode::invalid_argument, "zstd level ", options.zstd_level, " is outside [1, ", ZSTD_maxCLevel(),
                "]");
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return fail(StatusCode::invalid_argument, "output '", path, "' is a directory");
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  std::unique_ptr<Writer> w(new Writer());
  w->path_ = path;
  w->dir_ = dir;
  w->options_ = options;
  w->spill_fd_ = open_spill(dir);
  if (w->spill_fd_ < 0) return errno_status("cannot create a temporary file in", dir);
  *out = std::move(w);
  return Status::success();
}

Writer::~Writer() { abort(); }

void Writer::abort() {
  if (spill_fd_ >= 0) close(spill_fd_);
  spill_fd_ = -1;
  done_ = true;
}

Status Writer::fail_with(Status s) {
  if (error_.ok()) error_ = std::move(s);
  abort();
  return error_;
}

void Writer::set_config(fb::ModelConfigT config) { index_.config = std::make_unique<fb::ModelConfigT>(std::move(config)); }

void Writer::set_tokenizer(fb::TokenizerT tokenizer) {
  index_.tokenizer = std::make_unique<fb::TokenizerT>(std::move(tokenizer));
}

void Writer::set_provenance(fb::ProvenanceT provenance) {
  index_.provenance = std::make_unique<fb::ProvenanceT>(std::move(provenance));
}

Status Writer::add_metadata(std::string key, std::string value) {
  if (!metadata_keys_.insert(key).second) {
    return fail(StatusCode::invalid_argument, "metadata key '", key, "' given twice");
  }
  auto kv = std::make_unique<fb::KeyValueT>();
  kv->key = std::move(key);
  kv->value = std::move(value);
  index_.metadata.push_back(std::move(kv));
  return Status::success();
}

Status Writer::write_at(uint64_t offset, std::span<const uint8_t> bytes) {
  // All-zero chunks become holes: sparse tensors and padding cost no disk.
  for (size_t pos = 0; pos < bytes.size(); pos += kChunk) {
    const auto chunk = bytes.subspan(pos, std::min(kChunk, bytes.size() - pos));
    if (all_zero(chunk)) continue;
    INGOT_RETURN_IF_ERROR(pwrite_all(spill_fd_, chunk, offset + pos, path_));
  }
  return Status::success();
}

Status Writer::write_blob(const BlobSource& src, std::string_view what, fb::Blob* out) {
  if (detail::interrupted()) return fail(StatusCode::interrupted, "interrupted while writing '", path_, "'");
  const uint64_t offset = align_up(spill_size_, options_.alignment);
  Compression compression = Compression::None;
  uint64_t stored = src.size();
  uint64_t sum = 0;
  if (src.in_memory()) {
    std::span<const uint8_t> bytes = src.bytes();
    std::vector<uint8_t> packed;
    if (options_.compress && !bytes.empty()) {
      try {
        packed.resize(ZSTD_compressBound(bytes.size()));
      } catch (const std::bad_alloc&) {
        return fail(StatusCode::out_of_memory, "cannot allocate a compression buffer for '", what, "'");
      }
      ZSTD_CCtx* cctx = ZSTD_createCCtx();
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, options_.zstd_level);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
      const size_t n = ZSTD_compress2(cctx, packed.data(), packed.size(), bytes.data(), bytes.size());
      ZSTD_freeCCtx(cctx);
      if (ZSTD_isError(n)) {
        return fail(StatusCode::io_error, "zstd failed on '", what, "': ", ZSTD_getErrorName(n));
      }
      if (double(n) <= double(bytes.size()) * (1.0 - options_.min_saving)) {
        packed.resize(n);
        bytes = packed;
        compression = Compression::Zstd;
        stored = n;
      }
    }
    sum = checksum(bytes);
    INGOT_RETURN_IF_ERROR(write_at(offset, bytes));
  } else {
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    std::vector<uint8_t> buf(size_t(std::min<uint64_t>(kChunk, src.size())));
    Status s;
    for (uint64_t pos = 0; pos < src.size() && s.ok(); pos += buf.size()) {
      const std::span<uint8_t> chunk(buf.data(), size_t(std::min<uint64_t>(buf.size(), src.size() - pos)));
      src.fill()(pos, chunk);
      XXH3_64bits_update(state, chunk.data(), chunk.size());
      s = write_at(offset + pos, chunk);
    }
    sum = XXH3_64bits_digest(state);
    XXH3_freeState(state);
    INGOT_RETURN_IF_ERROR(s);
  }
  *out = fb::Blob(offset, stored, src.size(), sum, compression);
  spill_size_ = offset + stored;
  return Status::success();
}

Status Writer::add_tensor(const TensorDesc& tensor, const BlobSource& data, const QuantDesc* quant) {
  if (!error_.ok()) return error_;
  if (done_) return fail(StatusCode::invalid_argument, "writer for '", path_, "' is already finished");
  if (tensor.name.empty()) return fail(StatusCode::invalid_argument, "a tensor needs a name");
  if (names_.count(tensor.name) != 0) {
    return fail(StatusCode::invalid_argument, "tensor '", tensor.name, "' added twice");
  }
  QuantShape qs;
  if (quant != nullptr) {
    qs = {quant->method, quant->bits, quant->group_size, quant->scales_dtype, quant->zeros_dtype,
          quant->zeros.has_value(), quant->perm.has_value(), quant->input_order.has_value()};
  }
  TensorBytes expect;
  Status s = tensor_bytes(tensor.name, tensor.dtype, tensor.layout, tensor.shape, quant ? &qs : nullptr, &expect);
  if (!s.ok()) return Status(StatusCode::invalid_argument, s.message());
  const auto check = [&](const char* part, const BlobSource& src, uint64_t want) {
    if (src.size() == want) return Status::success();
    return fail(StatusCode::invalid_argument, "tensor '", tensor.name, "'", part, ": got ", src.size(),
                " bytes, dtype x shape needs ", want);
  };
  INGOT_RETURN_IF_ERROR(check("", data, expect.data));
  if (quant != nullptr) {
    INGOT_RETURN_IF_ERROR(check(" scales", quant->scales, expect.scales));
    if (quant->zeros) INGOT_RETURN_IF_ERROR(check(" zeros", *quant->zeros, expect.zeros));
    if (quant->perm) INGOT_RETURN_IF_ERROR(check(" perm", *quant->perm, expect.perm));
    if (quant->input_order) INGOT_RETURN_IF_ERROR(check(" input_order", *quant->input_order, expect.input_order));
  }

  auto t = std::make_unique<fb::TensorT>();
  t->name = tensor.name;
  t->dtype = tensor.dtype;
  t->shape = tensor.shape;
  t->layout = tensor.layout;
  t->data = std::make_unique<fb::Blob>();
  if (!(s = write_blob(data, tensor.name, t->data.get())).ok()) return fail_with(s);
  if (quant != nullptr) {
    auto q = std::make_unique<fb::QuantizationT>();
    q->method = quant->method;
    q->bits = quant->bits;
    q->group_size = quant->group_size;
    q->symmetric = quant->symmetric;
    q->act_order = quant->act_order;
    q->static_groups = quant->static_groups;
    q->scales_dtype = quant->scales_dtype;
    q->zeros_dtype = quant->zeros_dtype;
    q->scales = std::make_unique<fb::Blob>();
    if (!(s = write_blob(quant->scales, tensor.name + "/scales", q->scales.get())).ok()) return fail_with(s);
    if (quant->zeros) {
      q->zeros = std::make_unique<fb::Blob>();
      if (!(s = write_blob(*quant->zeros, tensor.name + "/zeros", q->zeros.get())).ok()) return fail_with(s);
    }
    if (quant->perm) {
      q->perm = std::make_unique<fb::Blob>();
      if (!(s = write_blob(*quant->perm, tensor.name + "/perm", q->perm.get())).ok()) return fail_with(s);
    }
    if (quant->input_order) {
      q->input_order = std::make_unique<fb::Blob>();
      if (!(s = write_blob(*quant->input_order, tensor.name + "/input_order", q->input_order.get())).ok()) {
        return fail_with(s);
      }
    }
    t->quant = std::move(q);
  }
  names_.insert(tensor.name);
  index_.tensors.push_back(std::move(t));
  if (options_.on_progress) options_.on_progress({"tensor", index_.tensors.size(), spill_size_});
  return Status::success();
}

Status Writer::finish() {
  if (!error_.ok()) return error_;
  if (done_) return fail(StatusCode::invalid_argument, "writer for '", path_, "' is already finished");
  if (detail::interrupted()) return fail_with(fail(StatusCode::interrupted, "interrupted while writing '", path_, "'"));

  flatbuffers::FlatBufferBuilder fbb(1 << 16);
  fbb.Finish(fb::Index::Pack(fbb, &index_), kFileIdentifier);
  const std::span<const uint8_t> index(fbb.GetBufferPointer(), fbb.GetSize());
  // What the reader would refuse is refused here, before anything is published.
  if (Status s = detail::check_model_fields(*fb::GetIndex(index.data())); !s.ok()) {
    return Status(StatusCode::invalid_argument, s.message());
  }
  if (index.size() > kMaxIndexSize) {
    return fail_with(fail(StatusCode::invalid_argument, "index of ", index.size(), " bytes exceeds the 2 GiB limit"));
  }

  Header h;
  h.alignment = options_.alignment;
  h.index_offset = align_up(kHeaderSize, kIndexAlignment);
  h.index_size = index.size();
  h.index_checksum = checksum(index);
  h.data_offset = align_up(h.index_offset + h.index_size, h.alignment);
  h.data_size = spill_size_;
  uint8_t head[kHeaderSize];
  encode_header(h, std::span<uint8_t, kHeaderSize>(head));

  const std::string name = std::filesystem::path(path_).filename().string();
  std::string tmp = dir_ + "/." + name + ".tmp-XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return fail_with(errno_status("cannot create a temporary file in", dir_));
  const int slot = detail::register_temp_file(tmp.c_str());
  if (slot < 0) {
    close(fd);
    unlink(tmp.c_str());
    return fail_with(fail(StatusCode::io_error, "too many containers are being published at once to guard '", tmp,
                          "' against signals"));
  }
  const auto cleanup = [&](Status s) {
    close(fd);
    unlink(tmp.c_str());
    detail::unregister_temp_file(slot);
    return fail_with(std::move(s));
  };
  // The spill file ends at its last written byte; a trailing all-zero blob left a hole past it.
  if (ftruncate(spill_fd_, off_t(spill_size_)) != 0) return cleanup(errno_status("cannot size the data of", tmp));
  Status s = pwrite_all(fd, {head, kHeaderSize}, 0, tmp);
  if (s.ok()) s = pwrite_all(fd, index, h.index_offset, tmp);
  if (s.ok()) s = copy_sparse(spill_fd_, spill_size_, fd, h.data_offset, tmp);
  if (!s.ok()) return cleanup(s);
  if (ftruncate(fd, off_t(h.data_offset + h.data_size)) != 0) return cleanup(errno_status("cannot size", tmp));
  if (fchmod(fd, default_file_mode()) != 0) return cleanup(errno_status("cannot set the mode of", tmp));
  if (fsync(fd) != 0) return cleanup(errno_status("cannot sync", tmp));
  if (options_.on_progress) options_.on_progress({"publish", index_.tensors.size(), spill_size_});
  if (detail::interrupted()) return cleanup(fail(StatusCode::interrupted, "interrupted while writing '", path_, "'"));
  if (rename(tmp.c_str(), path_.c_str()) != 0) return cleanup(errno_status("cannot rename the output to", path_));
  detail::unregister_temp_file(slot);
  close(fd);
  // Make the rename itself durable.
  const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  abort();  // releases the spill file; done_ = true
  return Status::success();
}

}  // namespace ingot::format
