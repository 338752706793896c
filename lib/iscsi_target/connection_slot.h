// Internal to lib/iscsi_target: what the Target keeps per connection, and what the login loop hands
// to a connection's thread once the connection has logged in.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/iscsi/connection.h"
#include "lib/iscsi_target/sender.h"
#include "lib/iscsi_target/target.h"

namespace maya::iscsi_target {

struct Target::Slot {
  std::thread thread;  // set once admitted: serve() waits for the hand-off, then serves
  int fd = -1;         // guarded by Target::mutex_; -1 once closed
  std::string host;    // the peer's address, counted by the Admission once admitted
  bool admitted = false;
  bool discovery = false;            // a discovery session: counted apart, closed when idle
  std::atomic<bool> done{false};     // closed, and its thread (if any) about to end
  std::unique_ptr<Handoff> handoff;  // guarded by Target::mutex_
  bool handed = false;
};

struct Target::Handoff {
  std::unique_ptr<iscsi::Connection> conn;
  std::unique_ptr<Sender> sender;
  std::vector<std::uint8_t> input;   // received after the login, not parsed yet
  std::vector<std::uint8_t> output;  // the end of the login, not written yet
  std::string peer;                  // "host:port" for the log
  bool abandon = false;              // the loop is giving up on it: just close
};

}  // namespace maya::iscsi_target
