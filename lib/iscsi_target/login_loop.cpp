#include "lib/iscsi_target/login_loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "lib/common/errno_text.h"
#include "lib/common/log.h"
#include "lib/iscsi/login.h"
#include "lib/iscsi_target/connection_slot.h"

namespace maya::iscsi_target {
namespace {

constexpr int kMaxWaitMs = 200;            // how often stop() is noticed
constexpr int kAcceptsPerRound = 64;       // then the others get their turn
constexpr int kReadsPerEvent = 16;         // likewise for one busy connection
constexpr std::size_t kReadChunk = 16384;  // bytes read at once before login
// Login PDUs carry at most 8 KiB of text (MaxRecvDataSegmentLength keeps its default of 8192
// until the login ends; Linux's target refuses more): with a BHS and AHS, a part-received PDU
// beyond this bound is an attempt to make us buffer, not a login.
constexpr std::size_t kMaxLoginPdu = 16384;
constexpr auto kAcceptPause = std::chrono::milliseconds(100);  // after EMFILE and the like
constexpr int kSendTimeoutSeconds = 30;
// Descriptors kept for everything but connections: replicas, journals, the control socket, logs.
constexpr std::size_t kReservedFds = 64;
constexpr std::size_t kMinPendingLogins = 8;

}  // namespace

std::size_t pending_logins_for_fd_limit(std::size_t soft_limit, std::size_t max_connections,
                                        std::size_t wanted) {
  const std::size_t reserve = max_connections + kReservedFds;
  const std::size_t room = soft_limit > reserve ? (soft_limit - reserve) / 2 : 0;
  return std::min(wanted, std::max(kMinPendingLogins, room));
}

struct LoginLoop::Pending {
  Target::Slot* slot = nullptr;
  int fd = -1;
  std::string host;  // counted in per_host_
  std::string peer;  // "host:port"
  Clock::time_point deadline;
  std::unique_ptr<iscsi::Connection> conn;  // made when the first bytes arrive
  std::unique_ptr<Sender> sender;           // set once admitted (its thread runs)
  std::vector<std::uint8_t> in, out;
  std::size_t out_pos = 0;
  bool closing = false;  // write out, then close
  bool watching_out = false;
  bool dead = false;  // closed or handed off; erased by sweep()
};

Result<std::unique_ptr<LoginLoop>> LoginLoop::create(Target& target) {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return fail("epoll_create1: " + errno_text(errno));
  const int listener = target.listener_.get();
  const int flags = ::fcntl(listener, F_GETFL);
  if (flags < 0 || ::fcntl(listener, F_SETFL, flags | O_NONBLOCK) != 0) {
    return fail("cannot make the listening socket non-blocking: " + errno_text(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, listener, &ev) != 0) {
    return fail("epoll_ctl: " + errno_text(errno));
  }
  return std::unique_ptr<LoginLoop>(new LoginLoop(target, std::move(epoll)));
}

LoginLoop::LoginLoop(Target& target, Fd epoll) : target_(target), epoll_(std::move(epoll)) {
  // Each connection logging in holds one descriptor (two when the initiator runs in this process,
  // as in tests): keep the queue within what the descriptor limit leaves after the logged-in
  // connections and the data path, so that idle connections can never starve either.
  max_pending_ = std::max<std::size_t>(1, target_.options_.max_pending_logins);
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    max_pending_ = pending_logins_for_fd_limit(
        static_cast<std::size_t>(nofile.rlim_cur),
        target_.options_.limits.max_connections + target_.options_.discovery_limits.max_connections,
        max_pending_);
  }
  max_pending_per_host_ = std::max<std::size_t>(1, target_.options_.max_pending_logins_per_address);
}

LoginLoop::~LoginLoop() = default;

void LoginLoop::run() {
  std::array<epoll_event, 64> events;
  Clock::time_point next_reap{};
  while (!target_.stopping_) {
    auto now = Clock::now();
    if (now >= next_reap) {  // join the threads of finished connections, now and then
      target_.reap(false);
      next_reap = now + std::chrono::milliseconds(kMaxWaitMs);
    }
    if (!listening_ && now >= resume_accept_) watch_listener(true);
    int wait_ms = kMaxWaitMs;
    if (Pending* first = oldest()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(first->deadline - now).count();
      wait_ms = static_cast<int>(std::clamp<long long>(left, 0, kMaxWaitMs));
    }
    const int n =
        ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_ms);
    if (n < 0 && errno != EINTR) {
      log::error("iscsi: epoll_wait: " + errno_text(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        accept_some();
      } else {
        on_event(*static_cast<Pending*>(events[i].data.ptr), events[i].events);
      }
    }
    sweep();
    expire(Clock::now());
    sweep();
  }
  for (Pending& p : pending_) {
    if (!p.dead) drop(p, "the target is stopping", false);
  }
  sweep();
}

LoginLoop::Pending* LoginLoop::oldest() {
  for (Pending& p : pending_) {
    if (!p.dead) return &p;
  }
  return nullptr;
}

LoginLoop::Pending* LoginLoop::oldest(const std::string& host) {
  for (Pending& p : pending_) {
    if (!p.dead && p.host == host) return &p;
  }
  return nullptr;
}

void LoginLoop::forget(Pending& p) {
  p.dead = true;
  --live_;
  if (auto it = per_host_.find(p.host); it != per_host_.end() && --it->second == 0) {
    per_host_.erase(it);
  }
}

void LoginLoop::accept_some() {
  for (int i = 0; i < kAcceptsPerRound; ++i) {
    const int fd =
        ::accept4(target_.listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      add(fd);
      continue;
    }
    const int e = errno;
    if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return;
    if ((e == EMFILE || e == ENFILE) && oldest() != nullptr) {
      // Out of descriptors: the oldest login in progress gives its own up for the newcomer.
      std::size_t held = 0;
      if (accept_log_.allow(held)) {
        log::warn("iscsi: out of descriptors on " + format_endpoint(target_.endpoint_) + " (" +
                  errno_text(e) + "); dropping the oldest connection logging in" +
                  (held ? " (" + std::to_string(held) + " more times since the last report)" : ""));
      }
      drop(*oldest(), "out of descriptors", false);
      continue;
    }
    // Out of memory, or no connection of ours to give up: stop accepting for a moment.
    std::size_t held = 0;
    if (accept_log_.allow(held)) {
      log::warn("iscsi: cannot accept connections on " + format_endpoint(target_.endpoint_) + ": " +
                errno_text(e) +
                (held ? " (" + std::to_string(held) + " more times since the last report)" : ""));
    }
    watch_listener(false);
    resume_accept_ = Clock::now() + kAcceptPause;
    return;
  }
}

void LoginLoop::add(int fd) {
  tune_connection(fd, kSendTimeoutSeconds);
  std::string host = "?", peer = "?";
  if (auto p = peer_endpoint(fd)) {
    host = p->host;
    peer = format_endpoint(*p);
  }
  if (auto mine = per_host_.find(host);
      mine != per_host_.end() && mine->second >= max_pending_per_host_) {
    // One source address never fills the queue: its own oldest login makes room.
    std::size_t held = 0;
    if (host_log_.allow(held)) {
      log::warn("iscsi: " + std::to_string(mine->second) + " connections from " + host + " to " +
                format_endpoint(target_.endpoint_) +
                " are logging in at once; dropping its oldest for each new one" +
                (held ? " (" + std::to_string(held) + " more since the last report)" : ""));
    }
    drop(*oldest(host), "too many connections from one address logging in", false);
  }
  if (live_ >= max_pending_) {
    std::size_t held = 0;
    if (full_log_.allow(held)) {
      log::warn("iscsi: " + std::to_string(live_) + " connections to " +
                format_endpoint(target_.endpoint_) +
                " are logging in at once; dropping the oldest for each new one" +
                (held ? " (" + std::to_string(held) + " more since the last report)" : ""));
    }
    drop(*oldest(), "too many connections logging in", false);
  }
  Target::Slot* slot = target_.open_slot(fd, host);
  Pending& p = pending_.emplace_back();
  p.slot = slot;
  p.fd = fd;
  p.host = std::move(host);
  ++per_host_[p.host];
  p.peer = std::move(peer);
  p.deadline = Clock::now() + target_.options_.login_timeout;
  ++live_;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = &p;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    drop(p, "epoll_ctl: " + errno_text(errno), true);
    return;
  }
  log::debug("iscsi: connection from " + p.peer);
}

void LoginLoop::on_event(Pending& p, std::uint32_t events) {
  if (p.dead) return;
  if (events & EPOLLOUT) flush(p);
  if (p.dead || p.watching_out) return;  // no reading while answers wait to be written
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(p);
}

void LoginLoop::on_readable(Pending& p) {
  std::array<std::uint8_t, kReadChunk> chunk;
  for (int i = 0; i < kReadsPerEvent && !p.dead && !p.closing && !p.watching_out; ++i) {
    const ssize_t n = ::recv(p.fd, chunk.data(), chunk.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      drop(p, "recv: " + errno_text(errno), true);
      return;
    }
    if (n == 0) {
      drop(p, "closed before logging in", false);
      return;
    }
    p.in.insert(p.in.end(), chunk.begin(), chunk.begin() + n);
    feed(p);
  }
}

void LoginLoop::feed(Pending& p) {
  if (!p.conn) {
    iscsi::ConnectionHooks hooks;
    Target* target = &target_;
    Target::Slot* slot = p.slot;
    hooks.stop = [target, slot] { target->stop_connection(slot); };
    if (auto local = local_endpoint(p.fd)) {
      hooks.portal = iscsi::format_target_address(local->host, local->port, target_.options_.tpgt);
      hooks.local_host = local->host;
    }
    // Called from receive() below, while `p` is alive.
    hooks.admit = [target, slot, &p](bool discovery) {
      return target->admit(slot, discovery, p.sender);
    };
    p.conn = std::make_unique<iscsi::Connection>(target_.context_, std::move(hooks));
  }
  std::string reason;
  std::size_t start = 0;
  while (start < p.in.size()) {
    auto used = p.conn->receive(std::span<const std::uint8_t>(p.in).subspan(start));
    if (!used) {
      reason = used.error().message;
      break;
    }
    start += *used;
    if (*used == 0 || p.conn->logged_in() || p.conn->closing()) break;
  }
  p.in.erase(p.in.begin(), p.in.begin() + static_cast<std::ptrdiff_t>(start));
  if (p.in.empty()) p.in.shrink_to_fit();  // nothing kept for a connection between PDUs
  if (reason.empty() && !p.conn->logged_in() && p.in.size() > kMaxLoginPdu) {
    reason = "a login PDU of more than " + std::to_string(kMaxLoginPdu) + " bytes";
  }
  if (!p.conn->out().empty()) {
    auto bytes = p.conn->out().flatten();
    p.conn->out().clear();
    p.out.insert(p.out.end(), bytes.begin(), bytes.end());
  }
  if (p.sender) {  // admitted: its thread writes the rest and serves it (or closes it)
    hand_off(p, false);
    return;
  }
  if (!reason.empty()) {
    log::warn("iscsi: dropping connection from " + p.peer + ": " + reason);
    p.closing = true;
  }
  if (p.conn->closing()) p.closing = true;
  flush(p);
}

void LoginLoop::flush(Pending& p) {
  while (p.out_pos < p.out.size()) {
    const ssize_t n =
        ::send(p.fd, p.out.data() + p.out_pos, p.out.size() - p.out_pos, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        watch_output(p, true);
        return;
      }
      drop(p, "send: " + errno_text(errno), false);
      return;
    }
    p.out_pos += static_cast<std::size_t>(n);
  }
  p.out.clear();
  p.out.shrink_to_fit();
  p.out_pos = 0;
  if (p.watching_out) watch_output(p, false);
  if (p.closing) drop(p, "login ended", false);
}

void LoginLoop::hand_off(Pending& p, bool abandon) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, p.fd, nullptr);  // before the thread may close it
  auto h = std::make_unique<Target::Handoff>();
  h->conn = std::move(p.conn);
  h->sender = std::move(p.sender);
  h->input = std::move(p.in);
  h->output.assign(p.out.begin() + static_cast<std::ptrdiff_t>(p.out_pos), p.out.end());
  h->peer = p.peer;
  h->abandon = abandon;
  target_.hand_off(p.slot, std::move(h));
  forget(p);
}

void LoginLoop::drop(Pending& p, const std::string& why, bool warn) {
  if (p.dead) return;
  if (p.sender) {  // admitted: its thread owns the socket now
    hand_off(p, true);
    return;
  }
  if (warn) {
    log::warn("iscsi: dropping connection from " + p.peer + ": " + why);
  } else {
    log::debug("iscsi: connection from " + p.peer + " closed: " + why);
  }
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, p.fd, nullptr);
  p.conn.reset();  // before the slot goes: its hooks point at the slot
  target_.close_slot(p.slot);
  forget(p);
}

void LoginLoop::expire(Clock::time_point now) {
  for (Pending& p : pending_) {
    if (p.dead) continue;
    if (p.deadline > now) break;  // in accept order: the rest expire later
    std::size_t held = 0;
    if (expired_log_.allow(held)) {
      log::warn("iscsi: dropping connection from " + p.peer + ": login did not finish within " +
                std::to_string(target_.options_.login_timeout.count()) + " ms" +
                (held ? " (and " + std::to_string(held) + " more since the last report)" : ""));
    }
    drop(p, "login deadline", false);
  }
}

void LoginLoop::sweep() {
  pending_.remove_if([](const Pending& p) { return p.dead; });
}

void LoginLoop::watch_listener(bool on) {
  epoll_event ev{};
  ev.events = on ? std::uint32_t{EPOLLIN} : 0u;
  ev.data.ptr = nullptr;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, target_.listener_.get(), &ev);
  listening_ = on;
}

void LoginLoop::watch_output(Pending& p, bool on) {
  epoll_event ev{};
  // While answers wait to be written, stop reading: a peer that does not read them cannot
  // make us queue more.
  ev.events = on ? std::uint32_t{EPOLLOUT} : std::uint32_t{EPOLLIN | EPOLLRDHUP};
  ev.data.ptr = &p;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, p.fd, &ev);
  p.watching_out = on;
}

}  // namespace maya::iscsi_target
