// IscsiLun: one LUN of a remote target, reached through libiscsi (an internal header of
// lib/replica: the libiscsi types stay opaque here and <iscsi/iscsi.h> is included only by the
// .cpp files). Both halves of an iscsi:// child (IscsiBackend for the data, IscsiJournal for the
// journal area) share one IscsiLun.
//
// libiscsi contexts are not thread-safe, so the LUN keeps a small pool of logged-in sessions:
// a caller takes a free one for one command and gives it back, so that concurrent commands
// overlap on separate connections. Every command, including the connect and login that a
// session needs first, is bounded by `io_timeout`: we drive libiscsi's asynchronous API with our
// own poll() loop and deadline. A session whose command timed out or whose connection failed is
// destroyed (never reused: a late response could be taken for a later command's); the next
// caller that takes its slot connects afresh, bounded by its own deadline. libiscsi's automatic
// reconnect is off: it would retry forever in the background and replay commands.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "lib/common/result.h"

struct iscsi_context;
struct scsi_task;

namespace maya::replica {

// The parts of an iscsi:// URI: iscsi://[USER[%SECRET]@]HOST[:PORT]/IQN/LUN (USER:SECRET@ too).
struct IscsiUrl {
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 3260;
  std::string iqn;
  int lun = 0;
  std::string user;
  std::string secret;
  // "HOST:PORT" or "[HOST]:PORT", as libiscsi takes a portal.
  std::string portal() const;
  // The URI without its credentials: iscsi://HOST:PORT/IQN/LUN (for messages).
  std::string redacted() const;
};

// Parses `uri`; `id` names the replica in errors, which never repeat the secret.
Result<IscsiUrl> parse_iscsi_url(std::string_view id, std::string_view uri);

struct LunGeometry {
  std::uint64_t capacity_bytes = 0;
  std::uint32_t block_size = 512;
  bool lbpme = false;  // thin provisioned: UNMAP and GET LBA STATUS are meaningful
  bool lbprz = false;  // unmapped blocks read as zeros
  // The most one READ/WRITE and one UNMAP carry: our own caps, lowered to the LUN's Block
  // Limits (VPD B0h) where it states smaller ones.
  std::uint64_t max_transfer_bytes = 1ull << 20;
  std::uint64_t max_unmap_bytes = 256ull << 20;
};

// One range of the LUN from GET LBA STATUS, in bytes.
struct LunExtent {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool mapped = true;
};

// How a command that the target answered with a SCSI status other than GOOD fails: the words,
// and the errno that is the error's cause (ENOSPC for SPACE ALLOCATION FAILED WRITE PROTECT,
// so that the replicator's out-of-space policy applies; ENOTSUP for an opcode the LUN lacks;
// EACCES for RESERVATION CONFLICT: another host fenced us off).
//
// Fencing: with an owner key, every session registers it (PERSISTENT RESERVE OUT, REGISTER AND
// IGNORE EXISTING KEY) as it logs in, and the LUN is reserved WRITE EXCLUSIVE - REGISTRANTS
// ONLY under that key. A session that finds another key holding the reservation preempts it
// while the LUN is being claimed (open with claim: a new owner of the volume) and otherwise
// fails: this owner was fenced off, and never writes again.
struct ScsiFailure {
  std::string why;
  int err = 0;
};
ScsiFailure describe_scsi_failure(int status, int sense_key, int asc_ascq);

// What a read or write is for, in errors: "write at 4096", with the offset less `base` (the
// data half of the LUN starts at kRemoteJournalBytes; the volume's offsets are shown).
struct Where {
  const char* what = nullptr;  // null: "read" or "write"
  std::uint64_t base = 0;
};

// The fence of an IscsiLun (above).
struct IscsiFence {
  std::uint64_t owner_key = 0;  // 0: no fencing
  bool claim = false;           // at open, preempt another owner's reservation
};

class IscsiLun {
 public:
  static constexpr int kDefaultSessions = 4;
  // Connects one session (to check the target, the login and the LUN) and reads the capacity.
  static Result<std::shared_ptr<IscsiLun>> open(std::string_view id, IscsiUrl url,
                                                std::chrono::milliseconds io_timeout,
                                                int sessions = kDefaultSessions,
                                                IscsiFence fence = {});
  ~IscsiLun();
  IscsiLun(const IscsiLun&) = delete;
  IscsiLun& operator=(const IscsiLun&) = delete;

  // "replica r2 (iscsi://HOST:PORT/IQN/0)": the start of every error about this LUN.
  const std::string& name() const { return name_; }
  std::chrono::milliseconds io_timeout() const { return io_timeout_; }
  const LunGeometry& geometry() const { return geometry_; }

  // Offsets and lengths in bytes of the LUN, multiples of its block size.
  Result<void> read(std::uint64_t offset, std::span<std::byte> out, Where where = {});
  Result<void> write(std::uint64_t offset, std::span<const std::byte> data, bool fua,
                     Where where = {});
  Result<void> synchronize_cache();
  // UNMAP; an error whose code is ENOTSUP when the LUN does not support it.
  Result<void> unmap(std::uint64_t offset, std::uint64_t length, Where where = {});
  // GET LBA STATUS at `offset`; ENOTSUP when the LUN does not support it.
  Result<LunExtent> lba_status(std::uint64_t offset, Where where = {});
  // Gives the LUN up: PERSISTENT RESERVE OUT CLEAR under the owner key (every registration and
  // the reservation go), so that another volume may take the replica. Needs the fence's key.
  Result<void> release();
  // READ CAPACITY (16), again (after the LUN grew); the transfer caps stay as at open.
  Result<LunGeometry> read_capacity();

 private:
  // Starts one command on a logged-in context; the callback and its data are libiscsi's.
  using Submit =
      std::function<scsi_task*(iscsi_context*, void (*)(iscsi_context*, int, void*, void*), void*)>;
  struct TaskFree {
    void operator()(scsi_task* task) const;
  };
  using Task = std::unique_ptr<scsi_task, TaskFree>;

  IscsiLun(std::string name, IscsiUrl url, std::chrono::milliseconds io_timeout, int sessions);
  // Runs one command: takes a session (connecting one if needed), submits, waits, gives it back.
  // `what` ("write at 4096") goes into errors. A SCSI status other than GOOD is an error.
  Result<Task> run(const std::string& what, const Submit& submit);
  // One try; a UNIT ATTENTION is an error of code EAGAIN.
  Result<Task> run_once(const std::string& what, const Submit& submit,
                        std::chrono::steady_clock::time_point deadline);
  Result<iscsi_context*> take(std::chrono::steady_clock::time_point deadline,
                              const std::string& what);
  void give_back(iscsi_context* context);
  // After a session failed: the idle ones most likely share its fate (the target restarted),
  // they connect afresh when next taken instead of failing one command each.
  void drop_idle();
  // Lowers the transfer caps of geometry_ to the LUN's Block Limits, where it has that page.
  Result<void> read_block_limits();
  Result<iscsi_context*> connect(std::chrono::steady_clock::time_point deadline,
                                 const std::string& what);
  // Registers the owner key on a fresh session and checks (or takes) the reservation.
  Result<void> fence(iscsi_context* context, std::chrono::steady_clock::time_point deadline);
  // One command on a given session (logged in, not in the pool).
  Result<Task> run_on(iscsi_context* context, std::chrono::steady_clock::time_point deadline,
                      const std::string& what, const Submit& submit);
  std::unexpected<Error> error(const std::string& what, const std::string& why, int err) const;
  std::string timed_out() const;

  std::string name_;
  IscsiUrl url_;
  std::chrono::milliseconds io_timeout_;
  LunGeometry geometry_;
  std::string initiator_;
  IscsiFence fence_;
  std::atomic<bool> claiming_{false};  // during open() with fence_.claim

  std::mutex mutex_;
  std::condition_variable freed_;
  // Sessions not in use: a logged-in context, or nullptr for a slot to connect on first use.
  std::vector<iscsi_context*> idle_;
};

}  // namespace maya::replica
