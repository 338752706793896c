// INQUIRY (standard data and VPD pages) and READ CAPACITY: what the disk says about itself, and
// that it matches what the backend can do.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "tests/scsi/disk_fixture.h"

namespace maya::scsi::test {
namespace {

class InquiryTest : public DiskTest {
 protected:
  std::vector<std::uint8_t> vpd(std::uint8_t page) {
    TaskResult r = run(Cdb::inquiry(1024, true, page));
    EXPECT_TRUE(IsGood(r)) << "page " << int(page);
    return r.data_in;
  }
};

TEST_F(InquiryTest, StandardDataDescribesAnSpc4DirectAccessDevice) {
  TaskResult r = run(Cdb::inquiry(260));
  ASSERT_TRUE(IsGood(r));
  const auto& d = r.data_in;
  ASSERT_EQ(d.size(), 96u);
  EXPECT_EQ(d[0], 0x00) << "connected direct-access block device";
  EXPECT_EQ(d[1] & 0x80, 0) << "not removable";
  EXPECT_EQ(d[2], 0x06) << "SPC-4";
  EXPECT_EQ(d[3] & 0x0f, 0x02) << "response data format";
  EXPECT_EQ(d[3] & 0xc0, 0) << "AERC and TRMTSK clear";
  EXPECT_EQ(d[4], d.size() - 5);
  EXPECT_EQ(d[5] & 0x01, 0) << "no protection information";
  EXPECT_EQ(d[7] & 0x02, 0x02) << "CMDQUE";
  EXPECT_EQ(std::string(d.begin() + 8, d.begin() + 16), "MAYA    ");
  EXPECT_EQ(std::string(d.begin() + 16, d.begin() + 32), "VOLUME          ");
  std::vector<std::uint16_t> versions;
  for (int i = 0; i < 8; ++i) versions.push_back(load_be16(&d[58 + 2 * i]));
  for (std::uint16_t want : {0x00a0, 0x0460, 0x04c0, 0x0960}) {
    EXPECT_NE(std::find(versions.begin(), versions.end(), want), versions.end()) << want;
  }
}

TEST_F(InquiryTest, EveryAllocationLengthIsHonoured) {
  for (std::uint16_t alloc = 0; alloc < 300; ++alloc) {
    TaskResult r = run(Cdb::inquiry(alloc));
    ASSERT_TRUE(IsGood(r));
    EXPECT_EQ(r.data_in.size(), std::min<std::size_t>(alloc, 96));
  }
}

TEST_F(InquiryTest, PageCodeWithoutEvpdIsInvalid) {
  TaskResult r = run(Cdb::inquiry(255, false, 0x83));
  ASSERT_TRUE(HasSense(r, sense_key::kIllegalRequest, asc::kInvalidFieldInCdb));
  EXPECT_EQ(parse_sense(r.sense).field, 2);
  EXPECT_TRUE(HasSense(run(Cdb::inquiry(255, true, 0x89)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
}

TEST_F(InquiryTest, EverySupportedPageCanBeRead) {
  const auto pages = vpd(0x00);
  ASSERT_GE(pages.size(), 4u);
  EXPECT_EQ(load_be16(&pages[2]), pages.size() - 4);
  std::vector<std::uint8_t> listed(pages.begin() + 4, pages.end());
  EXPECT_EQ(listed, (std::vector<std::uint8_t>{0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2}));
  for (std::uint8_t page : listed) {
    const auto d = vpd(page);
    ASSERT_GE(d.size(), 4u);
    EXPECT_EQ(d[1], page);
    EXPECT_EQ(load_be16(&d[2]) + 4u, d.size());
  }
}

TEST_F(InquiryTest, UnitSerialNumber) {
  const auto d = vpd(0x80);
  EXPECT_EQ(std::string(d.begin() + 4, d.end()), "SN0001");
}

TEST_F(InquiryTest, DeviceIdentificationHasNaaVendorAndPortDesignators) {
  const auto d = vpd(0x83);
  bool naa = false, t10 = false, rel_port = false, port_name = false, device_name = false;
  for (std::size_t at = 4; at + 4 <= d.size(); at += 4 + d[at + 3]) {
    const std::uint8_t assoc = (d[at + 1] >> 4) & 0x03;
    const std::uint8_t type = d[at + 1] & 0x0f;
    const std::string value(d.begin() + at + 4, d.begin() + at + 4 + d[at + 3]);
    if (type == 3 && assoc == 0) {
      naa = true;
      EXPECT_EQ(d[at + 3], 8);
      EXPECT_EQ(d[at + 4] >> 4, 0x5) << "NAA IEEE Registered";
    }
    if (type == 1) {
      t10 = true;
      EXPECT_EQ(value, "MAYA    SN0001");
    }
    if (type == 4 && assoc == 1) {
      rel_port = true;
      EXPECT_EQ(load_be16(&d[at + 6]), 1);
    }
    if (type == 8 && assoc == 1) {
      port_name = true;
      EXPECT_EQ(std::string(value.c_str()), "iqn.2026-11.io.maya:vol,t,0x0001");
      EXPECT_EQ(value.size() % 4, 0u);
    }
    if (type == 8 && assoc == 2) {
      device_name = true;
      EXPECT_EQ(std::string(value.c_str()), "iqn.2026-11.io.maya:vol");
    }
  }
  EXPECT_TRUE(naa && t10 && rel_port && port_name && device_name);
}

TEST_F(InquiryTest, NaaIdentifierIsStableAndIndependentOfTheNexus) {
  auto naa_of = [&](const Nexus* n) {
    TaskResult r = run(Cdb::inquiry(255, true, 0x83), {}, n);
    return std::vector<std::uint8_t>(r.data_in.begin() + 4, r.data_in.begin() + 16);
  };
  EXPECT_EQ(naa_of(&a), naa_of(&b));
}

TEST_F(InquiryTest, BlockLimitsAdvertiseWhatTheDiskEnforces) {
  const auto d = vpd(0xb0);
  ASSERT_EQ(d.size(), 64u);
  EXPECT_EQ(d[3], 0x3c);
  EXPECT_EQ(d[4] & 0x01, 0x01) << "WSNZ";
  EXPECT_EQ(d[5], 255) << "MAXIMUM COMPARE AND WRITE LENGTH";
  const std::uint32_t max_transfer = load_be32(&d[8]);
  EXPECT_EQ(max_transfer, (64u << 20) / kBlock);
  const std::uint32_t max_unmap = load_be32(&d[20]);
  EXPECT_GT(max_unmap, 0u);
  EXPECT_LE(max_unmap, 1024u * 1024u);
  EXPECT_GT(load_be32(&d[24]), 0u) << "MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT";
  EXPECT_EQ(load_be32(&d[28]), 8u) << "OPTIMAL UNMAP GRANULARITY: 4 KiB";
  EXPECT_GE(load_be64(&d[36]), 256u) << "MAXIMUM WRITE SAME LENGTH";
  for (int i = 44; i < 64; ++i) EXPECT_EQ(d[i], 0) << "no atomic writes advertised";
  // One block over the advertised transfer length is refused.
  EXPECT_TRUE(HasSense(run(Cdb::read(16, 0, max_transfer + 1)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
}

TEST_F(InquiryTest, ThinBackendAdvertisesProvisioning) {
  const auto lbp = vpd(0xb2);
  ASSERT_EQ(lbp.size(), 8u);
  EXPECT_EQ(lbp[5], 0x80 | 0x40 | 0x20 | 0x04 | 0x02) << "LBPU LBPWS LBPWS10 LBPRZ ANC_SUP";
  EXPECT_EQ(lbp[6] & 0x07, 0x02) << "thin provisioned";
  TaskResult rc = run(Cdb::read_capacity16());
  EXPECT_EQ(rc.data_in[14] & 0xc0, 0xc0) << "LBPME and LBPRZ";
}

TEST_F(InquiryTest, LbprzOnlyWhenDiscardedBlocksReadZero) {
  make(block::MemoryBackendOptions{.size = 8ull << 20, .discard_zeroes = false});
  EXPECT_EQ(vpd(0xb2)[5] & 0x04, 0);
  TaskResult rc = run(Cdb::read_capacity16());
  EXPECT_EQ(rc.data_in[14] & 0xc0, 0x80) << "LBPME without LBPRZ";
}

TEST_F(InquiryTest, FullyProvisionedBackendAdvertisesNoUnmap) {
  make(block::MemoryBackendOptions{.size = 8ull << 20, .thin = false});
  EXPECT_EQ(vpd(0xb2)[5], 0);
  const auto bl = vpd(0xb0);
  EXPECT_EQ(load_be32(&bl[20]), 0u) << "MAXIMUM UNMAP LBA COUNT";
  EXPECT_EQ(load_be32(&bl[24]), 0u) << "MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT";
  EXPECT_EQ(run(Cdb::read_capacity16()).data_in[14] & 0xc0, 0);
}

TEST_F(InquiryTest, BlockDeviceCharacteristicsSayNonRotating) {
  const auto d = vpd(0xb1);
  EXPECT_EQ(load_be16(&d[4]), 1);
}

TEST_F(InquiryTest, ReadCapacityReportsLastLbaAndBlockSize) {
  TaskResult rc10 = run(Cdb::read_capacity10());
  ASSERT_TRUE(IsGood(rc10));
  EXPECT_EQ(load_be32(&rc10.data_in[0]), blocks() - 1);
  EXPECT_EQ(load_be32(&rc10.data_in[4]), kBlock);
  TaskResult rc16 = run(Cdb::read_capacity16());
  ASSERT_TRUE(IsGood(rc16));
  ASSERT_EQ(rc16.data_in.size(), 32u);
  EXPECT_EQ(load_be64(&rc16.data_in[0]), blocks() - 1);
  EXPECT_EQ(load_be32(&rc16.data_in[8]), kBlock);
  EXPECT_EQ(rc16.data_in[12], 0) << "PROT_EN and P_TYPE clear";
  EXPECT_EQ(rc16.data_in[13], 0) << "one logical block per physical block";
  for (std::uint32_t alloc = 0; alloc < 16; ++alloc) {
    TaskResult r = run(Cdb::read_capacity16(alloc));
    ASSERT_TRUE(IsGood(r));
    EXPECT_EQ(r.data_in.size(), alloc);
  }
}

TEST_F(InquiryTest, ReadCapacity10SaturatesBeyondTwoToTheThirtyTwoBlocks) {
  make(block::MemoryBackendOptions{.size = 4ull << 40});  // 2^33 blocks, sparse in memory
  EXPECT_EQ(load_be32(&run(Cdb::read_capacity10()).data_in[0]), 0xffffffffu);
  EXPECT_EQ(load_be64(&run(Cdb::read_capacity16()).data_in[0]), (1ull << 33) - 1);
}

TEST_F(InquiryTest, ReadCapacityLbaWithoutPmiIsInvalid) {
  EXPECT_TRUE(HasSense(run(Cdb::read_capacity10().be32(2, 5)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
  EXPECT_TRUE(IsGood(run(Cdb::read_capacity10().be32(2, 5).set(8, 1))));
  EXPECT_TRUE(HasSense(run(Cdb::read_capacity16().be64(2, 5)), sense_key::kIllegalRequest,
                       asc::kInvalidFieldInCdb));
}

}  // namespace
}  // namespace maya::scsi::test
