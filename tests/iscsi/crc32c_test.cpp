// CRC32C against RFC 3720 appendix B.4 vectors; the SSE4.2 and table paths must agree.
#include <gtest/gtest.h>

#include <numeric>
#include <random>
#include <vector>

#include "lib/iscsi/crc32c.h"

namespace maya::iscsi {
namespace {

std::uint32_t table(std::span<const std::uint8_t> d) {
  return crc32c_finish(crc32c_update_table(crc32c_init(), d));
}
std::uint32_t hw(std::span<const std::uint8_t> d) {
  return crc32c_finish(crc32c_update_sse42(crc32c_init(), d));
}

TEST(Crc32c, Rfc3720Vectors) {
  std::vector<std::uint8_t> zeros(32, 0), ones(32, 0xff), inc(32), dec(32);
  std::iota(inc.begin(), inc.end(), 0);
  for (int i = 0; i < 32; ++i) dec[i] = static_cast<std::uint8_t>(31 - i);
  const std::vector<std::uint8_t> read_pdu = {
      0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
      0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  for (auto f : {table, hw}) {
    EXPECT_EQ(f(zeros), 0x8a9136aau);
    EXPECT_EQ(f(ones), 0x62a8ab43u);
    EXPECT_EQ(f(inc), 0x46dd794eu);
    EXPECT_EQ(f(dec), 0x113fdb5cu);
    EXPECT_EQ(f(read_pdu), 0xd9963a56u);
  }
  const char* check = "123456789";
  EXPECT_EQ(crc32c(std::span(reinterpret_cast<const std::uint8_t*>(check), 9)), 0xe3069283u);
}

TEST(Crc32c, HardwareAndTableAgreeOnRandomData) {
  std::mt19937 rng(42);
  for (std::size_t len : {0u, 1u, 3u, 7u, 8u, 9u, 63u, 4096u, 65537u}) {
    std::vector<std::uint8_t> data(len);
    for (auto& b : data) b = static_cast<std::uint8_t>(rng());
    EXPECT_EQ(table(data), hw(data)) << len;
    // Incremental equals one-shot.
    std::uint32_t s = crc32c_init();
    s = crc32c_update(s, std::span(data).subspan(0, len / 2));
    s = crc32c_update(s, std::span(data).subspan(len / 2));
    EXPECT_EQ(crc32c_finish(s), table(data));
  }
}

TEST(Crc32c, ReportsHardware) {
  // On x86-64 build machines SSE4.2 is universal; this documents which path ran.
  RecordProperty("sse42", crc32c_hardware_available() ? "yes" : "no");
  SUCCEED();
}

}  // namespace
}  // namespace maya::iscsi
