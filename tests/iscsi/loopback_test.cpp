// A Target on 127.0.0.1:0 driven by the hand-written initiator: login, READ CAPACITY, WRITE(10)
// with immediate data + R2T, READ(10), NOP, SendTargets, task management, logout, sessions.
#include <gtest/gtest.h>

#include <numeric>
#include <thread>

#include "lib/common/log.h"
#include "lib/iscsi/chap.h"
#include "lib/iscsi_target/target.h"
#include "tests/iscsi/mini_initiator.h"
#include "tests/iscsi/test_disk.h"

namespace maya::iscsi::testing {
namespace {

constexpr const char* kIqn = "iqn.2026-11.io.maya:loopback";

class Loopback : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_level(log::Level::error);  // dropped connections are expected here
    iscsi_target::TargetOptions o;
    o.listen = "127.0.0.1:0";
    o.iqn = kIqn;
    auto t = iscsi_target::Target::create_with_disk(o, disk_);
    ASSERT_TRUE(t) << t.error().message;
    target_ = std::move(*t);
    target_->start();
  }
  void TearDown() override {
    if (target_) target_->stop();
  }
  MiniInitiator connect_and_login(const std::string& initiator = "iqn.2026-11.io.maya:i1") {
    auto c = MiniInitiator::connect(target_->port());
    EXPECT_TRUE(c);
    auto status = c->login(kIqn, initiator);
    EXPECT_TRUE(status);
    EXPECT_EQ(*status, 0);
    return std::move(*c);
  }

  TestDisk disk_;
  std::unique_ptr<iscsi_target::Target> target_;
};

TEST_F(Loopback, LoginReadCapacityWriteReadNopLogout) {
  auto c = connect_and_login();
  EXPECT_NE(c.tsih(), 0);
  EXPECT_GE(c.max_cmdsn() - c.cmdsn() + 1, 128u);
  EXPECT_EQ(disk_.live_nexuses(), 1u);

  const std::uint8_t rc10[10] = {0x25};
  auto cap = c.command(rc10, 8, true, false);
  ASSERT_TRUE(cap);
  EXPECT_EQ(cap->status, 0);
  EXPECT_EQ(cap->data[3], 0xff);  // 16 MiB / 512 - 1 = 0x7fff
  EXPECT_EQ(cap->data[2], 0x7f);

  // 200 KiB write: 64 KiB immediate (FirstBurstLength we asked for), the rest by R2T.
  std::vector<std::uint8_t> data(200 * 1024);
  std::iota(data.begin(), data.end(), 0);
  auto w = rw10(0x2a, 100, 400);
  auto wr = c.command(w, static_cast<std::uint32_t>(data.size()), false, true, data, 65536);
  ASSERT_TRUE(wr);
  EXPECT_EQ(wr->status, 0);
  EXPECT_GE(wr->r2ts, 1);

  auto r = rw10(0x28, 100, 400);
  auto rd = c.command(r, static_cast<std::uint32_t>(data.size()), true, false);
  ASSERT_TRUE(rd);
  EXPECT_EQ(rd->status, 0);
  EXPECT_EQ(rd->data, data);
  EXPECT_GE(rd->data_in_pdus, 4);  // split at our 64 KiB MaxRecvDataSegmentLength
  EXPECT_FALSE(rd->underflow);

  std::vector<std::uint8_t> ping = {'p', 'i', 'n', 'g'};
  auto nop = c.nop(ping);
  ASSERT_TRUE(nop);
  EXPECT_EQ(nop->opcode(), 0x20);
  EXPECT_EQ(nop->data, ping);

  auto out = c.logout();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->opcode(), 0x26);
  EXPECT_EQ(out->bhs[2], 0);
  EXPECT_TRUE(c.closed_by_peer());
  for (int i = 0; i < 100 && disk_.live_nexuses() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(disk_.live_nexuses(), 0u);
}

TEST_F(Loopback, SendTargetsInDiscoverySession) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  auto status = c->login("", "iqn.2026-11.io.maya:disco", true);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0);
  auto t = c->text("SendTargets=All");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->opcode(), 0x24);
  std::string body(t->data.begin(), t->data.end());
  EXPECT_NE(body.find(std::string("TargetName=") + kIqn), std::string::npos);
  EXPECT_NE(body.find("TargetAddress=127.0.0.1:" + std::to_string(target_->port()) + ",1"),
            std::string::npos);
  // SCSI commands are not allowed in a discovery session.
  const std::uint8_t tur[6] = {0};
  auto h = c->scsi_command_bhs(tur, 0, false, false, true, c->next_itt(), 0);
  ASSERT_TRUE(c->send(h));
  auto rej = c->receive();
  ASSERT_TRUE(rej);
  EXPECT_EQ(rej->opcode(), 0x3f);
}

TEST_F(Loopback, TaskManagementAnswers) {
  auto c = connect_and_login();
  auto tmf = [&](std::uint8_t function, std::uint64_t lun, std::uint32_t rtt) {
    Header h{};
    h[0] = 0x42;
    h[1] = 0x80 | function;
    for (int i = 0; i < 8; ++i) h[8 + i] = static_cast<std::uint8_t>(lun >> (56 - 8 * i));
    std::uint32_t itt = c.next_itt();
    h[16] = itt >> 24, h[17] = itt >> 16, h[18] = itt >> 8, h[19] = itt;
    h[20] = rtt >> 24, h[21] = rtt >> 16, h[22] = rtt >> 8, h[23] = rtt;
    std::uint32_t sn = c.cmdsn();
    h[24] = sn >> 24, h[25] = sn >> 16, h[26] = sn >> 8, h[27] = sn;
    EXPECT_TRUE(c.send(h));
    auto r = c.receive();
    EXPECT_TRUE(r);
    EXPECT_EQ(r->opcode(), 0x22);
    return r ? r->bhs[2] : 0xff;
  };
  EXPECT_EQ(tmf(1, 0, 0x7777), 1);                 // ABORT TASK: no such task
  EXPECT_EQ(tmf(2, 0, 0), 0);                      // ABORT TASK SET
  EXPECT_EQ(tmf(5, 0x0001000000000000ull, 0), 2);  // LUN RESET on LUN 1
  EXPECT_EQ(tmf(5, 0, 0), 0);                      // LUN RESET
  EXPECT_EQ(tmf(6, 0, 0), 0);                      // TARGET WARM RESET
  EXPECT_EQ(tmf(3, 0, 0), 5);                      // CLEAR ACA: not supported
  EXPECT_EQ(tmf(8, 0, 0), 4);                      // TASK REASSIGN
  EXPECT_EQ(disk_.resets.load(), 2);
  // Abort a write that waits for its R2T data.
  std::vector<std::uint8_t> data(4096);
  auto w = rw10(0x2a, 0, 8);
  const std::uint32_t itt = c.next_itt();
  ASSERT_TRUE(c.send(c.scsi_command_bhs(w, 4096, false, true, true, itt, 0)));
  auto r2t = c.receive();
  ASSERT_TRUE(r2t);
  EXPECT_EQ(r2t->opcode(), 0x31);
  EXPECT_EQ(tmf(1, 0, itt), 0);
  // Cold reset answers, then drops the connection.
  EXPECT_EQ(tmf(7, 0, 0), 0);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(Loopback, SeveralSessionsAtOnceAndReinstatement) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      auto c = MiniInitiator::connect(target_->port());
      if (!c) return;
      c->isid[5] = static_cast<std::uint8_t>(i);
      auto st = c->login(kIqn, "iqn.2026-11.io.maya:multi-" + std::to_string(i));
      if (!st || *st != 0) return;
      std::vector<std::uint8_t> data(4096, static_cast<std::uint8_t>(i));
      for (int k = 0; k < 50; ++k) {
        auto w = rw10(0x2a, 1000 + i * 8, 8);
        auto wr = c->command(w, 4096, false, true, data, 4096);
        auto r = rw10(0x28, 1000 + i * 8, 8);
        auto rd = c->command(r, 4096, true, false);
        if (!wr || !rd || wr->status != 0 || rd->data != data) return;
      }
      ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);

  // Same initiator name + ISID again: the old session is replaced and its connection closed.
  auto first = connect_and_login("iqn.2026-11.io.maya:same");
  auto second = connect_and_login("iqn.2026-11.io.maya:same");
  EXPECT_TRUE(first.closed_by_peer());
  const std::uint8_t tur[6] = {0};
  auto r = second.command(tur, 0, false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(disk_.live_nexuses(), 1u);
}

TEST_F(Loopback, ContinuingASessionNeedsItsTsih) {
  auto first = connect_and_login("iqn.2026-11.io.maya:cont");
  const std::uint16_t tsih = first.tsih();
  // A relogin naming the session's TSIH takes the session over on a new connection.
  auto second = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(second);
  second->set_tsih(tsih);
  auto st = second->login(kIqn, "iqn.2026-11.io.maya:cont");
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, 0);
  EXPECT_EQ(second->tsih(), tsih);
  EXPECT_TRUE(first.closed_by_peer());
  // An unknown TSIH: session does not exist.
  auto third = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(third);
  third->set_tsih(static_cast<std::uint16_t>(tsih + 100));
  st = third->login(kIqn, "iqn.2026-11.io.maya:cont");
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, 0x020a);
}

TEST_F(Loopback, CommandsOutsideTheWindowAreIgnored) {
  auto c = connect_and_login();
  const std::uint8_t tur[6] = {0};
  c.set_cmdsn(c.max_cmdsn() + 1);
  ASSERT_TRUE(c.send(c.scsi_command_bhs(tur, 0, false, false, true, c.next_itt(), 0)));
  EXPECT_FALSE(c.receive(300));
  c.set_cmdsn(c.max_cmdsn() - Connection::kCommandWindow + 1);  // back to ExpCmdSN
  auto r = c.command(tur, 0, false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
}

}  // namespace
}  // namespace maya::iscsi::testing

namespace maya::iscsi::testing {
namespace {

std::string key_value(const RxPdu& pdu, const std::string& key) {
  std::string text(pdu.data.begin(), pdu.data.end());
  auto at = text.find(key + "=");
  if (at == std::string::npos) return {};
  auto end = text.find('\0', at);
  return text.substr(at + key.size() + 1, end - at - key.size() - 1);
}

class ChapLoopback : public ::testing::Test {
 protected:
  void SetUp() override {
    iscsi_target::TargetOptions o;
    o.listen = "127.0.0.1:0";
    o.iqn = kIqn;
    o.chap = {"alice", "secret-123456", "", ""};
    auto t = iscsi_target::Target::create_with_disk(o, disk_);
    ASSERT_TRUE(t);
    target_ = std::move(*t);
    target_->start();
  }
  // Runs the CHAP exchange; returns the Status-Class/Detail of the last answer.
  std::uint16_t chap_login(MiniInitiator& c, const std::string& secret) {
    auto r1 = c.login_step(0, 1, true,
                           {{"InitiatorName", "iqn.2026-11.io.maya:chap"},
                            {"TargetName", kIqn},
                            {"SessionType", "Normal"},
                            {"AuthMethod", "CHAP,None"}});
    if (!r1 || key_value(*r1, "AuthMethod") != "CHAP" || (r1->bhs[1] & 0x80)) return 0xffff;
    auto r2 = c.login_step(0, 1, true, {{"CHAP_A", "5"}});
    if (!r2) return 0xffff;
    auto id = static_cast<std::uint8_t>(std::stoi(key_value(*r2, "CHAP_I")));
    auto challenge = decode_chap_binary(key_value(*r2, "CHAP_C"));
    if (!challenge) return 0xffff;
    auto response = encode_chap_hex(chap_md5_response(id, secret, *challenge));
    auto r3 = c.login_step(0, 1, true, {{"CHAP_N", "alice"}, {"CHAP_R", response}});
    if (!r3) return 0xffff;
    auto status = static_cast<std::uint16_t>((r3->bhs[36] << 8) | r3->bhs[37]);
    if (status != 0) return status;
    auto r4 = c.login_step(1, 3, true, {{"MaxRecvDataSegmentLength", "65536"}});
    if (!r4) return 0xffff;
    return static_cast<std::uint16_t>((r4->bhs[36] << 8) | r4->bhs[37]);
  }
  TestDisk disk_;
  std::unique_ptr<iscsi_target::Target> target_;
};

TEST_F(ChapLoopback, RightSecretLogsIn) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  EXPECT_EQ(chap_login(*c, "secret-123456"), 0);
  const std::uint8_t tur[6] = {0};
  auto r = c->command(tur, 0, false, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 0);
}

TEST_F(ChapLoopback, WrongSecretIsRefusedAndDropped) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  EXPECT_EQ(chap_login(*c, "not-the-secret"), 0x0201);
  EXPECT_TRUE(c->closed_by_peer());
}

TEST_F(ChapLoopback, SkippingAuthenticationIsRefused) {
  auto c = MiniInitiator::connect(target_->port());
  ASSERT_TRUE(c);
  auto st = c->login(kIqn);
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, 0x0201);
}

TEST(IdleLoopback, TargetPingsAndDropsSilentPeers) {
  TestDisk disk;
  iscsi_target::TargetOptions o;
  o.listen = "127.0.0.1:0";
  o.iqn = kIqn;
  o.idle_seconds = 1;
  auto t = iscsi_target::Target::create_with_disk(o, disk);
  ASSERT_TRUE(t);
  (*t)->start();
  auto c = MiniInitiator::connect((*t)->port());
  ASSERT_TRUE(c);
  ASSERT_EQ(*c->login(kIqn), 0);
  auto ping = c->receive(3000);
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->opcode(), 0x20);
  EXPECT_EQ(ping->u32(16), 0xffffffffu);
  EXPECT_NE(ping->u32(20), 0xffffffffu);
  Header pong{};
  pong[0] = 0x40;
  pong[1] = 0x80;
  for (int i = 16; i < 20; ++i) pong[i] = 0xff;
  std::copy(ping->bhs.begin() + 20, ping->bhs.begin() + 24, pong.begin() + 20);
  ASSERT_TRUE(c->send(pong));
  auto again = c->receive(3000);  // answered, so still connected: another ping comes
  ASSERT_TRUE(again);
  EXPECT_EQ(again->opcode(), 0x20);
  EXPECT_TRUE(c->closed_by_peer(4000));  // this one goes unanswered
  (*t)->stop();
}

}  // namespace
}  // namespace maya::iscsi::testing
