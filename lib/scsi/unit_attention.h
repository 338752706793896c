// Unit attention conditions, queued per I_T nexus (SPC-4 5.14). The disk asks pending() on every
// command: an atomic load, so the fast path takes no lock and does no lookup. Conditions of the
// 29h family (power on / reset) replace each other rather than pile up, and are reported first.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "lib/scsi/scsi_disk.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {

// The key reservations and unit attentions are kept under: initiator port and target port.
std::string nexus_key(const Nexus& nexus);

class UnitAttentions {
 public:
  // Starts tracking a nexus with `initial` queued (the power-on condition). Conditions posted
  // for it while it was away (e.g. registrations preempted) are kept.
  void add_nexus(const std::string& key, std::optional<Asc> initial);
  void remove_nexus(const std::string& key);

  void post(const std::string& key, Asc code);
  void post_all(Asc code);
  void post_all_except(const std::string& except, Asc code);

  // Something is queued for a nexus that is logged in. Conditions for absent nexuses (e.g. a
  // preempted registrant that has logged out) wait without slowing every command down.
  bool pending() const { return pending_.load(std::memory_order_acquire) != 0; }
  // Takes the oldest condition queued for the nexus, if any.
  std::optional<Asc> take(const std::string& key);

 private:
  static constexpr std::size_t kMaxQueued = 16;
  struct Queue {
    std::deque<Asc> conditions;
    bool present = false;  // the nexus is logged in: its conditions count in pending_
  };
  void post_locked(Queue& queue, Asc code);
  void count(const Queue& queue, std::ptrdiff_t delta);

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Queue> queues_;
  std::atomic<std::size_t> pending_{0};
};

}  // namespace maya::scsi
