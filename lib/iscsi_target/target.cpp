#include "lib/iscsi_target/target.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lib/common/errno_text.h"
#include "lib/common/log.h"
#include "lib/iscsi/discovery.h"
#include "lib/iscsi/login.h"
#include "lib/iscsi_target/connection_slot.h"
#include "lib/iscsi_target/login_loop.h"
#include "lib/iscsi_target/sender.h"

namespace maya::iscsi_target {
namespace {

// Room for a burst of connections while the login loop is busy.
constexpr int kListenBacklog = 1024;

}  // namespace

Result<std::size_t> raise_descriptor_limit() {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) != 0) {
    return fail(std::string("getrlimit(RLIMIT_NOFILE): ") + errno_text(errno));
  }
  if (nofile.rlim_cur != nofile.rlim_max) {
    const rlim_t was = nofile.rlim_cur;
    nofile.rlim_cur = nofile.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &nofile) != 0) {
      return fail_errno("cannot raise the descriptor limit from " + std::to_string(was) + " to " +
                        std::to_string(nofile.rlim_max));
    }
  }
  return nofile.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<std::size_t>(nofile.rlim_cur);
}

Target::Target(TargetOptions options, Fd listener, Endpoint endpoint)
    : options_(std::move(options)),
      listener_(std::move(listener)),
      endpoint_(std::move(endpoint)),
      admission_(options_.limits, options_.discovery_limits) {
  context_.login.target_name = options_.iqn;
  context_.login.target_alias = options_.alias;
  context_.login.tpgt = options_.tpgt;
  context_.login.chap = options_.chap;
  context_.login.discovery_auth = options_.discovery_auth;
  context_.registry = &registry_;
  context_.admit_normal = options_.admit_normal;
}

Result<std::unique_ptr<Target>> Target::make(TargetOptions options, Fd listener,
                                             Endpoint endpoint) {
  std::unique_ptr<Target> t(new Target(std::move(options), std::move(listener), endpoint));
  MAYA_TRY(loop, LoginLoop::create(*t));
  t->loop_ = std::move(*loop);
  return t;
}

Result<std::unique_ptr<Target>> Target::create_with_disk(const TargetOptions& options,
                                                         scsi::ScsiDisk& disk) {
  if (options.iqn.empty()) return fail("the target needs an IQN");
  if (!options.chap.user.empty() && options.chap.secret.empty()) {
    return fail("a CHAP user needs a CHAP secret");
  }
  if (!options.chap.mutual_user.empty() && options.chap.user.empty()) {
    return fail("mutual CHAP needs one-way CHAP credentials as well");
  }
  MAYA_TRY(endpoint, parse_endpoint(options.listen));
  MAYA_TRY(listener, listen_tcp(*endpoint, kListenBacklog));
  MAYA_TRY(bound, local_endpoint(listener->get()));
  bound->host = endpoint->host;  // keep "0.0.0.0" / "::" as given
  MAYA_TRY(t, make(options, std::move(*listener), *bound));
  (*t)->context_.disk = &disk;
  return std::move(*t);
}

Result<std::unique_ptr<Target>> Target::create_discovery(const TargetOptions& options,
                                                         iscsi::TargetDirectory directory) {
  MAYA_TRY(endpoint, parse_endpoint(options.listen));
  Result<Fd> listener = options.listen_fd >= 0 ? Result<Fd>(Fd(options.listen_fd))
                                               : listen_tcp(*endpoint, kListenBacklog);
  if (!listener) return std::unexpected(listener.error());
  MAYA_TRY(bound, local_endpoint(listener->get()));
  bound->host = endpoint->host;
  TargetOptions discovery = options;
  discovery.iqn.clear();
  discovery.discovery_limits = options.limits;  // nothing else to keep room for
  discovery.listen_fd = -1;
  MAYA_TRY(t, make(std::move(discovery), std::move(*listener), *bound));
  (*t)->context_.directory = std::move(directory);
  return std::move(*t);
}

void Target::capacity_changed() {
  if (context_.disk != nullptr) context_.disk->capacity_changed();
}

Target::~Target() {
  stop();
}

void Target::start() {
  runner_ = std::thread([this] { run(); });
}

void Target::run() {
  loop_->run();
}

void Target::stop() {
  if (stopping_.exchange(true)) {
    if (runner_.joinable() && runner_.get_id() != std::this_thread::get_id()) runner_.join();
    return;
  }
  if (runner_.joinable()) runner_.join();
  {
    std::lock_guard lock(mutex_);
    for (Slot& s : slots_) {
      if (s.fd >= 0) ::shutdown(s.fd, SHUT_RDWR);
    }
  }
  reap(true);
  // Refuse new connections; the descriptor itself closes with the Target, so a run() still
  // polling it on another thread never sees a reused number.
  if (listener_.valid()) ::shutdown(listener_.get(), SHUT_RDWR);
}

void Target::reap(bool all) {
  std::list<Slot> finished;
  {
    std::lock_guard lock(mutex_);
    for (auto it = slots_.begin(); it != slots_.end();) {
      auto next = std::next(it);
      if (all || it->done) finished.splice(finished.end(), slots_, it);
      it = next;
    }
  }
  for (Slot& s : finished) {
    if (s.thread.joinable()) s.thread.join();
  }
}

std::size_t Target::connection_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.done.load(); }));
}

Target::Slot* Target::open_slot(int fd, std::string host) {
  std::lock_guard lock(mutex_);
  Slot& slot = slots_.emplace_back();
  slot.fd = fd;
  slot.host = std::move(host);
  return &slot;
}

void Target::close_slot(Slot* slot) {
  {
    std::lock_guard lock(mutex_);
    if (slot->fd >= 0) ::close(slot->fd);
    slot->fd = -1;
  }
  slot->done = true;
}

void Target::stop_connection(Slot* slot) {
  std::lock_guard lock(mutex_);
  if (slot->fd >= 0) ::shutdown(slot->fd, SHUT_RDWR);
}

std::uint16_t Target::admit(Slot* slot, bool discovery, std::unique_ptr<Sender>& sender) {
  std::string why;
  const ConnectionLimits& limits = admission_.limits(discovery);
  const std::string kind = discovery ? " discovery sessions" : " connections";
  switch (admission_.acquire(slot->host, discovery)) {
    case Admission::Verdict::kAdmitted:
      break;
    case Admission::Verdict::kPortalFull:
      why = std::to_string(limits.max_connections) + kind + " are logged in" +
            (discovery ? "" : " ([iscsi] max_connections)");
      break;
    case Admission::Verdict::kAddressFull:
      why = std::to_string(limits.max_connections_per_address) + kind + " from " + slot->host +
            " are logged in" + (discovery ? "" : " ([iscsi] max_connections_per_address)");
      break;
  }
  if (why.empty()) {
    try {
      sender = std::make_unique<Sender>(slot->fd);
      std::lock_guard lock(mutex_);
      slot->thread = std::thread([this, slot] { serve(slot); });
      slot->admitted = true;
      slot->discovery = discovery;
      return 0;
    } catch (const std::exception& e) {  // std::system_error from thread creation, bad_alloc
      sender.reset();
      admission_.release(slot->host, discovery);
      why = std::string("cannot start its thread: ") + e.what();
    }
  }
  std::size_t held = 0;
  if (refusals_.allow(held)) {
    log::warn("iscsi: refusing a login from " + slot->host + " on " + format_endpoint(endpoint_) +
              ": " + why +
              (held ? " (" + std::to_string(held) + " more refused since the last report)" : ""));
  }
  return iscsi::login_status::kOutOfResources;
}

void Target::hand_off(Slot* slot, std::unique_ptr<Handoff> handoff) {
  {
    std::lock_guard lock(mutex_);
    slot->handoff = std::move(handoff);
    slot->handed = true;
  }
  handed_.notify_all();
}

void Target::serve(Slot* slot) {
  std::unique_ptr<Handoff> handoff;
  {
    std::unique_lock lock(mutex_);
    handed_.wait(lock, [slot] { return slot->handed; });
    handoff = std::move(slot->handoff);
  }
  const int fd = slot->fd;  // only this thread closes it from now on
  if (!handoff->abandon) serve_logged_in(fd, slot->discovery, *handoff);
  handoff.reset();  // the engine ends its session; the sender has written everything
  admission_.release(slot->host, slot->discovery);
  {
    std::lock_guard lock(mutex_);
    ::close(slot->fd);
    slot->fd = -1;
  }
  slot->done = true;
}

void Target::serve_logged_in(int fd, bool discovery, Handoff& h) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  iscsi::Connection& conn = *h.conn;
  Sender& sender = *h.sender;
  std::string reason;
  if (!h.output.empty()) {  // the end of the login, before anything else
    iovec iov{h.output.data(), h.output.size()};
    if (auto written = write_all(fd, std::span(&iov, 1)); !written) {
      reason = written.error().message;
    }
  }
  const std::size_t max_pdu = conn.max_pdu_length();
  std::vector<std::uint8_t> buffer(std::max(2 * max_pdu, h.input.size() + max_pdu));
  std::copy(h.input.begin(), h.input.end(), buffer.begin());
  std::size_t start = 0, end = h.input.size();
  h.input = {};
  // A discovery session is not pinged: one that asks nothing for a while has what it came for.
  const int idle_ms = discovery
                          ? static_cast<int>(std::clamp<long long>(
                                options_.discovery_idle_timeout.count(), 1, 24LL * 3600 * 1000))
                          : std::max(1, options_.idle_seconds) * 1000;
  bool fresh = end > 0;  // bytes that came with the login wait in the buffer
  while (reason.empty() && !conn.closing() && !stopping_) {
    if (!fresh) {
      auto ready = wait_readable(fd, idle_ms);
      if (ready == WaitResult::kError) break;
      if (ready == WaitResult::kTimeout) {
        if (discovery) {
          log::debug("iscsi: closing discovery session from " + h.peer + ": idle for " +
                     std::to_string(idle_ms) + " ms");
          break;
        }
        if (!conn.on_idle()) {
          reason = "no answer to a ping";
          break;
        }
        sender.submit(conn.out());
        continue;
      }
      if (buffer.size() - end < max_pdu) {  // make room for one whole PDU at the tail
        std::memmove(buffer.data(), buffer.data() + start, end - start);
        end -= start;
        start = 0;
      }
      auto n = read_some(fd, std::span(buffer).subspan(end));
      if (!n) {
        reason = n.error().message;
        break;
      }
      if (*n == 0) break;  // orderly close
      end += *n;
    }
    fresh = false;
    // Handle everything that arrived, handing the answers to the sender whenever the engine
    // pauses for it.
    for (;;) {
      auto used = conn.receive(std::span<const std::uint8_t>(buffer).subspan(start, end - start));
      if (!used) {
        reason = used.error().message;
      } else {
        start += *used;
        if (start == end) start = end = 0;
      }
      if (!sender.submit(conn.out()) || !used || *used == 0 || conn.closing()) break;
    }
    sender.submit(conn.out());
  }
  // Whatever was answered goes out before the connection closes (a logout response, a
  // reject); a send that failed ends it too.
  sender.drain();
  if (reason.empty()) reason = sender.error();
  if (!reason.empty()) log::warn("iscsi: dropping connection from " + h.peer + ": " + reason);
  conn.end_session();
  log::debug("iscsi: connection from " + h.peer + " closed");
}

}  // namespace maya::iscsi_target
