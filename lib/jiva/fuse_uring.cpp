#include "lib/jiva/fuse_uring.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>

#include "lib/common/errno_text.h"
#include "lib/common/log.h"
#include "lib/jiva/fuse_ring_keeper.h"
#include "lib/jiva/fuse_uring_abi.h"

namespace maya::jiva {
namespace {

namespace fs = std::filesystem;
using fuse::UringCmdReq;
using fuse::UringReqHeader;

constexpr std::uint64_t kMagic = 0x4d41594146555247;  // "MAYAFURG"
constexpr std::uint32_t kVersion = 2;
constexpr std::size_t kPage = 4096;
constexpr std::size_t kPayload = fuse::kMaxWrite;  // >= the kernel's max_payload_sz
constexpr std::size_t kSlotStateSize = 1024;
constexpr unsigned kWorkersPerHost = 16;
constexpr unsigned kMaxWorkersPerQueue = 4;
constexpr std::uint64_t kWakeTag = ~0ULL;
constexpr int kFuseFile = 0;  // the fixed files registered with every ring
constexpr int kWakeFile = 1;
constexpr std::size_t kCmdOffset = offsetof(io_uring_sqe, addr3);
static_assert(kCmdOffset == 48);

// What a slot (one ring entry) holds, as this process last recorded it.
enum SlotPhase : std::uint32_t {
  kIdle = 0,     // registered or committed: nothing of ours pending
  kHeld = 1,     // took request `unique` (copied to `in`/`op`), not answered yet
  kReplied = 2,  // its answer is complete in `reply`; it may not have been committed
};

struct SlotState {
  std::uint32_t phase;
  std::uint32_t reply_len;
  std::uint64_t unique;
  // The entry's two buffers as its REGISTER names them: read by the keeper's SQ thread, so here
  // and not on this process's heap.
  iovec iov[2];
  // The SQ tail that publishes this slot's last commit, once it is written (commit_armed): a
  // successor tells from the kernel's tail whether the kernel has it.
  std::uint32_t commit_tail;
  std::uint32_t commit_armed;
  // 1 + the CQ index of the completion this slot last took: a successor skips that completion
  // if it is still in the CQ.
  std::uint32_t cq_taken;
  std::uint32_t reserved;
  fuse_in_header in;
  std::uint8_t op[fuse::kUringOpInOutSize];
  std::uint8_t reply[512];
};
static_assert(sizeof(SlotState) <= kSlotStateSize);

struct FileHeader {
  std::uint64_t magic;
  std::uint32_t version;
  std::uint32_t queues;
  std::uint64_t base;  // the address the buffers were registered at
  std::uint64_t size;
  std::uint32_t workers;
  std::uint32_t slots_per_worker;
  std::uint64_t payload;
};
static_assert(sizeof(FileHeader) <= KeeperRecord::kOffset);
static_assert(KeeperRecord::kOffset + sizeof(KeeperRecord) <= kPage);

unsigned possible_cpus() {
  // The kernel makes one queue per possible CPU (num_possible_cpus()): "0-1", "0,2-5".
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  std::getline(in, text);
  unsigned count = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    const std::string part = text.substr(at, end - at);
    const std::size_t dash = part.find('-');
    if (dash == std::string::npos) {
      ++count;
    } else {
      count += static_cast<unsigned>(std::stoul(part.substr(dash + 1)) -
                                     std::stoul(part.substr(0, dash)) + 1);
    }
    at = end + 1;
  }
  return std::max(count, 1u);
}

std::size_t round_up(std::size_t n, std::size_t to) {
  return (n + to - 1) / to * to;
}

}  // namespace

struct FuseUring::Layout {
  unsigned workers;
  unsigned per_worker;
  std::size_t slots() const { return std::size_t{workers} * per_worker; }
  std::size_t states_at() const { return kPage; }
  std::size_t entries_at() const { return kPage + round_up(slots() * kSlotStateSize, kPage); }
  std::size_t stride() const { return kPage + kPayload; }
  std::size_t size() const { return entries_at() + slots() * stride(); }
};

namespace {

// Copies an answer into a ring entry: the fuse_out_header into the header buffer, the rest into
// the payload. Small answers go to the slot's state first (kReplied), so that a successor can
// commit them again without running the request twice.
class RingSink final : public fuse::ReplySink {
 public:
  RingSink(SlotState& state, UringReqHeader& headers, std::uint8_t* payload)
      : state_(state), headers_(headers), payload_(payload) {}
  int send(std::span<const iovec> parts) override {
    if (parts.empty() || parts[0].iov_len != sizeof(fuse_out_header)) return EINVAL;
    std::size_t total = 0;
    for (const auto& p : parts.subspan(1)) total += p.iov_len;
    if (total > kPayload) return EINVAL;
    if (sizeof(fuse_out_header) + total <= sizeof state_.reply) {
      std::size_t at = 0;
      for (const auto& p : parts) {
        std::memcpy(state_.reply + at, p.iov_base, p.iov_len);
        at += p.iov_len;
      }
      state_.reply_len = static_cast<std::uint32_t>(at);
      std::atomic_ref(state_.phase).store(kReplied, std::memory_order_release);
      copy_reply(state_, headers_, payload_);
    } else {  // READ, READDIR: no input data to lose; a successor runs them again
      std::size_t at = 0;
      for (const auto& p : parts.subspan(1)) {
        std::memcpy(payload_ + at, p.iov_base, p.iov_len);
        at += p.iov_len;
      }
      headers_.ring_ent_in_out.payload_sz = static_cast<std::uint32_t>(total);
      std::atomic_thread_fence(std::memory_order_release);
      std::memcpy(headers_.in_out, parts[0].iov_base, sizeof(fuse_out_header));
    }
    sent = true;
    return 0;
  }
  static void copy_reply(const SlotState& state, UringReqHeader& headers, std::uint8_t* payload) {
    const std::size_t body = state.reply_len - sizeof(fuse_out_header);
    std::memcpy(payload, state.reply + sizeof(fuse_out_header), body);
    headers.ring_ent_in_out.payload_sz = static_cast<std::uint32_t>(body);
    std::atomic_thread_fence(std::memory_order_release);
    std::memcpy(headers.in_out, state.reply, sizeof(fuse_out_header));
  }
  bool sent = false;

 private:
  SlotState& state_;
  UringReqHeader& headers_;
  std::uint8_t* payload_;
};

std::uint64_t buffer_unique(const UringReqHeader& h) {
  // fuse_in_header and fuse_out_header both carry `unique` at offset 8.
  std::uint64_t u = 0;
  std::memcpy(&u, h.in_out + 8, sizeof u);
  return u;
}

}  // namespace

fs::path FuseUring::ring_file(const fs::path& mountpoint) {
  const fs::path beside = mountpoint.string() + ".ring";
  struct statfs st {};
  if (::statfs(mountpoint.parent_path().c_str(), &st) == 0 && st.f_type == TMPFS_MAGIC)
    return beside;
  // Not on tmpfs (a test's run directory): page-cache writeback of a 1 MiB buffer per request
  // would cost a disk write each. /dev/shm, named after the mountpoint.
  return fs::path("/dev/shm") /
         ("maya-fuse-" + std::to_string(std::hash<std::string>{}(mountpoint.string())) + ".ring");
}

FuseUring::FuseUring(int fuse_fd, fs::path file, block::BlockBackend& backend,
                     fuse::Session& session)
    : fuse_fd_(fuse_fd), file_(std::move(file)), backend_(backend), session_(session) {}

FuseUring::~FuseUring() {
  stop();
  if (base_ != nullptr) ::munmap(base_, size_);
}

Result<void> FuseUring::map(bool existing) {
  Layout layout{};
  std::uint64_t want = 0;
  if (existing) {
    file_fd_ = Fd(::open(file_.c_str(), O_RDWR | O_CLOEXEC));
    if (!file_fd_.valid()) return fail_errno("cannot open " + file_.string());
    FileHeader h{};
    if (::pread(file_fd_.get(), &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h) ||
        h.magic != kMagic || h.version != kVersion || h.payload != kPayload)
      return fail(file_.string() + " is not a ring file of this version");
    layout = Layout{h.workers, h.slots_per_worker};
    if (layout.size() != h.size) return fail(file_.string() + " has an unexpected size");
    queues_ = h.queues;
    want = h.base;
  } else {
    queues_ = possible_cpus();
    // A request goes to its sender's CPU's queue, served only by that queue's workers: several
    // per queue on small hosts (one fio job from one CPU would otherwise get one or two).
    const unsigned per_queue = std::clamp(kWorkersPerHost / queues_, 1u, kMaxWorkersPerQueue);
    const unsigned workers = per_queue * queues_;
    layout = Layout{workers, queues_ > 16 ? 1u : 2u};
    // A new inode: nothing that mapped an earlier file of this name (a keeper) sees this one.
    std::error_code gone;
    fs::remove(file_, gone);
    file_fd_ = Fd(::open(file_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!file_fd_.valid()) return fail_errno("cannot create " + file_.string());
    // Allocated now: a full tmpfs fails here (and the connection serves through /dev/fuse)
    // rather than with SIGBUS when a worker first touches a payload.
    if (const int rc = ::posix_fallocate(file_fd_.get(), 0, static_cast<off_t>(layout.size()));
        rc != 0) {
      std::error_code ignored;
      fs::remove(file_, ignored);
      return fail_errno(
          "cannot allocate " + std::to_string(layout.size()) + " bytes for " + file_.string(), rc);
    }
  }
  size_ = layout.size();
  workers_count_ = layout.workers;
  existing_ = existing;
  const int flags = MAP_SHARED | (existing ? MAP_FIXED_NOREPLACE : 0);
  void* at = ::mmap(reinterpret_cast<void*>(want), size_, PROT_READ | PROT_WRITE, flags,
                    file_fd_.get(), 0);
  if (at == MAP_FAILED) return fail_errno("cannot map " + file_.string());
  base_ = at;
  if (existing && at != reinterpret_cast<void*>(want))
    return fail(file_.string() + " cannot be mapped at its previous address");
  auto* h = static_cast<FileHeader*>(base_);
  if (!existing)
    *h = FileHeader{
        kMagic, kVersion,       queues_,           reinterpret_cast<std::uint64_t>(base_),
        size_,  layout.workers, layout.per_worker, kPayload};
  wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) return fail_errno("eventfd");
  return existing ? open_rings() : Result<void>{};
}

Result<void> FuseUring::open_rings() {
  const auto* header = static_cast<const FileHeader*>(base_);
  const Layout layout{header->workers, header->slots_per_worker};
  // The rings: those of the keeper a previous target started, when it still runs (every entry
  // it registered is still there), else a new keeper's.
  auto* record =
      reinterpret_cast<KeeperRecord*>(static_cast<std::uint8_t*>(base_) + KeeperRecord::kOffset);
  Result<KeptRings> kept = fail("no ring keeper");
  if (existing_) {
    kept = attach_ring_keeper(*record);
    if (kept) {
      live_ring_ = true;
    } else {
      log::info("fuse: " + kept.error().message + "; a new one takes over the ring");
      abandon_ring_keeper(file_);  // one that runs but could not be taken over
    }
  }
  if (!live_ring_) {
    record->base = reinterpret_cast<std::uint64_t>(base_);
    record->size = size_;
    record->rings = workers_count_;
    record->depth = 2 * layout.per_worker + 2;
    kept = start_ring_keeper(file_, fuse_fd_, *record);
    if (!kept) return std::unexpected(kept.error());
  }
  kept_ = std::move(*kept);
  if (auto opened = map_rings(*record); !opened) {
    end_ring_keeper(kept_);  // one this process started
    return opened;
  }
  if (live_ring_)
    log::info("fuse: taking over the io_urings the ring keeper (pid " + std::to_string(kept_.pid) +
              ") kept through the previous target's end");
  return {};
}

Result<void> FuseUring::map_rings(const KeeperRecord& record) {
  const int files[2] = {fuse_fd_, wake_.get()};  // fixed files 0 and 1 of every ring
  for (auto& fd : kept_.fds) {
    auto ring = std::make_unique<io_uring>();
    io_uring_params params = record.params;
    if (const int r = io_uring_queue_mmap(fd.get(), &params, ring.get()); r < 0)
      return fail_errno("cannot map the keeper's io_uring", -r);
    ring->features = params.features;  // timed waits without a timeout SQE (EXT_ARG)
    fd.release();                      // the ring's now (io_uring_queue_exit closes it)
    rings_.push_back(std::move(ring));
    io_uring_sq& sq = rings_.back()->sq;
    // A ring someone else filled before: go on from the kernel's tail. The SQ array maps slot i
    // to SQE i, as io_uring_queue_init would have set it.
    sq.sqe_head = sq.sqe_tail = std::atomic_ref(*sq.ktail).load(std::memory_order_acquire);
    for (unsigned i = 0; i < sq.ring_entries; ++i) sq.array[i] = i;
    const int r = live_ring_ ? io_uring_register_files_update(rings_.back().get(), 0, files, 2)
                             : io_uring_register_files(rings_.back().get(), files, 2);
    if (r < 0) return fail_errno("cannot register /dev/fuse with the io_uring", -r);
  }
  kept_.fds.clear();
  return {};
}

Result<std::unique_ptr<FuseUring>> FuseUring::create(int fuse_fd, const fs::path& mountpoint,
                                                     block::BlockBackend& backend,
                                                     fuse::Session& session) {
  std::unique_ptr<FuseUring> u(new FuseUring(fuse_fd, ring_file(mountpoint), backend, session));
  if (auto mapped = u->map(false); !mapped) {
    u->remove_file();
    return std::unexpected(mapped.error());
  }
  return u;
}

Result<std::unique_ptr<FuseUring>> FuseUring::adopt(int fuse_fd, const fs::path& mountpoint,
                                                    block::BlockBackend& backend,
                                                    fuse::Session& session) {
  std::unique_ptr<FuseUring> u(new FuseUring(fuse_fd, ring_file(mountpoint), backend, session));
  if (auto mapped = u->map(true); mapped) {
    u->adopting_ = true;
    return u;
  } else {
    log::warn("fuse: " + mapped.error().message +
              ": requests the previous target held in its ring entries stay unanswered");
  }
  // Its keeper's entries point at the buffers about to be replaced.
  abandon_ring_keeper(ring_file(mountpoint));
  // New buffers elsewhere: the ring goes on with new entries.
  std::unique_ptr<FuseUring> fresh(new FuseUring(fuse_fd, ring_file(mountpoint), backend, session));
  u.reset();
  MAYA_TRY_VOID(fresh->map(false));
  MAYA_TRY_VOID(fresh->open_rings());  // the connection is live: a new keeper now
  return fresh;
}

void FuseUring::start() {
  for (unsigned w = 0; w < workers_count_; ++w) workers_.emplace_back([this, w] { serve(w); });
}

void FuseUring::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_.valid()) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  }
  for (auto& t : workers_) t.join();
  workers_.clear();
  for (auto& ring : rings_) io_uring_queue_exit(ring.get());
  rings_.clear();
  live_ = 0;
}

void FuseUring::ring_lost(const std::string& why) {
  if (stopping_ || lost_.exchange(true)) return;
  pollfd connection{fuse_fd_, 0, 0};
  if (::poll(&connection, 1, 0) == 1 && (connection.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0)
    return;  // unmounted: the keeper left with the connection
  // Requests would wait on the ring forever. A successor starts a new keeper and answers what
  // the entries held (as after a crash of this process).
  log::error("fuse: the io_urings are gone while the connection lives (" + why +
             "); this target ends so that the next one takes the connection over");
  ::kill(::getpid(), SIGKILL);
}

void FuseUring::remove_file() {
  if (ended_.exchange(true)) return;
  end_ring_keeper(kept_);
  std::error_code ec;
  fs::remove(file_, ec);
}

void FuseUring::serve(unsigned worker) {
  io_uring* ring = rings_[worker].get();
  const auto* header = static_cast<const FileHeader*>(base_);
  const Layout layout{header->workers, header->slots_per_worker};
  const auto qid = static_cast<std::uint16_t>(worker % queues_);
  auto* base = static_cast<std::uint8_t*>(base_);
  auto state_of = [&](std::size_t s) -> SlotState& {
    return *reinterpret_cast<SlotState*>(base + layout.states_at() + s * kSlotStateSize);
  };
  auto headers_of = [&](std::size_t s) -> UringReqHeader& {
    return *reinterpret_cast<UringReqHeader*>(base + layout.entries_at() + s * layout.stride());
  };
  auto payload_of = [&](std::size_t s) {
    return base + layout.entries_at() + s * layout.stride() + kPage;
  };
  std::vector<std::uint8_t> scratch;

  // Waits for INIT (a new connection): the kernel takes no REGISTER before it.
  while (!stopping_ && !session_.initialized)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (stopping_) return;
  if (!session_.uring) {
    if (worker == 0 && !said_.exchange(true)) {
      log::info(std::string("fuse: ") +
                (session_.kernel_offered ? "INIT did not agree on io_uring"
                                         : "the kernel does not offer FUSE over io_uring "
                                           "(/sys/module/fuse/parameters/enable_uring is N, or "
                                           "Linux before 6.14)") +
                "; serving through /dev/fuse");
      remove_file();
    }
    return;
  }

  auto submit_cmd = [&](std::size_t slot, std::uint32_t op, std::uint64_t commit_id) {
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    SlotState& st = state_of(slot);
    st.iov[0] = {&headers_of(slot), sizeof(UringReqHeader)};
    st.iov[1] = {payload_of(slot), kPayload};
    const bool reg = op == fuse::kUringCmdRegister;
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, kFuseFile, reg ? st.iov : nullptr, reg ? 2 : 0, 0);
    sqe->flags |= IOSQE_FIXED_FILE;  // the keeper's SQ thread has no descriptors of ours
    sqe->cmd_op = op;
    UringCmdReq req{};
    req.commit_id = commit_id;
    req.qid = qid;
    // The command area: from addr3 on, 80 bytes with SQE128 (sqe->cmd is declared empty).
    std::memcpy(reinterpret_cast<std::uint8_t*>(sqe) + kCmdOffset, &req, sizeof req);
    io_uring_sqe_set_data64(sqe, slot);
    st.commit_tail = ring->sq.sqe_tail;  // published once the kernel's SQ tail reaches it
    std::atomic_ref(st.commit_armed).store(1, std::memory_order_release);
  };
  // A new registration: nothing of an earlier request may look pending to a successor.
  // Armed first, with the tail the REGISTER will have: a successor registers the slot again
  // until the kernel's tail shows it published.
  auto register_fresh = [&](std::size_t slot) {
    SlotState& st = state_of(slot);
    st.commit_tail = ring->sq.sqe_tail + 1;
    std::atomic_ref(st.commit_armed).store(1, std::memory_order_release);
    std::atomic_ref(st.phase).store(kIdle, std::memory_order_release);
    st.unique = 0;
    st.cq_taken = 0;
    std::memset(&headers_of(slot), 0, sizeof(UringReqHeader));
    submit_cmd(slot, fuse::kUringCmdRegister, 0);
  };
  // A request arrived in `slot` (its completion at CQ index `cq_index`, if any): copy its parts
  // aside.
  auto take = [&](std::size_t slot, std::optional<unsigned> cq_index) {
    SlotState& st = state_of(slot);
    const UringReqHeader& h = headers_of(slot);
    std::memcpy(&st.in, h.in_out, sizeof st.in);
    std::memcpy(st.op, h.op_in, sizeof st.op);
    st.unique = st.in.unique;
    std::atomic_ref(st.commit_armed).store(0, std::memory_order_relaxed);
    if (cq_index) st.cq_taken = *cq_index + 1;
    std::atomic_ref(st.phase).store(kHeld, std::memory_order_release);
  };
  auto answer = [&](std::size_t slot) {  // runs a held request and commits its answer
    SlotState& st = state_of(slot);
    UringReqHeader& h = headers_of(slot);
    RingSink sink(st, h, payload_of(slot));
    const std::uint32_t length = h.ring_ent_in_out.payload_sz;
    fuse::dispatch_parts(sink, st.in, std::span(st.op),
                         std::span(payload_of(slot), std::min<std::size_t>(length, kPayload)),
                         backend_, scratch, &session_);
    if (!sink.sent) {  // no answer (FORGET-like): an error, so that the entry comes back
      fuse_out_header out{sizeof out, -EIO, st.unique};
      const iovec part{&out, sizeof out};
      sink.send(std::span(&part, 1));
    }
    requests_.fetch_add(1, std::memory_order_relaxed);
    submit_cmd(slot, fuse::kUringCmdCommitAndFetch, st.unique);
  };

  // Arm the stop signal, then register or adopt this worker's slots.
  io_uring_sqe* wake_sqe = io_uring_get_sqe(ring);
  io_uring_prep_poll_add(wake_sqe, kWakeFile, POLLIN);
  wake_sqe->flags |= IOSQE_FIXED_FILE;
  io_uring_sqe_set_data64(wake_sqe, kWakeTag);
  std::vector<bool> committing(layout.slots(), false);
  // The keeper's SQ tail and CQ tail as the previous target left them (a living ring).
  const unsigned published = std::atomic_ref(*ring->sq.ktail).load(std::memory_order_acquire);
  const unsigned cq_at_takeover =
      live_ring_ ? std::atomic_ref(*ring->cq.ktail).load(std::memory_order_acquire) : 0;
  for (unsigned i = 0; i < layout.per_worker; ++i) {
    const std::size_t slot = worker * layout.per_worker + i;
    SlotState& st = state_of(slot);
    const std::uint64_t in_buffer = buffer_unique(headers_of(slot));
    const std::uint32_t phase = std::atomic_ref(st.phase).load(std::memory_order_acquire);
    if (!live_ring_) {  // new rings: nothing of the old ones' indexes applies
      st.cq_taken = 0;
      std::atomic_ref(st.commit_armed).store(0, std::memory_order_relaxed);
    }
    if (live_ring_) {
      // The entry lives on in the kernel. What the previous target took comes back as it left
      // it; a request delivered since waits in the CQ (the buffer is the kernel's until then).
      const bool cmd_published = std::atomic_ref(st.commit_armed).load() != 0 &&
                                 static_cast<std::int32_t>(published - st.commit_tail) >= 0;
      if (phase == kIdle) {
        // Not taken: a completion of this slot still in the CQ is new (the previous target may
        // have died inside take()), and a REGISTER it never published is made again.
        st.cq_taken = 0;
        if (std::atomic_ref(st.commit_armed).load() != 0 && !cmd_published) {
          register_fresh(slot);
        }
        continue;
      }
      if (cmd_published) {  // the kernel has the answer
        std::atomic_ref(st.phase).store(kIdle, std::memory_order_release);
        continue;
      }
      if (phase == kReplied) {
        RingSink::copy_reply(st, headers_of(slot), payload_of(slot));
        submit_cmd(slot, fuse::kUringCmdCommitAndFetch, st.unique);
      } else {
        answer(slot);
      }
      committing[slot] = true;
      adopted_.fetch_add(1);
    } else if (adopting_ && in_buffer != 0 && in_buffer != st.unique) {
      take(slot, std::nullopt);  // delivered to the previous process, never looked at
      answer(slot);
      committing[slot] = true;
      adopted_.fetch_add(1);
    } else if (adopting_ && phase == kHeld) {
      answer(slot);  // taken, not answered: run it again (its parts were copied aside)
      committing[slot] = true;
      adopted_.fetch_add(1);
    } else if (adopting_ && phase == kReplied) {
      RingSink::copy_reply(st, headers_of(slot), payload_of(slot));
      submit_cmd(slot, fuse::kUringCmdCommitAndFetch, st.unique);
      committing[slot] = true;
      adopted_.fetch_add(1);
    } else {
      register_fresh(slot);
    }
  }
  if (adopting_ && adopted_.load() > 0 && worker == 0)
    log::info("fuse: taking over the requests the previous target held in its ring entries (" +
              std::to_string(adopted_.load()) + " so far)");
  bool said_error = false;
  bool first = true;
  std::string why = "every entry of the ring failed";  // when this worker leaves unasked
  while (!stopping_) {
    // liburing returns -errno (errno is not set). EAGAIN and EBUSY (completions not yet reaped):
    // the entries stay queued for the next submit, after the wait below reaps.
    const int submitted = io_uring_submit(ring);
    if (submitted == -EINTR) continue;
    if (submitted < 0 && submitted != -EAGAIN && submitted != -EBUSY) {
      why = std::string("io_uring_submit: ") + errno_text(-submitted);
      if (!first) live_.fetch_sub(static_cast<int>(layout.per_worker));
      break;
    }
    if (first && submitted >= 0) {  // the kernel took the registrations (a refusal: a CQE)
      live_.fetch_add(static_cast<int>(layout.per_worker));
      first = false;
    }
    for (std::size_t slot = worker * layout.per_worker;
         submitted >= 0 && slot < (worker + 1) * layout.per_worker; ++slot)
      if (std::atomic_ref(state_of(slot).phase).load() == kReplied || committing[slot]) {
        // Submitted: the kernel has the answer (or refused it, said in a CQE).
        std::atomic_ref(state_of(slot).phase).store(kIdle, std::memory_order_release);
      }
    io_uring_cqe* cqe = nullptr;
    // Bounded: when the keeper goes, a waiter is not always told at once (the next wait fails
    // with EOWNERDEAD), and stop() must not wait on it.
    __kernel_timespec bound{0, 200'000'000};
    const int waited = io_uring_wait_cqe_timeout(ring, &cqe, &bound);
    if (waited == -EINTR || waited == -ETIME) continue;
    if (waited < 0) {
      why = waited == -EOWNERDEAD ? "the ring keeper is gone"
                                  : std::string("waiting on the ring: ") + errno_text(-waited);
      break;
    }
    bool leave = false;
    unsigned seen = 0;
    unsigned head;
    io_uring_for_each_cqe(ring, head, cqe) {
      ++seen;
      const std::uint64_t tag = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      if (tag == kWakeTag) {
        // Our stop, or the keeper left (a previous target's poll never fires).
        leave = true;
        why = "the ring keeper is gone";
        continue;
      }
      const std::size_t slot = tag;
      if (slot >= layout.slots()) continue;
      if (static_cast<std::int32_t>(cq_at_takeover - head) > 0 &&
          state_of(slot).cq_taken == head + 1)
        continue;  // the previous target took it and died before it moved the CQ head
      const bool was_commit = committing[slot];
      committing[slot] = false;
      if (res == 0) {
        take(slot, head);
        answer(slot);
        committing[slot] = true;
      } else if (res == -ENOENT && was_commit) {
        // The request was gone (answered before, or interrupted): the entry is ours again
        // only through a new registration.
        register_fresh(slot);
      } else {
        live_.fetch_sub(1);
        if (res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED) {
          leave = live_.load() <= 0 || stopping_;
        } else if (!said_error) {
          said_error = true;
          log::warn(std::string("fuse: a ring entry failed: ") + errno_text(-res) +
                    (was_commit ? " (commit)" : " (register)"));
        }
      }
    }
    io_uring_cq_advance(ring, seen);
    if (leave) break;
  }
  if (!stopping_) ring_lost(why);
}

}  // namespace maya::jiva
