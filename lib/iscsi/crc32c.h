// CRC32C (Castagnoli), the iSCSI header and data digest: the SSE4.2 `crc32` instruction when the
// CPU has it, a slicing table otherwise. The digest goes on the wire little-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace maya::iscsi {

// Continues a CRC over `data`: start with crc32c_init(), finish with crc32c_finish().
inline constexpr std::uint32_t crc32c_init() {
  return 0xffffffffu;
}
inline constexpr std::uint32_t crc32c_finish(std::uint32_t state) {
  return state ^ 0xffffffffu;
}

std::uint32_t crc32c_update(std::uint32_t state, std::span<const std::uint8_t> data);
// The two implementations, exposed so tests can check that they agree.
std::uint32_t crc32c_update_table(std::uint32_t state, std::span<const std::uint8_t> data);
std::uint32_t crc32c_update_sse42(std::uint32_t state, std::span<const std::uint8_t> data);
bool crc32c_hardware_available();

// One-shot digest of `data`.
inline std::uint32_t crc32c(std::span<const std::uint8_t> data) {
  return crc32c_finish(crc32c_update(crc32c_init(), data));
}

}  // namespace maya::iscsi
