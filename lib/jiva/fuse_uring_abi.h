// The few FUSE-over-io_uring definitions this system's linux/fuse.h (Debian 12: protocol 7.38)
// lacks. They mirror the kernel uapi include/uapi/linux/fuse.h of Linux 6.14+ (protocol 7.42:
// struct fuse_uring_ent_in_out, struct fuse_uring_req_header, enum fuse_uring_cmd, struct
// fuse_uring_cmd_req, FUSE_OVER_IO_URING) and must stay byte for byte equal to it; the sizes are
// checked below. How the kernel uses them: fs/fuse/dev_uring.c.
#pragma once

#include <cstddef>
#include <cstdint>

namespace maya::jiva::fuse {

// INIT flag (bit 41, i.e. bit 9 of flags2): the server takes requests over io_uring.
inline constexpr std::uint64_t kFuseOverIoUring = 1ULL << 41;

inline constexpr std::size_t kUringInOutHeaderSize = 128;  // FUSE_URING_IN_OUT_HEADER_SZ
inline constexpr std::size_t kUringOpInOutSize = 128;      // FUSE_URING_OP_IN_OUT_SZ

struct UringEntInOut {  // struct fuse_uring_ent_in_out
  std::uint64_t flags;
  std::uint64_t commit_id;  // the request's unique: what COMMIT_AND_FETCH names
  std::uint32_t payload_sz;
  std::uint32_t padding;
  std::uint64_t reserved;
};

struct UringReqHeader {                // struct fuse_uring_req_header: iov[0] of a REGISTER
  char in_out[kUringInOutHeaderSize];  // fuse_in_header on fetch, fuse_out_header on commit
  char op_in[kUringOpInOutSize];       // the opcode's argument struct (in_args[0])
  UringEntInOut ring_ent_in_out;
};

enum UringCmd : std::uint32_t {  // enum fuse_uring_cmd: the SQE's cmd_op
  kUringCmdRegister = 1,         // FUSE_IO_URING_CMD_REGISTER
  kUringCmdCommitAndFetch = 2,   // FUSE_IO_URING_CMD_COMMIT_AND_FETCH
};

struct UringCmdReq {  // struct fuse_uring_cmd_req: in the SQE128's command area
  std::uint64_t flags;
  std::uint64_t commit_id;
  std::uint16_t qid;
  std::uint8_t padding[6];
};

static_assert(sizeof(UringEntInOut) == 32);
static_assert(sizeof(UringReqHeader) == 288);
static_assert(sizeof(UringCmdReq) == 24);

}  // namespace maya::jiva::fuse
