// A Target serving lib/scsi's disk on a memory backend, driven by the hand-written initiator:
// what the wire carries of the SCSI layer's transfer decisions — residuals when the EDTL and the
// CDB disagree, sense data, and answers for a LUN that does not exist.
#include <gtest/gtest.h>

#include "lib/common/log.h"
#include "lib/iscsi_target/target.h"
#include "tests/iscsi/mini_initiator.h"
#include "tests/support/memory_backend.h"

namespace maya::iscsi::testing {
namespace {

constexpr const char* kIqn = "iqn.2026-11.io.maya:scsi-loopback";

class ScsiLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_level(log::Level::error);
    iscsi_target::TargetOptions o;
    o.listen = "127.0.0.1:0";
    o.iqn = kIqn;
    auto t = iscsi_target::Target::create(o, backend_);
    ASSERT_TRUE(t) << t.error().message;
    target_ = std::move(*t);
    target_->start();
  }
  void TearDown() override {
    if (target_) target_->stop();
  }
  MiniInitiator connect_and_login() {
    auto c = MiniInitiator::connect(target_->port());
    EXPECT_TRUE(c);
    auto status = c->login(kIqn, "iqn.2026-11.io.maya:i1");
    EXPECT_TRUE(status);
    EXPECT_EQ(*status, 0);
    return std::move(*c);
  }

  block::MemoryBackend backend_{{.size = 16ull << 20}};
  std::unique_ptr<iscsi_target::Target> target_;
};

TEST_F(ScsiLoopback, ResidualsAndSense) {
  auto c = connect_and_login();
  // A new I_T nexus first hears the power-on unit attention.
  const std::uint8_t tur[6] = {0};
  auto ua = c.command(tur, 0, false, false);
  ASSERT_TRUE(ua);
  EXPECT_EQ(ua->status, 2);
  auto r = rw10(0x28, 0, 1);
  auto over = c.command(r, 200, true, false);  // asks for 512, room for 200
  ASSERT_TRUE(over);
  EXPECT_TRUE(over->overflow);
  EXPECT_EQ(over->residual, 312u);
  auto under = c.command(r, 1024, true, false);
  ASSERT_TRUE(under);
  EXPECT_TRUE(under->underflow);
  EXPECT_EQ(under->residual, 512u);

  const std::uint8_t bogus[6] = {0xee};
  auto cc = c.command(bogus, 0, false, false);
  ASSERT_TRUE(cc);
  EXPECT_EQ(cc->status, 2);
  ASSERT_GE(cc->sense.size(), 14u);
  EXPECT_EQ(cc->sense[2] & 0x0f, 0x05);
  EXPECT_EQ(cc->sense[12], 0x20);

  // LUN 1 does not exist: 25h/00h, but INQUIRY answers with qualifier 011b.
  auto lun1 = c.command(tur, 0, false, false, {}, 0, 0x0001000000000000ull);
  ASSERT_TRUE(lun1);
  EXPECT_EQ(lun1->status, 2);
  EXPECT_EQ(lun1->sense[12], 0x25);
  const std::uint8_t inq[6] = {0x12, 0, 0, 0, 36, 0};
  auto inq1 = c.command(inq, 36, true, false, {}, 0, 0x0001000000000000ull);
  ASSERT_TRUE(inq1);
  EXPECT_EQ(inq1->status, 0);
  EXPECT_EQ(inq1->data[0], 0x7f);

  // WRITE with EDTL larger than the CDB's length: underflow, only the CDB's blocks written.
  std::vector<std::uint8_t> two(1024, 0xab);
  auto w = rw10(0x2a, 10, 1);
  auto wu = c.command(w, 1024, false, true, two, 1024);
  ASSERT_TRUE(wu);
  EXPECT_EQ(wu->status, 0);
  EXPECT_TRUE(wu->underflow);
  EXPECT_EQ(wu->residual, 512u);
  // EDTL smaller than the CDB's length: only the blocks sent are written, overflow reported.
  std::vector<std::uint8_t> other(1024, 0xcd);
  auto w2 = rw10(0x2a, 10, 2);
  auto wo = c.command(w2, 512, false, true, other, 512);
  ASSERT_TRUE(wo);
  EXPECT_EQ(wo->status, 0);
  EXPECT_TRUE(wo->overflow);
  EXPECT_EQ(wo->residual, 512u);
  auto back = c.command(rw10(0x28, 10, 2), 1024, true, false);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->data[0], 0xcd);
  EXPECT_EQ(back->data[512], 0x00);  // block 11 untouched
  // READ flagged as a write at the iSCSI level: the read runs, no Data-In fits, overflow.
  auto rw = c.command(r, 512, false, true, two, 512);
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->status, 0);
  EXPECT_TRUE(rw->overflow);
  EXPECT_EQ(rw->residual, 512u);
}

TEST_F(ScsiLoopback, RequestSenseToAnotherLunIsGoodWithItsSense) {
  auto c = connect_and_login();
  const std::uint8_t request_sense[6] = {0x03, 0, 0, 0, 18, 0};
  auto r = c.command(request_sense, 18, true, false, {}, 0, 0x0001000000000000ull);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
  ASSERT_EQ(r->data.size(), 18u);
  EXPECT_EQ(r->data[2] & 0x0f, 0x05);
  EXPECT_EQ(r->data[12], 0x25);
  EXPECT_EQ(r->data[13], 0x00);
}

}  // namespace
}  // namespace maya::iscsi::testing
