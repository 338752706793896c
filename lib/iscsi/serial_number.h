// Serial number arithmetic (RFC 1982, 32 bits) for CmdSN/StatSN/DataSN comparisons.
#pragma once

#include <cstdint>

namespace maya::iscsi {

inline bool sn_less(std::uint32_t a, std::uint32_t b) {
  return a != b && static_cast<std::int32_t>(a - b) < 0;
}
inline bool sn_less_equal(std::uint32_t a, std::uint32_t b) {
  return a == b || sn_less(a, b);
}

}  // namespace maya::iscsi
