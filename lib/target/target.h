// Target: one iSCSI target on one TCP portal (IPv4 or IPv6; port 0 picks a free port), one IQN,
// LUN 0 served by a ScsiDisk, optional CHAP (one-way or mutual). An accept loop hands each
// connection to its own thread with a blocking socket: batched reads parse many PDUs at once,
// answers go out in one gathered write, TCP_NODELAY. stop() ends everything cleanly.
#pragma once

#include <atomic>
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
#include "lib/scsi/scsi_disk.h"
#include "lib/target/socket_io.h"

namespace maya::target {

struct TargetOptions {
  std::string listen = "0.0.0.0:3260";  // "ADDR:PORT" or "[IPv6]:PORT"
  std::string iqn;
  std::string alias;
  std::uint16_t tpgt = 1;
  iscsi::ChapCredentials chap;  // empty user: no authentication
  bool discovery_auth = false;  // CHAP for discovery sessions too (SendTargets leaks names)
  // Idle connections are pinged (NOP-In) after this long and dropped if the ping goes
  // unanswered for as long again; a login must finish within it too.
  int idle_seconds = 30;
  // Set: normal sessions start only while it returns true (iscsi::TargetContext::admit_normal).
  std::function<bool()> admit_normal;
};

class Target {
 public:
  // Serves `backend` (not owned; must outlive the target) through scsi::make_disk.
  static Result<std::unique_ptr<Target>> create(const TargetOptions& options,
                                                block::BlockBackend& backend,
                                                scsi::Identity identity = {});
  // Serves a given disk (not owned) — for tests that bring their own ScsiDisk.
  static Result<std::unique_ptr<Target>> create_with_disk(const TargetOptions& options,
                                                          scsi::ScsiDisk& disk,
                                                          std::uint32_t block_size);
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
  const std::string& iqn() const { return options_.iqn; }

  // Accepts connections until stop(); blocking.
  void run();
  // run() on a background thread.
  void start();
  // Closes the portal and every connection, waits for their threads. Thread-safe, idempotent.
  void stop();
  std::size_t connection_count() const;
  std::size_t session_count() const { return registry_.size(); }
  std::size_t normal_session_count() const { return registry_.normal_sessions(); }

 private:
  struct Slot {
    std::thread thread;
    int fd = -1;  // guarded by mutex_; -1 once the connection closed it
    std::atomic<bool> done{false};
  };

  Target(TargetOptions options, Fd listener, Endpoint endpoint);
  void serve(Slot* slot);
  void reap(bool all);

  TargetOptions options_;
  Fd listener_;
  Endpoint endpoint_;
  std::unique_ptr<scsi::ScsiDisk> owned_disk_;
  iscsi::SessionRegistry registry_;
  iscsi::TargetContext context_;
  std::atomic<bool> stopping_{false};
  std::thread runner_;
  mutable std::mutex mutex_;
  std::list<Slot> slots_;
};

}  // namespace maya::target
