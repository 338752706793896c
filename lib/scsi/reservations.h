// Reservations: SPC-2 RESERVE/RELEASE and SPC-4 persistent reservations (registrations, the six
// reservation types, REGISTER / REGISTER AND IGNORE EXISTING KEY / RESERVE / RELEASE / CLEAR /
// PREEMPT / PREEMPT AND ABORT) as one state machine. active() is a relaxed atomic, so commands
// take the mutex only while something is reserved. Persist Through Power Loss is not supported
// as a command bit; a disk that must keep its reservations across restarts (a shared replica:
// the fence between volume owners) gets a saver and a restore (persist()), and every change is
// saved before the command that made it is answered.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/scsi/command_table.h"
#include "lib/scsi/scsi_disk.h"
#include "lib/scsi/unit_attention.h"

namespace maya::scsi {

enum class PrType : std::uint8_t {
  kWriteExclusive = 1,
  kExclusiveAccess = 3,
  kWriteExclusiveRegistrantsOnly = 5,
  kExclusiveAccessRegistrantsOnly = 6,
  kWriteExclusiveAllRegistrants = 7,
  kExclusiveAccessAllRegistrants = 8,
};
bool valid_pr_type(std::uint8_t type);
bool all_registrants(PrType type);

// A decoded PERSISTENT RESERVE OUT request (basic parameter list).
struct ProutRequest {
  std::uint8_t service_action = 0;
  std::uint8_t scope = 0;
  std::uint8_t type = 0;
  std::uint64_t key = 0;     // RESERVATION KEY
  std::uint64_t sa_key = 0;  // SERVICE ACTION RESERVATION KEY
};

struct Registration {
  std::string nexus_key;
  Nexus nexus;
  std::uint64_t key = 0;
};

struct PersistentReservation {
  PrType type = PrType::kWriteExclusive;
  std::string holder;     // nexus key of the holder (unused for all-registrants types)
  std::uint64_t key = 0;  // the holder's key (0 for all-registrants types)
};

// What PERSISTENT RESERVE IN reports.
struct PrSnapshot {
  std::uint32_t generation = 0;
  std::vector<Registration> registrations;
  std::optional<PersistentReservation> reservation;
};

class Reservations {
 public:
  explicit Reservations(UnitAttentions& unit_attentions) : unit_attentions_(unit_attentions) {}

  bool active() const { return active_.load(std::memory_order_relaxed); }
  bool conflicts(const Nexus& nexus, const CommandInfo& command) const;

  // SPC-2 RESERVE(6)/(10) and RELEASE(6)/(10), with the SPC-4 5.13.3 exceptions.
  TaskResult reserve(const Nexus& nexus);
  TaskResult release(const Nexus& nexus);
  void nexus_lost(const Nexus& nexus);  // releases an SPC-2 reservation it held
  void reset();                         // releases SPC-2 reservations; PRs stay

  TaskResult persistent_out(const Nexus& nexus, const ProutRequest& request);
  PrSnapshot snapshot() const;

  // Keeps the registrations and the persistent reservation across restarts: `saved` (what the
  // last `save` got, empty for none) is restored now, and `save` gets the state (JSON text)
  // after every change; a change whose save fails is answered with a failure, not GOOD.
  Result<void> persist(const std::string& saved,
                       std::function<Result<void>(const std::string&)> save);
  // A nexus logged in: registrations of nexuses that are gone are dropped when a live nexus
  // registers the same key (the sessions of one initiator come and go; its key stays).
  void nexus_added(const Nexus& nexus);

 private:
  // Everything below runs with mutex_ held.
  void update_active();
  std::vector<Registration>::iterator find(const std::string& key);
  std::vector<Registration>::const_iterator find(const std::string& key) const;
  bool holds(const std::string& key) const;
  // Removes a registration and what goes with it (the reservation, when its holder leaves).
  void unregister(std::vector<Registration>::iterator it, bool notify_release);

  TaskResult do_register(const Nexus& nexus, const std::string& key, const ProutRequest& r,
                         bool ignore_existing);
  TaskResult do_reserve(const std::string& key, const ProutRequest& r);
  TaskResult do_release(const std::string& key, const ProutRequest& r);
  TaskResult do_clear(const std::string& key);
  TaskResult do_preempt(const std::string& key, const ProutRequest& r);
  // Removes every registration other than `issuer`'s that has `key` (or all of them when
  // `everyone`), telling each removed nexus REGISTRATIONS PREEMPTED. Returns how many.
  std::size_t preempt_registrations(const std::string& issuer, std::uint64_t key, bool everyone);
  std::string to_text() const;  // the state persist() saves (reservation_store.cpp)

  UnitAttentions& unit_attentions_;
  mutable std::mutex mutex_;
  std::atomic<bool> active_{false};
  std::optional<std::string> spc2_holder_;
  std::vector<Registration> registrations_;
  std::optional<PersistentReservation> reservation_;
  std::uint32_t generation_ = 0;
  std::set<std::string> live_;  // nexus keys logged in now
  std::function<Result<void>(const std::string&)> save_;
};

}  // namespace maya::scsi
