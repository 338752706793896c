// Malformed input over TCP: random bytes, truncated headers, a huge DataSegmentLength, bad
// DataSN, garbage after login. The target drops or rejects the offender and keeps serving.
#include <gtest/gtest.h>

#include <random>

#include "lib/common/log.h"
#include "lib/iscsi/connection.h"
#include "lib/iscsi_target/target.h"
#include "tests/iscsi/mini_initiator.h"
#include "tests/iscsi/test_disk.h"

namespace maya::iscsi::testing {
namespace {

constexpr const char* kIqn = "iqn.2026-11.io.maya:robust";

class Robustness : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_level(log::Level::error);  // dropped connections are expected here
    iscsi_target::TargetOptions o;
    o.listen = "127.0.0.1:0";
    o.iqn = kIqn;
    o.idle_seconds = 2;
    o.login_timeout = std::chrono::seconds(2);
    auto t = iscsi_target::Target::create_with_disk(o, disk_);
    ASSERT_TRUE(t) << t.error().message;
    target_ = std::move(*t);
    target_->start();
  }
  void TearDown() override { target_->stop(); }

  // A healthy session still works.
  void expect_alive() {
    auto c = MiniInitiator::connect(target_->port());
    ASSERT_TRUE(c);
    auto st = c->login(kIqn);
    ASSERT_TRUE(st);
    ASSERT_EQ(*st, 0);
    const std::uint8_t tur[6] = {0};
    auto r = c->command(tur, 0, false, false);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 0);
  }

  TestDisk disk_;
  std::unique_ptr<iscsi_target::Target> target_;
};

TEST_F(Robustness, RandomBytesBeforeLogin) {
  std::mt19937 rng(1);
  for (int i = 0; i < 30; ++i) {
    auto c = MiniInitiator::connect(target_->port());
    ASSERT_TRUE(c);
    std::vector<std::uint8_t> junk(48 + rng() % 2000);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (i % 2 == 0) junk[0] = 0x43;  // looks like a login
    c->send_raw(junk);
    c->closed_by_peer(3000);
  }
  expect_alive();
}

TEST_F(Robustness, RandomPdusAfterLogin) {
  std::mt19937 rng(2);
  for (int i = 0; i < 30; ++i) {
    auto c = MiniInitiator::connect(target_->port());
    ASSERT_TRUE(c);
    ASSERT_EQ(*c->login(kIqn), 0);
    for (int k = 0; k < 20; ++k) {
      Header h;
      for (auto& b : h) b = static_cast<std::uint8_t>(rng());
      h[4] = 0;
      const std::uint32_t len = rng() % 600;
      h[5] = 0;
      h[6] = static_cast<std::uint8_t>(len >> 8);
      h[7] = static_cast<std::uint8_t>(len);
      std::vector<std::uint8_t> data(len);
      for (auto& b : data) b = static_cast<std::uint8_t>(rng());
      if (!c->send(h, data)) break;
    }
  }
  expect_alive();
}

TEST_F(Robustness, TruncatedHeaderThenClose) {
  for (std::size_t n : {1u, 20u, 47u}) {
    auto c = MiniInitiator::connect(target_->port());
    ASSERT_TRUE(c);
    std::vector<std::uint8_t> part(n, 0x43);
    c->send_raw(part);
  }  // closes mid-header
  expect_alive();
}

TEST_F(Robustness, HugeDataSegmentLengthDropsTheConnection) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  ASSERT_EQ(*c->login(kIqn), 0);
  Header h{};
  h[0] = 0x40;  // NOP-Out
  h[1] = 0x80;
  h[5] = h[6] = h[7] = 0xff;  // 16 MiB - 1 of data announced
  ASSERT_TRUE(c->send(h));
  EXPECT_TRUE(c->closed_by_peer());
  expect_alive();
}

TEST_F(Robustness, WrongDataSnFailsTheCommandOnly) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  ASSERT_EQ(*c->login(kIqn), 0);
  const std::uint8_t w[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 2, 0};
  const std::uint32_t itt = c->next_itt();
  ASSERT_TRUE(c->send(c->scsi_command_bhs(w, 1024, false, true, true, itt, 0)));
  auto r2t = c->receive();
  ASSERT_TRUE(r2t);
  ASSERT_EQ(r2t->opcode(), 0x31);
  std::vector<std::uint8_t> data(512);
  ASSERT_TRUE(c->send(MiniInitiator::data_out_bhs(itt, r2t->u32(20), 5, 0, 512, false), data));
  auto resp = c->receive();
  ASSERT_TRUE(resp);
  EXPECT_EQ(resp->opcode(), 0x21);
  EXPECT_EQ(resp->bhs[3], 2);  // CHECK CONDITION
  ASSERT_GE(resp->data.size(), 16u);
  EXPECT_EQ(resp->data[2 + 2] & 0x0f, 0x0b);  // ABORTED COMMAND
  // The rest of that command's data is dropped quietly; the session goes on.
  ASSERT_TRUE(c->send(MiniInitiator::data_out_bhs(itt, r2t->u32(20), 1, 512, 512, true), data));
  const std::uint8_t tur[6] = {0};
  auto r = c->command(tur, 0, false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
}

TEST_F(Robustness, UnknownOpcodeAndSnackAreRejected) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  ASSERT_EQ(*c->login(kIqn), 0);
  for (std::uint8_t op : {0x1f, 0x10, 0x03}) {
    Header h{};
    h[0] = op;
    h[1] = 0x80;
    ASSERT_TRUE(c->send(h));
    auto r = c->receive();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->opcode(), 0x3f) << int(op);
    EXPECT_EQ(std::vector<std::uint8_t>(r->data.begin(), r->data.begin() + 48),
              std::vector<std::uint8_t>(h.begin(), h.end()));
  }
  const std::uint8_t tur[6] = {0};
  auto r = c->command(tur, 0, false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
}

TEST_F(Robustness, IdleLoginIsDropped) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->closed_by_peer(6000));
}

TEST_F(Robustness, ConnectionEngineSurvivesByteFuzz) {
  // Without sockets: feed random byte streams straight into a Connection after a login.
  std::mt19937 rng(3);
  SessionRegistry registry;
  TargetContext ctx;
  ctx.login.target_name = kIqn;
  ctx.disk = &disk_;
  ctx.registry = &registry;
  for (int round = 0; round < 200; ++round) {
    Connection conn(ctx, {});
    std::vector<std::uint8_t> login = {0x43, 0x87, 0, 0, 0, 0, 0, 0};
    login.resize(48);
    std::string keys = std::string("InitiatorName=iqn.f") + '\0' + "TargetName=" + kIqn + '\0';
    login[7] = static_cast<std::uint8_t>(keys.size());
    login.insert(login.end(), keys.begin(), keys.end());
    while (login.size() % 4) login.push_back(0);
    ASSERT_TRUE(conn.receive(login));
    std::vector<std::uint8_t> junk(rng() % 4096);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    (void)conn.receive(junk);
    conn.out().clear();
  }
}

}  // namespace
}  // namespace maya::iscsi::testing
