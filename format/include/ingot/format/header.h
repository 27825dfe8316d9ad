// The fixed header at offset 0 of every container (field table in constants.h).
#pragma once

#include <cstdint>
#include <span>

#include "ingot/format/constants.h"
#include "ingot/format/status.h"

namespace ingot::format {

struct Header {
  uint16_t major = kFormatMajor;
  uint16_t minor = kFormatMinor;
  uint32_t header_size = kHeaderSize;
  uint32_t alignment = kDefaultAlignment;
  uint32_t flags = 0;
  uint64_t index_offset = 0;
  uint64_t index_size = 0;
  uint64_t index_checksum = 0;
  uint64_t data_offset = 0;
  uint64_t data_size = 0;
};

// Serialises a 1.0 header (kHeaderSize bytes) with its checksum.
void encode_header(const Header& h, std::span<uint8_t, kHeaderSize> out);

// Parses and checks the header against the file size: magic, version, header checksum, and
// every offset and size (overflow-safe). Does not look at the index bytes.
Status decode_header(std::span<const uint8_t> file, Header* out);

// XXH3-64 with seed 0: the one checksum of the format.
uint64_t checksum(std::span<const uint8_t> bytes);

constexpr bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

}  // namespace ingot::format
