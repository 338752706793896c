// FUSE request decoding without a mount (FuseFrontend::answer, the seam tests/fuzz uses): the
// replies a pipe receives for GETATTR, WRITE, READ and requests that are too short; the
// notification written after a grow.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fuse.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "lib/jiva/fuse_frontend.h"
#include "lib/jiva/fuse_requests.h"
#include "tests/support/memory_backend.h"

namespace maya::jiva {
namespace {

constexpr std::uint64_t kFile = 2;

class FuseDecode : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::pipe2(pipe_, O_NONBLOCK), 0); }
  void TearDown() override {
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }
  template <class Args>
  std::vector<std::uint8_t> request(std::uint32_t opcode, std::uint64_t node, const Args& args,
                                    std::size_t extra = 0) {
    std::vector<std::uint8_t> r(sizeof(fuse_in_header) + sizeof args + extra, 0xab);
    fuse_in_header in{};
    in.len = static_cast<std::uint32_t>(r.size());
    in.opcode = opcode;
    in.unique = ++unique_;
    in.nodeid = node;
    std::memcpy(r.data(), &in, sizeof in);
    std::memcpy(r.data() + sizeof in, &args, sizeof args);
    return r;
  }
  // Answers `r` and returns the reply's header and payload.
  std::pair<fuse_out_header, std::vector<std::uint8_t>> answer(std::vector<std::uint8_t> r) {
    EXPECT_TRUE(FuseFrontend::answer(pipe_[1], r, backend_));
    std::vector<std::uint8_t> buf(1 << 17);
    ssize_t n = ::read(pipe_[0], buf.data(), buf.size());
    EXPECT_GE(n, static_cast<ssize_t>(sizeof(fuse_out_header)));
    fuse_out_header out{};
    std::memcpy(&out, buf.data(), sizeof out);
    EXPECT_EQ(out.len, static_cast<std::uint32_t>(n));
    EXPECT_EQ(out.unique, unique_);
    return {out, std::vector<std::uint8_t>(buf.begin() + sizeof out, buf.begin() + n)};
  }

  int pipe_[2] = {-1, -1};
  std::uint64_t unique_ = 0;
  block::MemoryBackend backend_{{.size = 1 << 20}};
};

TEST_F(FuseDecode, GetattrWriteReadAndShortRequests) {
  auto [attr_h, attr] = answer(request(FUSE_GETATTR, kFile, fuse_getattr_in{}));
  ASSERT_EQ(attr_h.error, 0);
  fuse_attr_out a{};
  ASSERT_EQ(attr.size(), sizeof a);
  std::memcpy(&a, attr.data(), sizeof a);
  EXPECT_EQ(a.attr.size, 1u << 20);

  fuse_write_in w{};
  w.offset = 4096;
  w.size = 512;
  auto [write_h, written] = answer(request(FUSE_WRITE, kFile, w, 512));
  ASSERT_EQ(write_h.error, 0);
  fuse_read_in rd{};
  rd.offset = 4096;
  rd.size = 512;
  auto [read_h, data] = answer(request(FUSE_READ, kFile, rd));
  ASSERT_EQ(read_h.error, 0);
  EXPECT_EQ(data, std::vector<std::uint8_t>(512, 0xab));

  w.offset = (1 << 20) - 256;  // past the end of the volume
  EXPECT_EQ(answer(request(FUSE_WRITE, kFile, w, 512)).first.error, -ENOSPC);
  w.size = 4096;  // more than the request carries
  w.offset = 0;
  EXPECT_EQ(answer(request(FUSE_WRITE, kFile, w, 512)).first.error, -EINVAL);
  auto shorter = request(FUSE_READ, kFile, rd);
  shorter.resize(sizeof(fuse_in_header) + 4);
  EXPECT_EQ(answer(shorter).first.error, -EINVAL);
}

// The opcode table: each entry has a handler and a name and is found by its opcode; an opcode
// it lacks is answered ENOSYS, a body shorter than the entry needs with the entry's error.
TEST_F(FuseDecode, TheOpcodeTableAnswersWhatItListsAndNothingElse) {
  ASSERT_EQ(fuse::opcode_table().size(), 22u);
  for (const auto& info : fuse::opcode_table()) {
    EXPECT_NE(info.handler, nullptr) << info.name;
    EXPECT_NE(std::string(info.name), "") << info.opcode;
    EXPECT_EQ(fuse::find_opcode(info.opcode), &info) << info.name;
  }
  EXPECT_EQ(fuse::find_opcode(FUSE_MKNOD), nullptr);
  EXPECT_EQ(answer(request(FUSE_MKNOD, kFile, fuse_mknod_in{})).first.error, -ENOSYS);

  auto short_readdir = request(FUSE_READDIR, 1, fuse_read_in{});
  short_readdir.resize(sizeof(fuse_in_header) + 4);
  EXPECT_EQ(answer(short_readdir).first.error, -ENOTDIR);
  auto short_init = request(FUSE_INIT, 0, fuse_init_in{});
  short_init.resize(sizeof(fuse_in_header) + 15);
  EXPECT_EQ(answer(short_init).first.error, -EINVAL);
}

// After a grow the target tells the kernel to drop the file's cached attributes: one whole
// message, unique 0, the notification's code in `error`, offset 0 and length 0 (all of it).
TEST_F(FuseDecode, InvalInodeNotificationIsOneWholeMessage) {
  ASSERT_TRUE(fuse::notify_inval_inode(pipe_[1], kFile));
  std::vector<std::uint8_t> buf(256);
  const ssize_t n = ::read(pipe_[0], buf.data(), buf.size());
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(fuse_out_header) + sizeof(fuse_notify_inval_inode_out)));
  fuse_out_header out{};
  std::memcpy(&out, buf.data(), sizeof out);
  EXPECT_EQ(out.len, static_cast<std::uint32_t>(n));
  EXPECT_EQ(out.error, FUSE_NOTIFY_INVAL_INODE);
  EXPECT_EQ(out.unique, 0u);
  fuse_notify_inval_inode_out inval{};
  std::memcpy(&inval, buf.data() + sizeof out, sizeof inval);
  EXPECT_EQ(inval.ino, kFile);
  EXPECT_EQ(inval.off, 0);
  EXPECT_EQ(inval.len, 0);
  EXPECT_FALSE(fuse::notify_inval_inode(-1, kFile)) << "a write that fails is an error";
}

}  // namespace
}  // namespace maya::jiva
