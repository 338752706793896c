#include "lib/common/size.h"

#include <gtest/gtest.h>

namespace maya {
namespace {

constexpr std::uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;

TEST(ParseSize, AcceptsBinaryDecimalAndBareUnits) {
  EXPECT_EQ(parse_size("100GiB").value(), 100 * GiB);
  EXPECT_EQ(parse_size("10G").value(), 10 * GiB);
  EXPECT_EQ(parse_size("512MiB").value(), 512 * MiB);
  EXPECT_EQ(parse_size("1.5TiB").value(), TiB + TiB / 2);
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("4096B").value(), 4096u);
  EXPECT_EQ(parse_size("20GB").value(), 20'000'000'000u);
  EXPECT_EQ(parse_size("1KB").value(), 1000u);
  EXPECT_EQ(parse_size("64K").value(), 64 * KiB);
  EXPECT_EQ(parse_size("2T").value(), 2 * TiB);
  EXPECT_EQ(parse_size("10gib").value(), 10 * GiB);
  EXPECT_EQ(parse_size("10 GiB").value(), 10 * GiB);
  EXPECT_EQ(parse_size("0.5G").value(), GiB / 2);
}

TEST(ParseSize, RefusesMalformedSizesWithAReason) {
  for (const char* bad : {"abc", "-1G", "10XB", "", "G", "1.G", ".5G", "1.5", "10 ", "1e9",
                          "99999999999999999999", "20000000PiB", "1.2.3G", "0x10"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("invalid size"), std::string::npos) << bad;
  }
  EXPECT_NE(parse_size("-1G").error().message.find("negative"), std::string::npos);
  EXPECT_NE(parse_size("10XB").error().message.find("unknown unit \"XB\""), std::string::npos);
  EXPECT_NE(parse_size("").error().message.find("empty"), std::string::npos);
}

TEST(FormatSize, UsesTheLargestExactBinaryUnit) {
  EXPECT_EQ(format_size(100 * GiB), "100GiB");
  EXPECT_EQ(format_size(1536 * MiB), "1536MiB");
  EXPECT_EQ(format_size(4097), "4097B");
  EXPECT_EQ(format_size(0), "0B");
  EXPECT_EQ(parse_size(format_size(3 * TiB + 5 * MiB)).value(), 3 * TiB + 5 * MiB);
}

TEST(ParseSize, AcceptsKubernetesUnits) {
  EXPECT_EQ(parse_size("10Gi").value(), 10 * GiB);
  EXPECT_EQ(parse_size("10G").value(), 10 * GiB);
  EXPECT_EQ(parse_size("512Mi").value(), 512 * MiB);
  EXPECT_EQ(parse_size("64Ki").value(), 64 * KiB);
  EXPECT_EQ(parse_size("2Ti").value(), 2 * TiB);
  EXPECT_EQ(parse_size("1Pi").value(), 1024 * TiB);
  EXPECT_EQ(parse_size("1.5Gi").value(), GiB + GiB / 2);
}

TEST(FormatSizeHuman, NeverPrintsAHugeCountOfSmallUnits) {
  EXPECT_EQ(format_size_human(100 * GiB), "100GiB");
  EXPECT_EQ(format_size_human(512 * MiB), "512MiB");
  EXPECT_EQ(format_size_human(17), "17B");
  EXPECT_EQ(format_size_human(0), "0B");
  EXPECT_EQ(format_size_human(1536 * MiB), "1.5GiB");
  EXPECT_EQ(format_size_human(10'000'000'000), "10GB (9.3GiB)");
  EXPECT_EQ(format_size_human(20'000'000'000), "20GB (18.6GiB)");
  EXPECT_EQ(format_size_human(101 * MiB + 300 * KiB), "101.3MiB");
  EXPECT_EQ(format_size(10'000'000'000), "9765625KiB") << "format_size stays exact (the JSON)";
}

}  // namespace
}  // namespace maya
