// Wire formats on their own: big-endian helpers, CDB field decoding, fixed-format sense data.
#include <gtest/gtest.h>

#include "lib/common/endian.h"
#include "lib/scsi/cdb.h"
#include "lib/scsi/sense.h"
#include "tests/scsi/cdb_builder.h"
#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

TEST(Endian, RoundTripsEveryWidth) {
  std::uint8_t b[8] = {};
  store_be16(b, 0x1234);
  EXPECT_EQ(b[0], 0x12);
  EXPECT_EQ(load_be16(b), 0x1234);
  store_be24(b, 0xabcdef);
  EXPECT_EQ(load_be24(b), 0xabcdefu);
  store_be32(b, 0xdeadbeef);
  EXPECT_EQ(b[3], 0xef);
  EXPECT_EQ(load_be32(b), 0xdeadbeefu);
  store_be64(b, 0x0102030405060708ull);
  EXPECT_EQ(b[0], 0x01);
  EXPECT_EQ(b[7], 0x08);
  EXPECT_EQ(load_be64(b), 0x0102030405060708ull);
}

TEST(Cdb, LengthFollowsTheGroupCode) {
  EXPECT_EQ(cdb_length_for(0x08), 6);
  EXPECT_EQ(cdb_length_for(0x28), 10);
  EXPECT_EQ(cdb_length_for(0x5e), 10);
  EXPECT_EQ(cdb_length_for(0x88), 16);
  EXPECT_EQ(cdb_length_for(0xa8), 12);
  EXPECT_EQ(cdb_length_for(0x7f), 0);
  EXPECT_EQ(cdb_length_for(0xc0), 0);
}

TEST(Cdb, DecodesEveryReadForm) {
  BlockCdb c = decode_block_cdb(Cdb::read(6, 0x1fffff, 9).span());
  EXPECT_EQ(c.lba, 0x1fffffu);
  EXPECT_EQ(c.blocks, 9u);
  c = decode_block_cdb(Cdb::read(6, 5, 0).span());
  EXPECT_EQ(c.blocks, 256u) << "READ(6) transfer length 0 means 256 blocks";
  c = decode_block_cdb(Cdb::read(10, 0xfffffffe, 0xffff).fua().dpo().span());
  EXPECT_EQ(c.lba, 0xfffffffeu);
  EXPECT_EQ(c.blocks, 0xffffu);
  EXPECT_TRUE(c.fua);
  EXPECT_TRUE(c.dpo);
  EXPECT_EQ(c.length_field, 7);
  c = decode_block_cdb(Cdb::read(12, 77, 0x10000).protect(3).span());
  EXPECT_EQ(c.blocks, 0x10000u);
  EXPECT_EQ(c.protect, 3);
  EXPECT_EQ(c.length_field, 6);
  c = decode_block_cdb(Cdb::verify(16, 0x123456789aull, 3).bytchk(1).span());
  EXPECT_EQ(c.lba, 0x123456789aull);
  EXPECT_EQ(c.bytchk, 1);
  EXPECT_EQ(c.length_field, 10);
}

TEST(Sense, FixedFormatCarriesKeyCodesInformationAndFieldPointer) {
  auto s = encode_fixed_sense(Sense{.key = sense_key::kIllegalRequest,
                                    .asc = asc::kInvalidFieldInCdb,
                                    .information = 0x11223344,
                                    .field = 7,
                                    .field_in_cdb = true,
                                    .bit = 5});
  ASSERT_EQ(s.size(), 18u);
  EXPECT_EQ(s[0], 0xf0) << "current error, fixed format, VALID";
  EXPECT_EQ(s[2], 0x05);
  EXPECT_EQ(load_be32(&s[3]), 0x11223344u);
  EXPECT_EQ(s[7], 10) << "additional sense length";
  EXPECT_EQ(s[12], 0x24);
  EXPECT_EQ(s[13], 0x00);
  EXPECT_EQ(s[15], 0x80 | 0x40 | 0x08 | 5) << "SKSV, C/D, BPV, bit pointer";
  EXPECT_EQ(load_be16(&s[16]), 7);
}

TEST(Sense, InformationTooWideForFixedFormatIsLeftInvalid) {
  auto s = encode_fixed_sense(Sense{.key = sense_key::kMiscompare,
                                    .asc = asc::kMiscompareDuringVerify,
                                    .information = 1ull << 40});
  EXPECT_EQ(s[0], 0x70);
  EXPECT_EQ(s[15], 0) << "no sense-key specific data";
}

TEST(Sense, ParameterListPointerClearsCommandDataBit) {
  const TaskResult r = invalid_field_in_parameter_list(20, 0);
  ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInParameterList));
  const SenseView v = parse_sense(r.sense);
  EXPECT_TRUE(v.sksv);
  EXPECT_FALSE(v.in_cdb);
  EXPECT_EQ(v.field, 20);
}

}  // namespace
}  // namespace maya::scsi::test
