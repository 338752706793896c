// The connection engine without sockets: bytes in, PDUs out. Digests end to end, data digest
// errors, login text continuation, unsolicited Data-Out after immediate data, and text responses
// split to the initiator's MaxRecvDataSegmentLength.
#include <gtest/gtest.h>

#include "lib/common/endian.h"
#include "lib/iscsi/connection.h"
#include "lib/iscsi/crc32c.h"
#include "tests/iscsi/test_disk.h"

namespace maya::iscsi {
namespace {

constexpr const char* kIqn = "iqn.2026-11.io.maya:engine";
using Bytes = std::vector<std::uint8_t>;

struct Engine {
  testing::TestDisk disk;
  SessionRegistry registry;
  TargetContext ctx;
  std::unique_ptr<Connection> conn;
  Digests digests;

  Engine() {
    ctx.login.target_name = kIqn;
    ctx.disk = &disk;
    ctx.registry = &registry;
    conn = std::make_unique<Connection>(ctx, ConnectionHooks{{}, "127.0.0.1:3260,1"});
  }

  // Builds a PDU the way an initiator would, with our current digests.
  Bytes pdu(Bytes bhs, const Bytes& data = {}, bool corrupt_data = false) {
    bhs.resize(48);
    store_be24(&bhs[5], static_cast<std::uint32_t>(data.size()));
    Bytes out = bhs;
    if (digests.header) {
      out.resize(52);
      store_le32(&out[48], crc32c(std::span(out).subspan(0, 48)));
    }
    Bytes padded = data;
    while (padded.size() % 4) padded.push_back(0);
    out.insert(out.end(), padded.begin(), padded.end());
    if (digests.data && !data.empty()) {
      std::uint32_t crc = crc32c(padded) ^ (corrupt_data ? 1u : 0u);
      out.resize(out.size() + 4);
      store_le32(&out[out.size() - 4], crc);
    }
    return out;
  }

  Bytes feed(const Bytes& in) {
    auto used = conn->receive(in);
    EXPECT_TRUE(used);
    if (used) {
      EXPECT_EQ(*used, in.size());
    }
    Bytes out = conn->out().flatten();
    conn->out().clear();
    return out;
  }

  Bytes login(const std::string& extra) {
    std::string keys = std::string("InitiatorName=iqn.e") + '\0' + "TargetName=" + kIqn + '\0' +
                       "MaxRecvDataSegmentLength=512" + '\0' + extra;
    Bytes bhs(48, 0);
    bhs[0] = 0x43;
    bhs[1] = 0x87;
    return feed(pdu(bhs, Bytes(keys.begin(), keys.end())));
  }
};

TEST(ConnectionEngine, DigestsEndToEnd) {
  Engine e;
  std::string ask = std::string("HeaderDigest=CRC32C") + '\0' + "DataDigest=CRC32C" + '\0';
  Bytes resp = e.login(ask);
  ASSERT_GE(resp.size(), 48u);
  EXPECT_EQ(resp[0], 0x23);
  EXPECT_EQ(resp[36], 0);
  ASSERT_TRUE(e.conn->params().header_digest);
  ASSERT_TRUE(e.conn->params().data_digest);
  e.digests = {true, true};

  Bytes nop(48, 0);
  nop[0] = 0x40;
  nop[1] = 0x80;
  store_be32(&nop[16], 77);
  store_be32(&nop[20], kReservedTag);
  Bytes out = e.feed(e.pdu(nop, {'a', 'b', 'c', 'd', 'e'}));
  // NOP-In: BHS, header digest, 5 data bytes + 3 pad, data digest.
  ASSERT_EQ(out.size(), 48u + 4 + 8 + 4);
  EXPECT_EQ(out[0], 0x20);
  EXPECT_EQ(load_le32(&out[48]), crc32c(std::span(out).subspan(0, 48)));
  EXPECT_EQ(load_le32(&out[60]), crc32c(std::span(out).subspan(52, 8)));

  // A corrupted data digest: Reject 02h carrying the rejected header, session goes on.
  out = e.feed(e.pdu(nop, {'x'}, true));
  ASSERT_GE(out.size(), 52u);
  EXPECT_EQ(out[0], 0x3f);
  EXPECT_EQ(out[2], reject_reason::kDataDigestError);

  // A corrupted header digest ends the connection.
  Bytes bad = e.pdu(nop);
  bad[49] ^= 0xff;
  EXPECT_FALSE(e.conn->receive(bad));
}

TEST(ConnectionEngine, ImmediatePlusUnsolicitedDataOut) {
  Engine e;
  std::string ask = std::string("InitialR2T=No") + '\0' + "ImmediateData=Yes" + '\0' +
                    "FirstBurstLength=1024" + '\0' + "MaxBurstLength=1024" + '\0';
  e.login(ask);
  ASSERT_FALSE(e.conn->params().initial_r2t);
  // WRITE(10) of 8 blocks: 512 immediate, 512 unsolicited, 3072 by three R2Ts of 1024.
  Bytes data(4096);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  Bytes cmd(48, 0);
  cmd[0] = 0x01;
  cmd[1] = 0x20;  // W, no F: unsolicited Data-Out follows
  store_be32(&cmd[16], 5);
  store_be32(&cmd[20], 4096);
  store_be32(&cmd[24], 0);
  cmd[32] = 0x2a;
  cmd[39] = 0;  // TRANSFER LENGTH (CDB bytes 7-8): 8 blocks
  cmd[40] = 8;
  Bytes out = e.feed(e.pdu(cmd, Bytes(data.begin(), data.begin() + 512)));
  // R2Ts for the part beyond FirstBurstLength may go out at once (MaxOutstandingR2T = 1).
  ASSERT_EQ(out.size(), 48u);
  EXPECT_EQ(out[0], 0x31);
  EXPECT_EQ(load_be32(&out[40]), 1024u);
  EXPECT_EQ(load_be32(&out[44]), 1024u);
  std::uint32_t ttt = load_be32(&out[20]);
  auto data_out = [&](std::uint32_t tag, std::uint32_t sn, std::uint32_t off, std::uint32_t len,
                      bool fin) {
    Bytes d(48, 0);
    d[0] = 0x05;
    d[1] = fin ? 0x80 : 0;
    store_be32(&d[16], 5);
    store_be32(&d[20], tag);
    store_be32(&d[36], sn);
    store_be32(&d[40], off);
    return e.feed(e.pdu(d, Bytes(data.begin() + off, data.begin() + off + len)));
  };
  EXPECT_TRUE(data_out(kReservedTag, 0, 512, 512, true).empty());
  for (std::uint32_t r2tsn = 1; r2tsn <= 2; ++r2tsn) {
    // Each R2T answered in two Data-Out PDUs; the next R2T follows.
    EXPECT_TRUE(data_out(ttt, 0, 1024 * r2tsn, 512, false).empty());
    out = data_out(ttt, 1, 1024 * r2tsn + 512, 512, true);
    ASSERT_EQ(out.size(), 48u);
    EXPECT_EQ(out[0], 0x31);
    EXPECT_EQ(load_be32(&out[36]), r2tsn);
    EXPECT_EQ(load_be32(&out[40]), 1024 * (r2tsn + 1));
    ttt = load_be32(&out[20]);
  }
  out = data_out(ttt, 0, 3072, 1024, true);
  ASSERT_GE(out.size(), 48u);
  EXPECT_EQ(out[0], 0x21);  // SCSI Response
  EXPECT_EQ(out[3], 0);
  Bytes stored(4096);
  ASSERT_TRUE(e.disk.backend().read(0, std::as_writable_bytes(std::span(stored))));
  EXPECT_EQ(stored, data);
}

TEST(ConnectionEngine, LongTextIsSplitAndContinued) {
  Engine e;
  e.login("");
  // SendTargets answer is short; ask many unknown keys so the answer exceeds 512 bytes.
  std::string keys;
  for (int i = 0; i < 40; ++i) keys += "X-com.example.key" + std::to_string(i) + "=1" + '\0';
  Bytes text(48, 0);
  text[0] = 0x04;
  text[1] = 0x80;
  store_be32(&text[16], 9);
  store_be32(&text[20], kReservedTag);
  store_be32(&text[24], 0);
  Bytes out = e.feed(e.pdu(text, Bytes(keys.begin(), keys.end())));
  ASSERT_GE(out.size(), 48u);
  EXPECT_EQ(out[0], 0x24);
  EXPECT_EQ(out[1], 0x40);  // C, not F
  EXPECT_EQ(load_be24(&out[5]), 512u);
  std::uint32_t ttt = load_be32(&out[20]);
  EXPECT_NE(ttt, kReservedTag);
  std::size_t total = 512;
  for (int i = 0; i < 10; ++i) {
    Bytes more(48, 0);
    more[0] = 0x04;
    more[1] = 0x80;
    store_be32(&more[16], 9);
    store_be32(&more[20], ttt);
    store_be32(&more[24], 1 + i);
    out = e.feed(e.pdu(more));
    ASSERT_GE(out.size(), 48u);
    total += load_be24(&out[5]);
    if (out[1] & 0x80) break;
    ttt = load_be32(&out[20]);
  }
  EXPECT_EQ(out[1] & 0x80, 0x80);
  EXPECT_EQ(load_be32(&out[20]), kReservedTag);
  EXPECT_GT(total, 1000u);
}

}  // namespace
}  // namespace maya::iscsi
