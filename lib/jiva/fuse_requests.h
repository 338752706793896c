// The FUSE opcode table of FuseFrontend: every request the volume's file system answers, with
// its handler, the least body it needs, and its name. Dispatch reads this one table, as the
// SCSI disk reads lib/scsi/command_table. Internal to lib/jiva (fuse_frontend.cpp, tests).
#pragma once

#include <linux/fuse.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lib/block/backend.h"
#include "lib/common/result.h"

namespace maya::jiva::fuse {

inline constexpr std::uint64_t kRootId = FUSE_ROOT_ID;  // 1
inline constexpr std::uint64_t kFileId = 2;
inline constexpr std::uint32_t kMaxWrite = 1u << 20;

// Where a request's answer goes: one whole message (fuse_out_header first, then the payload).
// /dev/fuse takes it with one writev (FdSink); a ring entry of FUSE over io_uring copies it into
// the entry's buffers (fuse_uring). The same opcode table serves both.
class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // The errno on failure, else 0.
  virtual int send(std::span<const iovec> parts) = 0;
};

// What INIT agreed on, shared by a connection's transports. Null in tests and fuzzing.
struct Session {
  bool offer_uring = false;                 // ask for FUSE_OVER_IO_URING when the kernel offers it
  std::atomic<bool> initialized{false};     // INIT was answered
  std::atomic<bool> uring{false};           // ... with FUSE_OVER_IO_URING
  std::atomic<bool> kernel_offered{false};  // INIT's flags2 carried FUSE_OVER_IO_URING
};

// One request and where its answer goes.
struct Request {
  ReplySink& sink;
  const fuse_in_header& header;
  std::span<std::uint8_t> body;        // the opcode's argument struct (at least its min_body)
  std::span<std::uint8_t> data;        // what follows that struct: WRITE's bytes, LOOKUP's name
  block::BlockBackend& backend;        // the volume
  std::vector<std::uint8_t>& scratch;  // the worker's buffer for READ and READDIR answers
  Session* session = nullptr;

  // The argument struct at the start of the body; the table checked that it is there.
  template <class T>
  const T& args() const {
    return *reinterpret_cast<const T*>(body.data());
  }
  // Writes the answer: the header, then `payload` unless `error` (an errno) is set.
  void reply(int error, std::span<const std::uint8_t> payload = {}) const;
};

// Answers one request; false when the connection ends with it (FUSE_DESTROY).
using Handler = bool (*)(const Request&);

struct OpcodeInfo {
  std::uint32_t opcode = 0;
  Handler handler = nullptr;
  std::size_t min_body = 0;  // a shorter body is answered with `short_error`, not handled
  int short_error = EINVAL;
  const char* name = "";
};

// Every opcode served, in opcode order.
std::span<const OpcodeInfo> opcode_table();
// The entry for `opcode`, or null (answered with ENOSYS).
const OpcodeInfo* find_opcode(std::uint32_t opcode);

// Writes one message to /dev/fuse (a reply or a notification) with one writev. The kernel takes
// each write as one whole message (a short write is an error, never half a message), so a
// notification written from any thread cannot interleave with a worker's reply: neither needs
// a lock. The errno on failure, else 0.
int write_message(int fd, std::span<const iovec> parts);

// FUSE_NOTIFY_INVAL_INODE for `node`, offset 0 and length 0: the kernel drops the attributes
// it caches for it (and any cached pages, to the end), so the next stat() asks again. An
// inode the kernel does not hold (ENOENT) has nothing cached: success.
Result<void> notify_inval_inode(int fd, std::uint64_t node);

// /dev/fuse (or a pipe, /dev/null in tests) as a ReplySink.
class FdSink final : public ReplySink {
 public:
  explicit FdSink(int fd) : fd_(fd) {}
  int send(std::span<const iovec> parts) override { return write_message(fd_, parts); }

 private:
  int fd_;
};

// Answers one request (the bytes a read of /dev/fuse gives), the reply sent to `sink`;
// false once the connection is gone.
bool dispatch(ReplySink& sink, std::span<std::uint8_t> request, block::BlockBackend& backend,
              std::vector<std::uint8_t>& scratch, Session* session = nullptr);
// The same for a request whose parts lie apart (a ring entry: header, argument struct, payload).
bool dispatch_parts(ReplySink& sink, const fuse_in_header& header, std::span<std::uint8_t> args,
                    std::span<std::uint8_t> data, block::BlockBackend& backend,
                    std::vector<std::uint8_t>& scratch, Session* session = nullptr);

}  // namespace maya::jiva::fuse
