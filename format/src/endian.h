// Little-endian loads and stores of unsigned integers, whatever the host's byte order.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace ingot::format::detail {

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) {
    T r = 0;
    for (size_t i = 0; i < sizeof v; ++i) r = T(r << 8) | T(p[sizeof v - 1 - i]);
    v = r;
  }
  return v;
}

template <typename T>
void store_le(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof v; ++i) p[i] = uint8_t(uint64_t(v) >> (8 * i));
}

}  // namespace ingot::format::detail
