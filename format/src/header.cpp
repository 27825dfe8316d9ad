#include "ingot/format/header.h"

#include <xxhash.h>

#include <cstring>

#include "endian.h"

namespace ingot::format {

using detail::load_le;
using detail::store_le;

uint64_t checksum(std::span<const uint8_t> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

void encode_header(const Header& h, std::span<uint8_t, kHeaderSize> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kHeaderSize);
  std::memcpy(p + header::magic.offset, kMagic, sizeof kMagic);
  store_le<uint16_t>(p + header::major.offset, h.major);
  store_le<uint16_t>(p + header::minor.offset, h.minor);
  store_le<uint32_t>(p + header::header_size.offset, kHeaderSize);
  store_le<uint32_t>(p + header::alignment.offset, h.alignment);
  store_le<uint32_t>(p + header::flags.offset, h.flags);
  store_le<uint64_t>(p + header::index_offset.offset, h.index_offset);
  store_le<uint64_t>(p + header::index_size.offset, h.index_size);
  store_le<uint64_t>(p + header::index_checksum.offset, h.index_checksum);
  store_le<uint64_t>(p + header::data_offset.offset, h.data_offset);
  store_le<uint64_t>(p + header::data_size.offset, h.data_size);
  store_le<uint64_t>(p + header::checksum.offset,
                     checksum({p, kHeaderSize - header::checksum.size}));
}

Status decode_header(std::span<const uint8_t> file, Header* out) {
  const uint64_t file_size = file.size();
  const uint8_t* p = file.data();
  if (file_size < sizeof kMagic || std::memcmp(p, kMagic, sizeof kMagic) != 0) {
    return fail(StatusCode::bad_magic, "not an .ingot file: the first 8 bytes are not the magic \\x89INGOT\\r\\n");
  }
  if (file_size < header::minor.offset + header::minor.size) {
    return fail(StatusCode::truncated, "file is truncated inside the header (", file_size, " bytes)");
  }
  Header h;
  h.major = load_le<uint16_t>(p + header::major.offset);
  h.minor = load_le<uint16_t>(p + header::minor.offset);
  // The version is judged before the checksum: a newer major may lay out its header differently.
  if (h.major != kFormatMajor) {
    return fail(StatusCode::unsupported_version, "file format version ", h.major, ".", h.minor,
                " is not supported: this reader reads version ", kFormatMajor, ".x (up to ",
                kFormatMajor, ".", kFormatMinor, ")",
                h.major > kFormatMajor ? "; upgrade ingot to read it" : "");
  }
  if (file_size < kHeaderSize) {
    return fail(StatusCode::truncated, "file is truncated inside the header: ", file_size,
                " bytes, the header alone needs ", kHeaderSize);
  }
  h.header_size = load_le<uint32_t>(p + header::header_size.offset);
  // A later 1.x may grow the header; its checksum is always its last 8 bytes.
  if (h.header_size < kHeaderSize || h.header_size > kMaxHeaderSize || h.header_size % 8 != 0) {
    return fail(StatusCode::corrupt_header, "header_size ", h.header_size, " is invalid (expected a multiple of 8 in [",
                kHeaderSize, ", ", kMaxHeaderSize, "])");
  }
  if (h.header_size > file_size) {
    return fail(StatusCode::truncated, "file is truncated inside the header: ", file_size,
                " bytes, header_size says ", h.header_size);
  }
  const uint64_t stored = load_le<uint64_t>(p + h.header_size - 8);
  const uint64_t actual = checksum({p, h.header_size - 8u});
  if (stored != actual) {
    return fail(StatusCode::corrupt_header, "header checksum mismatch (stored ", std::hex, stored, ", computed ",
                actual, "): the header is corrupt");
  }
  h.alignment = load_le<uint32_t>(p + header::alignment.offset);
  h.flags = load_le<uint32_t>(p + header::flags.offset);
  h.index_offset = load_le<uint64_t>(p + header::index_offset.offset);
  h.index_size = load_le<uint64_t>(p + header::index_size.offset);
  h.index_checksum = load_le<uint64_t>(p + header::index_checksum.offset);
  h.data_offset = load_le<uint64_t>(p + header::data_offset.offset);
  h.data_size = load_le<uint64_t>(p + header::data_size.offset);
  const uint64_t reserved = load_le<uint64_t>(p + header::reserved.offset);

  if (!is_power_of_two(h.alignment) || h.alignment < kMinAlignment || h.alignment > kMaxAlignment) {
    return fail(StatusCode::corrupt_header, "alignment ", h.alignment, " is not a power of two in [", kMinAlignment,
                ", ", kMaxAlignment, "]");
  }
  if (h.flags != 0) {
    return fail(StatusCode::corrupt_header, "unknown header flags 0x", std::hex, h.flags);
  }
  if (reserved != 0) {
    return fail(StatusCode::corrupt_header, "reserved header field is not zero");
  }
  if (h.index_offset < h.header_size || h.index_offset % kIndexAlignment != 0) {
    return fail(StatusCode::corrupt_header, "index_offset ", h.index_offset, " must be a multiple of ",
                kIndexAlignment, " at or after the header (", h.header_size, ")");
  }
  if (h.index_size == 0 || h.index_size > kMaxIndexSize) {
    return fail(StatusCode::corrupt_header, "index_size ", h.index_size, " is outside [1, ", kMaxIndexSize, "]");
  }
  // index_offset and index_size are each below 2^63 here only if checked: add overflow-safely.
  uint64_t index_end = 0;
  if (__builtin_add_overflow(h.index_offset, h.index_size, &index_end)) {
    return fail(StatusCode::corrupt_header, "index_offset + index_size overflows");
  }
  if (h.data_offset % h.alignment != 0 || h.data_offset < index_end) {
    return fail(StatusCode::corrupt_header, "data_offset ", h.data_offset, " must be a multiple of the alignment ",
                h.alignment, " at or after the end of the index (", index_end, ")");
  }
  uint64_t data_end = 0;
  if (__builtin_add_overflow(h.data_offset, h.data_size, &data_end)) {
    return fail(StatusCode::corrupt_header, "data_offset + data_size overflows");
  }
  if (data_end > file_size) {
    return fail(StatusCode::truncated, "file is truncated: the header says ", data_end, " bytes, the file has ",
                file_size);
  }
  if (data_end < file_size) {
    return fail(StatusCode::corrupt_header, "file has ", file_size - data_end,
                " bytes after the end of the data section (", data_end, ")");
  }
  *out = h;
  return Status::success();
}

}  // namespace ingot::format
