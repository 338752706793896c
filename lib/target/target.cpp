#include "lib/target/target.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lib/common/log.h"
#include "lib/iscsi/discovery.h"
#include "lib/target/sender.h"

namespace maya::target {
namespace {

constexpr int kAcceptPollMs = 200;
constexpr int kSendTimeoutSeconds = 30;

}  // namespace

Target::Target(TargetOptions options, Fd listener, Endpoint endpoint)
    : options_(std::move(options)), listener_(std::move(listener)), endpoint_(std::move(endpoint)) {
  context_.login.target_name = options_.iqn;
  context_.login.target_alias = options_.alias;
  context_.login.tpgt = options_.tpgt;
  context_.login.chap = options_.chap;
  context_.login.discovery_auth = options_.discovery_auth;
  context_.registry = &registry_;
  context_.admit_normal = options_.admit_normal;
}

Result<std::unique_ptr<Target>> Target::create_with_disk(const TargetOptions& options,
                                                         scsi::ScsiDisk& disk,
                                                         std::uint32_t block_size) {
  if (options.iqn.empty()) return fail("the target needs an IQN");
  if (!options.chap.user.empty() && options.chap.secret.empty()) {
    return fail("a CHAP user needs a CHAP secret");
  }
  if (!options.chap.mutual_user.empty() && options.chap.user.empty()) {
    return fail("mutual CHAP needs one-way CHAP credentials as well");
  }
  MAYA_TRY(endpoint, parse_endpoint(options.listen));
  MAYA_TRY(listener, listen_tcp(*endpoint));
  MAYA_TRY(bound, local_endpoint(listener->get()));
  bound->host = endpoint->host;  // keep "0.0.0.0" / "::" as given
  std::unique_ptr<Target> t(new Target(options, std::move(*listener), *bound));
  t->context_.disk = &disk;
  t->context_.block_size = block_size;
  return t;
}

Result<std::unique_ptr<Target>> Target::create_discovery(const TargetOptions& options,
                                                         iscsi::TargetDirectory directory) {
  MAYA_TRY(endpoint, parse_endpoint(options.listen));
  MAYA_TRY(listener, listen_tcp(*endpoint));
  MAYA_TRY(bound, local_endpoint(listener->get()));
  bound->host = endpoint->host;
  TargetOptions discovery = options;
  discovery.iqn.clear();
  std::unique_ptr<Target> t(new Target(discovery, std::move(*listener), *bound));
  t->context_.directory = std::move(directory);
  return t;
}

Target::~Target() {
  stop();
}

void Target::start() {
  runner_ = std::thread([this] { run(); });
}

void Target::run() {
  while (!stopping_) {
    reap(false);
    if (wait_readable(listener_.get(), kAcceptPollMs) != WaitResult::kReadable) continue;
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // EINTR, ECONNABORTED, EMFILE…: try again on the next round
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    Slot& slot = slots_.emplace_back();
    slot.fd = fd;
    slot.thread = std::thread([this, s = &slot] { serve(s); });
  }
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

void Target::serve(Slot* slot) {
  const int fd = slot->fd;
  tune_connection(fd, kSendTimeoutSeconds);
  std::string peer = "?";
  if (auto p = peer_endpoint(fd)) peer = format_endpoint(*p);
  iscsi::ConnectionHooks hooks;
  hooks.stop = [this, slot] {
    std::lock_guard lock(mutex_);
    if (slot->fd >= 0) ::shutdown(slot->fd, SHUT_RDWR);
  };
  if (auto local = local_endpoint(fd)) {
    hooks.portal = iscsi::format_target_address(local->host, local->port, options_.tpgt);
    hooks.local_host = local->host;
  }
  log::debug("iscsi: connection from " + peer);

  {
    iscsi::Connection conn(context_, std::move(hooks));
    Sender sender(fd);
    const std::size_t max_pdu = conn.max_pdu_length();
    std::vector<std::uint8_t> buffer(2 * max_pdu);
    std::size_t start = 0, end = 0;
    const int idle_ms = std::max(1, options_.idle_seconds) * 1000;
    std::string reason;
    while (!stopping_) {
      auto ready = wait_readable(fd, idle_ms);
      if (ready == WaitResult::kError) break;
      if (ready == WaitResult::kTimeout) {
        if (!conn.on_idle()) {
          reason = conn.logged_in() ? "no answer to a ping" : "login did not finish in time";
          break;
        }
      } else {
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
        // Handle everything that arrived, handing the answers to the sender whenever the
        // engine pauses for it.
        for (;;) {
          auto used =
              conn.receive(std::span<const std::uint8_t>(buffer).subspan(start, end - start));
          if (!used) {
            reason = used.error().message;
          } else {
            start += *used;
            if (start == end) start = end = 0;
          }
          if (!sender.submit(conn.out()) || !used || *used == 0 || conn.closing()) break;
        }
      }
      sender.submit(conn.out());
      if (!reason.empty() || conn.closing()) break;
    }
    // Whatever was answered goes out before the connection closes (a logout response, a
    // reject); a send that failed ends it too.
    sender.drain();
    if (reason.empty()) reason = sender.error();
    if (!reason.empty()) log::warn("iscsi: dropping connection from " + peer + ": " + reason);
    conn.end_session();
  }
  {
    std::lock_guard lock(mutex_);
    ::close(slot->fd);
    slot->fd = -1;
  }
  log::debug("iscsi: connection from " + peer + " closed");
  slot->done = true;
}

}  // namespace maya::target
