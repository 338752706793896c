#include "lib/replica/iscsi_lun.h"

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <random>
#include <thread>
#include <utility>

#include "lib/common/errno_text.h"

namespace maya::replica {
namespace {

using Clock = std::chrono::steady_clock;

std::string duration_text(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
  return std::to_string(ms.count()) + " ms";
}

// A message from libiscsi, without the secret should it ever quote it.
std::string scrub(std::string text, const std::string& secret) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  if (secret.empty()) return text;
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at))
    text.replace(at, secret.size(), "***");
  return text;
}

struct Wait {
  bool done = false;
  int status = 0;
};

void on_done(iscsi_context*, int status, void*, void* data) {
  auto* wait = static_cast<Wait*>(data);
  wait->done = true;
  wait->status = status;
}

// Drives `context` until `wait` is done or the deadline passes; false with `why` otherwise.
bool drive(iscsi_context* context, const Wait& wait, Clock::time_point deadline, std::string& why,
           const std::string& timed_out, const std::string& secret) {
  while (!wait.done) {
    const auto now = Clock::now();
    if (now >= deadline) {
      why = timed_out;
      return false;
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
    // libiscsi's own timeouts are processed by iscsi_service(): wake at least once a second.
    const int ms = static_cast<int>(std::min<std::int64_t>(left.count(), 1000));
    const int fd = iscsi_get_fd(context);
    const int events = iscsi_which_events(context);
    if (fd < 0) {
      why = "not connected";
      return false;
    }
    if (events == 0) {  // libiscsi asks to wait (a reconnect is pending)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 100)));
      if (iscsi_service(context, 0) < 0) {
        why = scrub(iscsi_get_error(context), secret);
        return false;
      }
      continue;
    }
    pollfd p{fd, static_cast<short>(events), 0};
    const int n = ::poll(&p, 1, ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      why = "poll: " + errno_text();
      return false;
    }
    if (iscsi_service(context, n > 0 ? p.revents : 0) < 0) {
      why = scrub(iscsi_get_error(context), secret);
      if (why.empty()) why = "the connection failed";
      return false;
    }
  }
  return true;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  std::string out;
  for (char c : std::string(name)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    out += ok ? c : (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : '-');
  }
  return out;
}

}  // namespace

std::string IscsiUrl::portal() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string IscsiUrl::redacted() const {
  return "iscsi://" + portal() + "/" + iqn + "/" + std::to_string(lun);
}

Result<IscsiUrl> parse_iscsi_url(std::string_view id, std::string_view uri) {
  const std::string form = "iscsi://[USER[%SECRET]@]HOST[:PORT]/IQN/LUN";
  auto bad = [&](const std::string& why) {
    return fail("replica " + std::string(id) + ": an iscsi:// URI " + why + " (the form is " +
                form + ")");
  };
  constexpr std::string_view kScheme = "iscsi://";
  if (!uri.starts_with(kScheme)) return bad("must start with iscsi://");
  std::string_view rest = uri.substr(kScheme.size());
  IscsiUrl url;
  // An IQN has no '@', the credentials end at the last one (a secret may hold '@' or '/').
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto split = info.find('%');
    if (split == std::string_view::npos) split = info.find(':');
    if (split == std::string_view::npos) return bad("has a user but no secret");
    url.user = std::string(info.substr(0, split));
    url.secret = std::string(info.substr(split + 1));
    if (url.user.empty() || url.secret.empty()) return bad("has an empty user or secret");
  }
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return bad("has no /IQN/LUN after the host");
  std::string_view hostport = rest.substr(0, slash);
  std::string_view port;
  if (hostport.starts_with('[')) {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) return bad("has an IPv6 address without its ']'");
    url.host = std::string(hostport.substr(1, close - 1));
    const auto after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("has text after its IPv6 address");
      port = after.substr(1);
      if (port.empty()) return bad("has an empty port");
    }
  } else {
    const auto colon = hostport.find(':');
    url.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = hostport.substr(colon + 1);
      if (port.empty()) return bad("has an empty port");
    }
  }
  if (url.host.empty()) return bad("has no host");
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return bad("has a bad port");
    url.port = static_cast<std::uint16_t>(value);
  }
  const std::string_view path = rest.substr(slash + 1);
  const auto last = path.rfind('/');
  if (last == std::string_view::npos || last == 0) return bad("has no IQN or no LUN");
  url.iqn = std::string(path.substr(0, last));
  const std::string_view lun = path.substr(last + 1);
  int value = -1;
  auto [end, ec] = std::from_chars(lun.data(), lun.data() + lun.size(), value);
  if (lun.empty() || ec != std::errc{} || end != lun.data() + lun.size() || value < 0 ||
      value > 16383)
    return bad("has a bad LUN");
  url.lun = value;
  if (url.iqn.find('/') != std::string::npos) return bad("has a '/' in its IQN");
  return url;
}

ScsiFailure describe_scsi_failure(int status, int sense_key, int asc_ascq) {
  if (status == SCSI_STATUS_RESERVATION_CONFLICT)
    return {"fenced: RESERVATION CONFLICT (another host holds this LUN's reservation)", EACCES};
  if (status != SCSI_STATUS_CHECK_CONDITION) return {"SCSI status " + std::to_string(status), EIO};
  if (sense_key == SCSI_SENSE_DATA_PROTECTION && asc_ascq == 0x2707)
    return {"no space left on the replica's host (SPACE ALLOCATION FAILED WRITE PROTECT)", ENOSPC};
  char code[16];
  std::snprintf(code, sizeof code, "%02x/%02x/%02x", static_cast<unsigned>(sense_key) & 0xff,
                static_cast<unsigned>(asc_ascq >> 8) & 0xff,
                static_cast<unsigned>(asc_ascq) & 0xff);
  // INVALID COMMAND OPERATION CODE: the LUN does not do this command at all.
  const int err = sense_key == SCSI_SENSE_ILLEGAL_REQUEST && asc_ascq == 0x2000 ? ENOTSUP : EIO;
  const char* key = scsi_sense_key_str(sense_key);  // null for a value libiscsi does not know
  const char* ascq = scsi_sense_ascq_str(asc_ascq);
  return {std::string("CHECK CONDITION ") + (key ? key : "?") + ", " + (ascq ? ascq : "?") + " (" +
              code + ")",
          err};
}

void IscsiLun::TaskFree::operator()(scsi_task* task) const {
  scsi_free_scsi_task(task);
}

IscsiLun::IscsiLun(std::string name, IscsiUrl url, std::chrono::milliseconds io_timeout,
                   int sessions)
    : name_(std::move(name)),
      url_(std::move(url)),
      io_timeout_(io_timeout),
      initiator_("iqn.2026-11.io.maya:replica." + host_name()),
      idle_(static_cast<std::size_t>(std::max(1, sessions)), nullptr) {}

IscsiLun::~IscsiLun() {
  for (iscsi_context* context : idle_) {
    if (context == nullptr) continue;
    // A bounded logout would be politer; closing the connection ends the session as well.
    iscsi_destroy_context(context);
  }
}

Result<std::shared_ptr<IscsiLun>> IscsiLun::open(std::string_view id, IscsiUrl url,
                                                 std::chrono::milliseconds io_timeout, int sessions,
                                                 IscsiFence fence) {
  if (io_timeout.count() <= 0) io_timeout = std::chrono::milliseconds(5000);
  std::string name = "replica " + std::string(id) + " (" + url.redacted() + ")";
  std::shared_ptr<IscsiLun> lun(
      new IscsiLun(std::move(name), std::move(url), io_timeout, sessions));
  lun->fence_ = fence;
  // The first session (the capacity's) claims the LUN when asked; later ones only join.
  lun->claiming_ = fence.claim;
  auto capacity = lun->read_capacity();
  lun->claiming_ = false;
  MAYA_TRY(geometry, std::move(capacity));
  lun->geometry_ = *geometry;
  MAYA_TRY_VOID(lun->read_block_limits());
  return lun;
}

Result<void> IscsiLun::read_block_limits() {
  auto task = run("INQUIRY (Block Limits)", [&](iscsi_context* c, auto cb, void* d) {
    return iscsi_inquiry_task(c, url_.lun, 1, SCSI_INQUIRY_PAGECODE_BLOCK_LIMITS, 64, cb, d);
  });
  if (!task) {
    // A LUN without the page keeps our caps; a target that stopped answering fails the open.
    const auto& code = task.error().code;
    if (code == errno_code(ETIMEDOUT) || code == errno_code(ECONNRESET))
      return std::unexpected(task.error());
    return {};
  }
  auto* limits = static_cast<scsi_inquiry_block_limits*>(scsi_datain_unmarshall(task->get()));
  if (limits == nullptr) return {};
  const std::uint64_t bs = geometry_.block_size;
  if (limits->max_xfer_len != 0)
    geometry_.max_transfer_bytes =
        std::min(geometry_.max_transfer_bytes, std::uint64_t{limits->max_xfer_len} * bs);
  if (limits->max_unmap != 0 && limits->max_unmap != 0xffffffffu)
    geometry_.max_unmap_bytes =
        std::min(geometry_.max_unmap_bytes, std::uint64_t{limits->max_unmap} * bs);
  return {};
}

std::string IscsiLun::timed_out() const {
  return "timed out after " + duration_text(io_timeout_);
}

std::unexpected<Error> IscsiLun::error(const std::string& what, const std::string& why,
                                       int err) const {
  return fail(name_ + ": " + what + ": " + why, errno_code(err));
}

Result<iscsi_context*> IscsiLun::connect(Clock::time_point deadline, const std::string& what) {
  iscsi_context* context = iscsi_create_context(initiator_.c_str());
  if (context == nullptr) return error(what, "cannot create an iSCSI context", ENOMEM);
  std::random_device random;
  iscsi_set_isid_random(context, random(), 0);  // sessions of one initiator must differ
  iscsi_set_targetname(context, url_.iqn.c_str());
  iscsi_set_session_type(context, ISCSI_SESSION_NORMAL);
  iscsi_set_header_digest(context, ISCSI_HEADER_DIGEST_NONE);
  iscsi_set_noautoreconnect(context, 1);
  const auto seconds = (io_timeout_.count() + 999) / 1000;
  iscsi_set_timeout(context, static_cast<int>(seconds));
  iscsi_set_tcp_user_timeout(context, static_cast<int>(io_timeout_.count()));
  iscsi_set_tcp_syncnt(context, 2);
  iscsi_set_tcp_keepalive(context, static_cast<int>(seconds), 3, 1);
  if (!url_.user.empty() &&
      iscsi_set_initiator_username_pwd(context, url_.user.c_str(), url_.secret.c_str()) != 0) {
    iscsi_destroy_context(context);
    return error(what, "cannot set the CHAP credentials", EINVAL);
  }
  Wait wait;
  if (iscsi_full_connect_async(context, url_.portal().c_str(), url_.lun, on_done, &wait) != 0) {
    std::string why = scrub(iscsi_get_error(context), url_.secret);
    iscsi_destroy_context(context);
    return error(what, "cannot connect: " + why, ECONNREFUSED);
  }
  std::string why;
  if (!drive(context, wait, deadline, why, timed_out(), url_.secret) ||
      wait.status != SCSI_STATUS_GOOD) {
    if (why.empty()) why = scrub(iscsi_get_error(context), url_.secret);
    // libiscsi's own timer (iscsi_set_timeout) may fire a moment before our deadline.
    const bool timeout = why == timed_out() || why.find("timed out") != std::string::npos;
    iscsi_destroy_context(context);
    if (timeout) return error(what, timed_out() + " connecting and logging in", ETIMEDOUT);
    return error(what, "cannot connect or log in: " + why, ECONNREFUSED);
  }
  if (fence_.owner_key != 0) {
    if (auto fenced = fence(context, deadline); !fenced) {
      iscsi_destroy_context(context);
      return std::unexpected(fenced.error());
    }
  }
  return context;
}

Result<IscsiLun::Task> IscsiLun::run_on(iscsi_context* context, Clock::time_point deadline,
                                        const std::string& what, const Submit& submit) {
  Wait wait;
  Task task(submit(context, on_done, &wait));
  if (!task)
    return error(what, "cannot send the command: " + scrub(iscsi_get_error(context), url_.secret),
                 EIO);
  std::string why;
  if (!drive(context, wait, deadline, why, timed_out(), url_.secret) ||
      wait.status == SCSI_STATUS_CANCELLED || wait.status == SCSI_STATUS_ERROR ||
      wait.status == SCSI_STATUS_TIMEOUT) {
    if (!wait.done) iscsi_scsi_cancel_task(context, task.get());
    const bool timeout = why == timed_out() || wait.status == SCSI_STATUS_TIMEOUT;
    return error(what, timeout ? timed_out() : "the connection failed",
                 timeout ? ETIMEDOUT : ECONNRESET);
  }
  if (task->status == SCSI_STATUS_GOOD) return task;
  const auto failure = describe_scsi_failure(task->status, task->sense.key, task->sense.ascq);
  if (task->status == SCSI_STATUS_CHECK_CONDITION && task->sense.key == SCSI_SENSE_UNIT_ATTENTION)
    return error(what, failure.why, EAGAIN);
  return error(what, failure.why, failure.err);
}

Result<void> IscsiLun::release() {
  if (fence_.owner_key == 0) return {};
  scsi_persistent_reserve_out_basic params{};
  params.reservation_key = fence_.owner_key;
  MAYA_TRY(done, run("PERSISTENT RESERVE OUT (clear)", [&](iscsi_context* c, auto cb, void* d) {
             return iscsi_persistent_reserve_out_task(
                 c, url_.lun, SCSI_PERSISTENT_RESERVE_CLEAR, SCSI_PERSISTENT_RESERVE_SCOPE_LU,
                 SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE_REGISTRANTS_ONLY, &params, cb, d);
           }));
  return {};
}

Result<void> IscsiLun::fence(iscsi_context* context, Clock::time_point deadline) {
  const std::uint64_t mine = fence_.owner_key;
  // A UNIT ATTENTION (a capacity change, registrations preempted) reports an event: again.
  const auto run_on = [&](iscsi_context* c, Clock::time_point d, const std::string& what,
                          const Submit& submit) {
    for (int attempt = 0;; ++attempt) {
      auto task = this->run_on(c, d, what, submit);
      if (task || attempt == 3 || task.error().code != errno_code(EAGAIN)) return task;
    }
  };
  const auto out = [&](const char* what, scsi_persistent_out_sa action, std::uint64_t key,
                       std::uint64_t sa_key) -> Result<void> {
    scsi_persistent_reserve_out_basic params{};
    params.reservation_key = key;
    params.service_action_reservation_key = sa_key;
    MAYA_TRY(done, run_on(context, deadline, what, [&](iscsi_context* c, auto cb, void* d) {
               return iscsi_persistent_reserve_out_task(
                   c, url_.lun, action, SCSI_PERSISTENT_RESERVE_SCOPE_LU,
                   SCSI_PERSISTENT_RESERVE_TYPE_WRITE_EXCLUSIVE_REGISTRANTS_ONLY, &params, cb, d);
             }));
    return {};
  };
  MAYA_TRY_VOID(out("PERSISTENT RESERVE OUT (register)",
                    SCSI_PERSISTENT_RESERVE_REGISTER_AND_IGNORE_EXISTING_KEY, 0, mine));
  MAYA_TRY(task, run_on(context, deadline, "PERSISTENT RESERVE IN (read reservation)",
                        [&](iscsi_context* c, auto cb, void* d) {
                          return iscsi_persistent_reserve_in_task(
                              c, url_.lun, SCSI_PERSISTENT_RESERVE_READ_RESERVATION, 16384, cb, d);
                        }));
  auto* held = static_cast<scsi_persistent_reserve_in_read_reservation*>(
      scsi_datain_unmarshall(task->get()));
  if (held == nullptr) return error("PERSISTENT RESERVE IN", "the answer cannot be read", EIO);
  if (!held->reserved)
    return out("PERSISTENT RESERVE OUT (reserve)", SCSI_PERSISTENT_RESERVE_RESERVE, mine, 0);
  if (held->reservation_key == mine) return {};
  if (!claiming_) {
    return error("fencing",
                 "fenced: another volume owner (reservation key " +
                     std::to_string(held->reservation_key) +
                     ") has taken this replica over; this one no longer writes to it",
                 EACCES);
  }
  return out("PERSISTENT RESERVE OUT (preempt)", SCSI_PERSISTENT_RESERVE_PREEMPT, mine,
             held->reservation_key);
}

Result<iscsi_context*> IscsiLun::take(Clock::time_point deadline, const std::string& what) {
  iscsi_context* context = nullptr;
  {
    std::unique_lock lock(mutex_);
    if (!freed_.wait_until(lock, deadline, [&] { return !idle_.empty(); }))
      return error(what, timed_out() + " waiting for a free session", ETIMEDOUT);
    // Prefer a logged-in session; an empty slot (nullptr) connects.
    auto it = std::find_if(idle_.begin(), idle_.end(), [](auto* c) { return c != nullptr; });
    if (it == idle_.end()) it = idle_.begin();
    context = *it;
    idle_.erase(it);
  }
  if (context != nullptr) return context;
  auto connected = connect(deadline, what);
  if (!connected) give_back(nullptr);
  return connected;
}

void IscsiLun::give_back(iscsi_context* context) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(context);
  }
  freed_.notify_one();
}

void IscsiLun::drop_idle() {
  std::vector<iscsi_context*> dropped;
  {
    std::lock_guard lock(mutex_);
    for (auto& context : idle_) {
      if (context != nullptr) dropped.push_back(std::exchange(context, nullptr));
    }
  }
  for (iscsi_context* context : dropped) iscsi_destroy_context(context);
}

Result<IscsiLun::Task> IscsiLun::run(const std::string& what, const Submit& submit) {
  const auto deadline = Clock::now() + io_timeout_;
  // A UNIT ATTENTION reports an event (registrations preempted, capacity changed), not a
  // failure of the command: it is sent again, as initiators do, a few times at most.
  for (int attempt = 0;; ++attempt) {
    auto task = run_once(what, submit, deadline);
    if (task || attempt == 3 || task.error().code != errno_code(EAGAIN)) return task;
  }
}

Result<IscsiLun::Task> IscsiLun::run_once(const std::string& what, const Submit& submit,
                                          Clock::time_point deadline) {
  MAYA_TRY(context, take(deadline, what));
  Wait wait;
  Task task(submit(*context, on_done, &wait));
  if (!task) {
    std::string why = scrub(iscsi_get_error(*context), url_.secret);
    iscsi_destroy_context(*context);
    give_back(nullptr);
    return error(what, "cannot send the command: " + why, EIO);
  }
  std::string why;
  const bool done = drive(*context, wait, deadline, why, timed_out(), url_.secret);
  if (!done || wait.status == SCSI_STATUS_CANCELLED || wait.status == SCSI_STATUS_ERROR ||
      wait.status == SCSI_STATUS_TIMEOUT) {
    // The session is in doubt: cancel the task (its callback runs now, not after we return),
    // then drop the connection so that no late answer is ever read.
    if (!wait.done) iscsi_scsi_cancel_task(*context, task.get());
    const bool timeout = !done ? why == timed_out() : wait.status == SCSI_STATUS_TIMEOUT;
    if (timeout) {
      why = timed_out();
    } else if (done) {
      // libiscsi's last error may be older than this failure: say what we know.
      why = wait.status == SCSI_STATUS_CANCELLED
                ? "the connection to the target was lost"
                : "the connection failed: " + scrub(iscsi_get_error(*context), url_.secret);
    }
    iscsi_destroy_context(*context);
    give_back(nullptr);
    if (!timeout) drop_idle();
    return error(what, why, timeout ? ETIMEDOUT : ECONNRESET);
  }
  give_back(*context);
  if (task->status == SCSI_STATUS_GOOD) return task;
  const auto failure = describe_scsi_failure(task->status, task->sense.key, task->sense.ascq);
  if (task->status == SCSI_STATUS_CHECK_CONDITION && task->sense.key == SCSI_SENSE_UNIT_ATTENTION)
    return error(what, failure.why, EAGAIN);
  return error(what, failure.why, failure.err);
}

Result<LunGeometry> IscsiLun::read_capacity() {
  MAYA_TRY(task, run("READ CAPACITY (16)", [&](iscsi_context* c, auto cb, void* data) {
             return iscsi_readcapacity16_task(c, url_.lun, cb, data);
           }));
  auto* rc = static_cast<scsi_readcapacity16*>(scsi_datain_unmarshall(task->get()));
  if (rc == nullptr || rc->block_length == 0)
    return error("READ CAPACITY (16)", "cannot parse the answer", EIO);
  LunGeometry g;
  g.block_size = rc->block_length;
  g.capacity_bytes = (rc->returned_lba + 1) * rc->block_length;
  g.lbpme = rc->lbpme != 0;
  g.lbprz = rc->lbprz != 0;
  g.max_transfer_bytes = geometry_.max_transfer_bytes;
  g.max_unmap_bytes = geometry_.max_unmap_bytes;
  return g;
}

namespace {
std::string at_text(const Where& where, const char* fallback, std::uint64_t offset) {
  return std::string(where.what ? where.what : fallback) + " at " +
         std::to_string(offset - where.base);
}
}  // namespace

Result<void> IscsiLun::read(std::uint64_t offset, std::span<std::byte> out, Where where) {
  const std::uint32_t bs = geometry_.block_size;
  for (std::uint64_t done = 0; done < out.size();) {
    const auto n = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(out.size() - done, geometry_.max_transfer_bytes));
    const std::uint64_t at = offset + done;
    scsi_iovec iov{out.data() + done, n};
    MAYA_TRY(task, run(at_text(where, "read", at), [&](iscsi_context* c, auto cb, void* d) {
               return iscsi_read16_iov_task(c, url_.lun, at / bs, n, static_cast<int>(bs), 0, 0, 0,
                                            0, 0, cb, d, &iov, 1);
             }));
    done += n;
  }
  return {};
}

Result<void> IscsiLun::write(std::uint64_t offset, std::span<const std::byte> data, bool fua,
                             Where where) {
  const std::uint32_t bs = geometry_.block_size;
  for (std::uint64_t done = 0; done < data.size();) {
    const auto n = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(data.size() - done, geometry_.max_transfer_bytes));
    const std::uint64_t at = offset + done;
    // libiscsi only reads the buffer of a write.
    auto* bytes = reinterpret_cast<unsigned char*>(const_cast<std::byte*>(data.data() + done));
    scsi_iovec iov{bytes, n};
    MAYA_TRY(task, run(at_text(where, "write", at), [&](iscsi_context* c, auto cb, void* d) {
               return iscsi_write16_iov_task(c, url_.lun, at / bs, nullptr, n, static_cast<int>(bs),
                                             0, 0, fua ? 1 : 0, 0, 0, cb, d, &iov, 1);
             }));
    done += n;
  }
  return {};
}

Result<void> IscsiLun::synchronize_cache() {
  auto sync16 = run("SYNCHRONIZE CACHE (16)", [&](iscsi_context* c, auto cb, void* d) {
    return iscsi_synchronizecache16_task(c, url_.lun, 0, 0, 0, 0, cb, d);
  });
  if (sync16) return {};
  if (sync16.error().code != errno_code(ENOTSUP)) return std::unexpected(sync16.error());
  MAYA_TRY(sync10, run("SYNCHRONIZE CACHE (10)", [&](iscsi_context* c, auto cb, void* d) {
             return iscsi_synchronizecache10_task(c, url_.lun, 0, 0, 0, 0, cb, d);
           }));
  return {};
}

Result<void> IscsiLun::unmap(std::uint64_t offset, std::uint64_t length, Where where) {
  const std::uint32_t bs = geometry_.block_size;
  for (std::uint64_t done = 0; done < length;) {
    const std::uint64_t n = std::min(length - done, geometry_.max_unmap_bytes);
    unmap_list range{(offset + done) / bs, static_cast<std::uint32_t>(n / bs)};
    MAYA_TRY(task,
             run(at_text(where, "discard", offset + done), [&](iscsi_context* c, auto cb, void* d) {
               return iscsi_unmap_task(c, url_.lun, 0, 0, &range, 1, cb, d);
             }));
    done += n;
  }
  return {};
}

Result<LunExtent> IscsiLun::lba_status(std::uint64_t offset, Where where) {
  const std::uint32_t bs = geometry_.block_size;
  const std::uint64_t lba = offset / bs;
  const std::string what = at_text(where, "GET LBA STATUS", offset);
  MAYA_TRY(task, run(what, [&](iscsi_context* c, auto cb, void* d) {
             return iscsi_get_lba_status_task(c, url_.lun, lba, 24, cb, d);
           }));
  auto* status = static_cast<scsi_get_lba_status*>(scsi_datain_unmarshall(task->get()));
  if (status == nullptr || status->num_descriptors == 0)
    return error(what, "cannot parse the answer", EIO);
  const auto& first = status->descriptors[0];
  if (first.lba > lba || first.lba + first.num_blocks <= lba)
    return error(what, "the answer does not cover the LBA asked for", EIO);
  LunExtent e;
  e.offset = offset;
  e.length = (first.lba + first.num_blocks - lba) * bs;
  e.mapped = first.provisioning == SCSI_PROVISIONING_TYPE_MAPPED;
  return e;
}

}  // namespace maya::replica
