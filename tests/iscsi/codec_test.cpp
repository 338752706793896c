// PDU codec on byte spans: framing, digests, field round trips, malformed input.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "lib/common/endian.h"
#include "lib/iscsi/crc32c.h"
#include "lib/iscsi/pdu.h"
#include "lib/iscsi/serial_number.h"
#include "lib/iscsi/text.h"

namespace maya::iscsi {
namespace {

std::vector<std::uint8_t> scsi_read_pdu() {
  std::vector<std::uint8_t> b(48, 0);
  b[0] = 0x01;
  b[1] = 0xc0;  // F, R
  store_be64(&b[8], 0x0001000000000000ull);
  store_be32(&b[16], 0x1234);
  store_be32(&b[20], 4096);
  store_be32(&b[24], 7);
  store_be32(&b[28], 3);
  b[32] = 0x28;
  b[39] = 0x08;
  return b;
}

TEST(Codec, EndianHelpers) {
  std::uint8_t b[8];
  store_be64(b, 0x0102030405060708ull);
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(load_be64(b), 0x0102030405060708ull);
  store_be24(b, 0xabcdef);
  EXPECT_EQ(load_be24(b), 0xabcdefu);
  store_le32(b, 0x11223344);
  EXPECT_EQ(b[0], 0x44);
  EXPECT_EQ(load_le32(b), 0x11223344u);
  EXPECT_TRUE(sn_less(0xfffffff0u, 5));
  EXPECT_FALSE(sn_less(5, 5));
}

TEST(Codec, DecodesScsiCommand) {
  auto b = scsi_read_pdu();
  auto frame = parse_frame(b, {}, 8192);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->total, 48u);
  auto pdu = parse_pdu(b, *frame, {});
  ASSERT_TRUE(pdu);
  EXPECT_EQ(opcode_of(pdu->bhs), Opcode::kScsiCommand);
  auto c = decode_scsi_command(pdu->bhs);
  EXPECT_TRUE(c.final);
  EXPECT_TRUE(c.read);
  EXPECT_FALSE(c.write);
  EXPECT_EQ(c.itt, 0x1234u);
  EXPECT_EQ(c.edtl, 4096u);
  EXPECT_EQ(c.cmdsn, 7u);
  EXPECT_EQ(c.lun, 0x0001000000000000ull);
  EXPECT_EQ(c.cdb[0], 0x28);
}

TEST(Codec, FramesDataSegmentWithPaddingAndDigests) {
  std::vector<std::uint8_t> b(48, 0);
  b[0] = 0x04;
  b[4] = 1;  // 4 bytes of AHS
  store_be24(&b[5], 5);
  b.insert(b.end(), {0, 0, 0, 0});  // AHS
  Digests d{true, true};
  auto hd = crc32c(std::span(b).subspan(0, 52));
  b.resize(56);
  store_le32(&b[52], hd);
  std::vector<std::uint8_t> data = {'a', '=', 'b', 0, 0, 0, 0, 0};  // 5 bytes + 3 pad
  b.insert(b.end(), data.begin(), data.end());
  b.resize(b.size() + 4);
  store_le32(&b[b.size() - 4], crc32c(data));
  auto frame = parse_frame(b, d, 8192);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->total, b.size());
  auto pdu = parse_pdu(b, *frame, d);
  ASSERT_TRUE(pdu);
  EXPECT_EQ(pdu->ahs.size(), 4u);
  EXPECT_EQ(pdu->data.size(), 5u);

  auto bad = b;
  bad[60] ^= 1;  // data corrupted
  EXPECT_EQ(parse_pdu(bad, *frame, d).error(), PduError::kDataDigest);
  bad = b;
  bad[20] ^= 1;  // header corrupted
  EXPECT_EQ(parse_pdu(bad, *frame, d).error(), PduError::kHeaderDigest);
}

TEST(Codec, MalformedInputs) {
  std::vector<std::uint8_t> b(47, 0);
  EXPECT_EQ(parse_frame(b, {}, 8192).error(), PduError::kIncomplete);
  b.resize(48);
  store_be24(&b[5], 0xffffff);
  EXPECT_EQ(parse_frame(b, {}, 262144).error(), PduError::kDataTooLong);
  store_be24(&b[5], 100);
  auto frame = parse_frame(b, {}, 262144);
  ASSERT_TRUE(frame);
  EXPECT_EQ(parse_pdu(b, *frame, {}).error(), PduError::kIncomplete);
}

TEST(Codec, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> b(rng() % 200);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    Digests d{(rng() & 1) != 0, (rng() & 1) != 0};
    auto frame = parse_frame(b, d, 1024);
    if (!frame) continue;
    auto pdu = parse_pdu(b, *frame, d);
    if (!pdu) continue;
    (void)decode_scsi_command(pdu->bhs);
    (void)decode_login(pdu->bhs);
    (void)parse_text(pdu->data);
  }
}

TEST(Codec, EncodesTargetPdus) {
  std::array<std::uint8_t, kBhsLength> b;
  DataInPdu d;
  d.final = true;
  d.status_present = true;
  d.underflow = true;
  d.residual = 512;
  d.itt = 9;
  d.datasn = 2;
  d.buffer_offset = 8192;
  d.data_length = 4096;
  d.sn = {10, 20, 30};
  encode(d, b);
  EXPECT_EQ(b[0], 0x25);
  EXPECT_EQ(b[1], 0x80 | 0x02 | 0x01);
  EXPECT_EQ(load_be24(&b[5]), 4096u);
  EXPECT_EQ(load_be32(&b[16]), 9u);
  EXPECT_EQ(load_be32(&b[24]), 10u);
  EXPECT_EQ(load_be32(&b[36]), 2u);
  EXPECT_EQ(load_be32(&b[40]), 8192u);
  EXPECT_EQ(load_be32(&b[44]), 512u);

  ScsiResponsePdu r;
  r.status = 2;
  r.overflow = true;
  r.residual = 7;
  r.data_length = 20;
  encode(r, b);
  EXPECT_EQ(b[0], 0x21);
  EXPECT_EQ(b[1], 0x84);
  EXPECT_EQ(b[3], 2);
  EXPECT_EQ(load_be32(&b[44]), 7u);

  LoginResponsePdu l;
  l.transit = true;
  l.csg = 1;
  l.nsg = 3;
  l.tsih = 0x0102;
  l.status_class = 2;
  l.status_detail = 1;
  encode(l, b);
  EXPECT_EQ(b[0], 0x23);
  EXPECT_EQ(b[1], 0x80 | (1 << 2) | 3);
  EXPECT_EQ(load_be16(&b[14]), 0x0102);
  EXPECT_EQ(b[36], 2);
  EXPECT_EQ(b[37], 1);

  R2TPdu t;
  t.ttt = 5;
  t.r2tsn = 1;
  t.buffer_offset = 65536;
  t.desired_length = 4096;
  encode(t, b);
  EXPECT_EQ(b[0], 0x31);
  EXPECT_EQ(load_be32(&b[44]), 4096u);

  RejectPdu j;
  j.reason = reject_reason::kProtocolError;
  encode(j, b);
  EXPECT_EQ(b[0], 0x3f);
  EXPECT_EQ(b[2], 0x04);
  EXPECT_EQ(load_be24(&b[5]), 48u);
  EXPECT_EQ(load_be32(&b[16]), kReservedTag);
}

TEST(Text, ParsesAndEncodes) {
  std::vector<std::uint8_t> out;
  append_text(out, {{"A", "1"}, {"Bee", ""}});
  auto kv = parse_text(out);
  ASSERT_TRUE(kv);
  ASSERT_EQ(kv->size(), 2u);
  EXPECT_EQ((*kv)[1].first, "Bee");
  EXPECT_EQ((*kv)[1].second, "");
  std::vector<std::uint8_t> bad = {'n', 'o', 'e', 'q', 0};
  EXPECT_FALSE(parse_text(bad));
  std::vector<std::uint8_t> unterminated = {'k', '=', 'v'};
  ASSERT_TRUE(parse_text(unterminated));
  std::vector<std::uint8_t> longkey(70, 'k');
  longkey.push_back('=');
  EXPECT_FALSE(parse_text(longkey));
}

TEST(Text, SplitterHonoursLimit) {
  TextSplitter s;
  s.set(std::vector<std::uint8_t>(10000, 'x'));
  bool more = true;
  EXPECT_EQ(s.next(4096, more).size(), 4096u);
  EXPECT_TRUE(more);
  EXPECT_EQ(s.next(4096, more).size(), 4096u);
  EXPECT_EQ(s.next(4096, more).size(), 1808u);
  EXPECT_FALSE(more);
}

}  // namespace
}  // namespace maya::iscsi
