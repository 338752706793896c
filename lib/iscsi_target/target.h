// Target: one iSCSI target on one TCP portal (IPv4 or IPv6; port 0 picks a free port), one IQN,
// LUN 0 served by a ScsiDisk, optional CHAP (one-way or mutual). One thread (the login loop,
// epoll) accepts connections and runs every login: a connection that has not logged in costs a
// socket and a few hundred bytes, no thread, and is dropped at the login deadline or when newer
// ones need its place. A connection that logs in within the caps gets its own thread with a
// blocking socket (batched reads parse many PDUs at once) and a writer thread (answers go out
// in gathered writes, TCP_NODELAY); over a cap, or when no thread can be made, the login is
// refused with "out of resources" (0x0302). stop() ends everything cleanly.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lib/block/backend.h"
#include "lib/common/fd.h"
#include "lib/common/result.h"
#include "lib/iscsi/chap.h"
#include "lib/iscsi/connection.h"
#include "lib/iscsi/session.h"
#include "lib/iscsi_target/admission.h"
#include "lib/iscsi_target/socket_io.h"
#include "lib/scsi/scsi_disk.h"

namespace maya::iscsi_target {

class LoginLoop;
class Sender;

struct TargetOptions {
  std::string listen = "0.0.0.0:3260";  // "ADDR:PORT" or "[IPv6]:PORT"
  // An already-listening TCP socket to serve instead of binding `listen` (inherited across a
  // daemon restart); the Target owns it. Discovery portals only.
  int listen_fd = -1;
  std::string iqn;
  std::string alias;
  std::uint16_t tpgt = 1;
  iscsi::ChapCredentials chap;  // empty user: no authentication
  bool discovery_auth = false;  // CHAP for discovery sessions too (SendTargets leaks names)
  // Idle connections are pinged (NOP-In) after this long and dropped if the ping goes
  // unanswered for as long again.
  int idle_seconds = 30;
  // The whole login phase, from accept to full feature phase, must fit in this.
  std::chrono::milliseconds login_timeout{15000};
  // Logged-in connections of normal sessions, in all and per source address.
  ConnectionLimits limits;
  // Logged-in discovery sessions, counted apart (a discovery-only portal uses `limits`).
  ConnectionLimits discovery_limits{16, 4};
  // A discovery session that sends nothing for this long is closed (no ping keeps it).
  std::chrono::milliseconds discovery_idle_timeout{30000};
  // Connections still logging in; when full, the oldest one is dropped for a new one.
  // Bounded further by the soft RLIMIT_NOFILE (pending_logins_for_fd_limit in login_loop.h).
  std::size_t max_pending_logins = 1024;
  // Of those, from one source address; when full, that address's oldest one is dropped.
  std::size_t max_pending_logins_per_address = 256;
  // Set: normal sessions start only while it returns true (iscsi::TargetContext::admit_normal).
  std::function<bool()> admit_normal;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (the default soft limit, 1024, runs out
// long before the connection caps do); returns the soft limit now in force. Call it at the
// start of a process that serves, before any thread starts.
Result<std::size_t> raise_descriptor_limit();

class Target {
 public:
  // Serves `backend` (not owned; must outlive the target) through scsi::make_disk.
  static Result<std::unique_ptr<Target>> create(const TargetOptions& options,
                                                block::BlockBackend& backend,
                                                scsi::Identity identity = {});
  // Serves a given disk (not owned) — for tests that bring their own ScsiDisk.
  static Result<std::unique_ptr<Target>> create_with_disk(const TargetOptions& options,
                                                          scsi::ScsiDisk& disk);
  // A discovery-only portal: SendTargets answers with `directory`; normal logins are refused
  // (no target has an empty name). `options.iqn` is ignored.
  static Result<std::unique_ptr<Target>> create_discovery(const TargetOptions& options,
                                                          iscsi::TargetDirectory directory);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  // The bound portal (the real port when 0 was asked for).
  const Endpoint& endpoint() const { return endpoint_; }
  std::uint16_t port() const { return endpoint_.port; }
  // The listening descriptor (for a handover: stop() would shut the socket down for everyone
  // holding it, so a handing-over daemon leaves the Target to die with its exec).
  int listener_fd() const { return listener_.get(); }
  const std::string& iqn() const { return options_.iqn; }

  // Accepts connections and runs logins until stop(); blocking.
  void run();
  // run() on a background thread.
  void start();
  // Closes the portal and every connection, waits for their threads. Thread-safe, idempotent.
  void stop();
  // The backend grew: the disk reports the new capacity, with a unit attention to every nexus.
  void capacity_changed();
  // Open connections, logging in or logged in; logged in (counted against the caps).
  std::size_t connection_count() const;
  std::size_t logged_in_count() const { return admission_.count(); }
  std::size_t discovery_count() const { return admission_.count(true); }
  std::size_t session_count() const { return registry_.size(); }
  std::size_t normal_session_count() const { return registry_.normal_sessions(); }

 private:
  friend class LoginLoop;
  struct Slot;     // one connection (connection_slot.h)
  struct Handoff;  // a logged-in connection passed from the login loop to its thread

  Target(TargetOptions options, Fd listener, Endpoint endpoint);
  static Result<std::unique_ptr<Target>> make(TargetOptions options, Fd listener,
                                              Endpoint endpoint);
  // Called by the login loop.
  Slot* open_slot(int fd, std::string host);
  void close_slot(Slot* slot);  // a connection that never got a thread
  void stop_connection(Slot* slot);
  // Within the caps, starts the connection's threads (`sender` receives its writer) and returns
  // 0; else a Login status that refuses it.
  std::uint16_t admit(Slot* slot, bool discovery, std::unique_ptr<Sender>& sender);
  void hand_off(Slot* slot, std::unique_ptr<Handoff> handoff);
  void serve(Slot* slot);
  void serve_logged_in(int fd, bool discovery, Handoff& handoff);
  void reap(bool all);

  TargetOptions options_;
  Fd listener_;
  Endpoint endpoint_;
  std::unique_ptr<scsi::ScsiDisk> owned_disk_;
  iscsi::SessionRegistry registry_;
  iscsi::TargetContext context_;
  Admission admission_;
  LogThrottle refusals_;
  std::unique_ptr<LoginLoop> loop_;
  std::atomic<bool> stopping_{false};
  std::thread runner_;
  mutable std::mutex mutex_;
  std::condition_variable handed_;
  std::list<Slot> slots_;
};

}  // namespace maya::iscsi_target
