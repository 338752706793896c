#include "lib/scsi/reservations.h"

#include <algorithm>

#include "lib/common/log.h"
#include "lib/scsi/opcodes.h"
#include "lib/scsi/sense.h"

namespace maya::scsi {

bool valid_pr_type(std::uint8_t type) {
  return type == 1 || type == 3 || (type >= 5 && type <= 8);
}

bool all_registrants(PrType type) {
  return type == PrType::kWriteExclusiveAllRegistrants ||
         type == PrType::kExclusiveAccessAllRegistrants;
}

void Reservations::update_active() {
  active_.store(spc2_holder_.has_value() || reservation_.has_value(), std::memory_order_relaxed);
}

std::vector<Registration>::iterator Reservations::find(const std::string& key) {
  return std::find_if(registrations_.begin(), registrations_.end(),
                      [&](const Registration& r) { return r.nexus_key == key; });
}

std::vector<Registration>::const_iterator Reservations::find(const std::string& key) const {
  return std::find_if(registrations_.begin(), registrations_.end(),
                      [&](const Registration& r) { return r.nexus_key == key; });
}

bool Reservations::holds(const std::string& key) const {
  if (!reservation_) return false;
  if (all_registrants(reservation_->type)) return find(key) != registrations_.end();
  return reservation_->holder == key;
}

bool Reservations::conflicts(const Nexus& nexus, const CommandInfo& command) const {
  std::lock_guard lock(mutex_);
  const std::string key = nexus_key(nexus);
  if (spc2_holder_ && *spc2_holder_ != key && !command.spc2_allowed) return true;
  if (!reservation_) return false;
  if (command.access == Access::kNone || command.access == Access::kHandler) return false;
  if (holds(key)) return false;
  const bool registered = find(key) != registrations_.end();
  switch (reservation_->type) {
    case PrType::kWriteExclusive:
      return command.access == Access::kWrite;
    case PrType::kExclusiveAccess:
      return true;
    case PrType::kWriteExclusiveRegistrantsOnly:
    case PrType::kWriteExclusiveAllRegistrants:
      return command.access == Access::kWrite && !registered;
    case PrType::kExclusiveAccessRegistrantsOnly:
    case PrType::kExclusiveAccessAllRegistrants:
      return !registered;
  }
  return false;
}

TaskResult Reservations::reserve(const Nexus& nexus) {
  std::lock_guard lock(mutex_);
  const std::string key = nexus_key(nexus);
  // SPC-4 5.13.3: RESERVE(6)/(10) conflicts with any persistent reservation.
  if (reservation_ || (spc2_holder_ && *spc2_holder_ != key)) return reservation_conflict();
  spc2_holder_ = key;
  update_active();
  return good();
}

TaskResult Reservations::release(const Nexus& nexus) {
  std::lock_guard lock(mutex_);
  const std::string key = nexus_key(nexus);
  if (reservation_) {  // completes without effect for registrants, conflicts for others
    return find(key) != registrations_.end() ? good() : reservation_conflict();
  }
  if (spc2_holder_ == key) {
    spc2_holder_.reset();
    update_active();
  }
  return good();  // releasing a reservation held by someone else is a no-op
}

void Reservations::nexus_lost(const Nexus& nexus) {
  std::lock_guard lock(mutex_);
  live_.erase(nexus_key(nexus));
  if (spc2_holder_ == nexus_key(nexus)) {
    spc2_holder_.reset();
    update_active();
  }
}

void Reservations::reset() {
  std::lock_guard lock(mutex_);
  spc2_holder_.reset();
  update_active();
}

PrSnapshot Reservations::snapshot() const {
  std::lock_guard lock(mutex_);
  return PrSnapshot{generation_, registrations_, reservation_};
}

void Reservations::unregister(std::vector<Registration>::iterator it, bool notify_release) {
  const std::string key = it->nexus_key;
  registrations_.erase(it);
  if (!reservation_) return;
  const PrType type = reservation_->type;
  if (all_registrants(type)) {
    if (registrations_.empty()) reservation_.reset();
    return;
  }
  if (reservation_->holder != key) return;
  reservation_.reset();
  if (notify_release && (type == PrType::kWriteExclusiveRegistrantsOnly ||
                         type == PrType::kExclusiveAccessRegistrantsOnly)) {
    for (const Registration& r : registrations_) {
      unit_attentions_.post(r.nexus_key, asc::kReservationsReleased);
    }
  }
}

std::size_t Reservations::preempt_registrations(const std::string& issuer, std::uint64_t key,
                                                bool everyone) {
  std::size_t removed = 0;
  for (auto it = registrations_.begin(); it != registrations_.end();) {
    if (it->nexus_key != issuer && (everyone || it->key == key)) {
      unit_attentions_.post(it->nexus_key, asc::kRegistrationsPreempted);
      it = registrations_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

TaskResult Reservations::do_register(const Nexus& nexus, const std::string& key,
                                     const ProutRequest& r, bool ignore_existing) {
  auto it = find(key);
  if (it == registrations_.end()) {
    if (!ignore_existing && r.key != 0) return reservation_conflict();
    if (r.sa_key == 0) return good();  // unregistering an unregistered nexus: nothing to do
    // Gone sessions of the same key make way (never the reservation's holder: it keeps it).
    std::erase_if(registrations_, [&](const Registration& g) {
      return g.key == r.sa_key && !live_.contains(g.nexus_key) &&
             !(reservation_ && reservation_->holder == g.nexus_key);
    });
    registrations_.push_back(Registration{key, nexus, r.sa_key});
    ++generation_;
    return good();
  }
  if (!ignore_existing && r.key != it->key) return reservation_conflict();
  if (r.sa_key == 0) {
    unregister(it, true);
  } else {
    it->key = r.sa_key;
    if (reservation_ && !all_registrants(reservation_->type) && reservation_->holder == key) {
      reservation_->key = r.sa_key;
    }
  }
  ++generation_;
  return good();
}

TaskResult Reservations::do_reserve(const std::string& key, const ProutRequest& r) {
  auto it = find(key);
  if (it == registrations_.end() || it->key != r.key) return reservation_conflict();
  if (r.scope != 0) return invalid_field_in_cdb(2, 7);
  if (!valid_pr_type(r.type)) return invalid_field_in_cdb(2, 3);
  const auto type = static_cast<PrType>(r.type);
  if (reservation_) {
    return holds(key) && reservation_->type == type ? good() : reservation_conflict();
  }
  const bool shared = all_registrants(type);
  reservation_ = PersistentReservation{type, shared ? std::string() : key, shared ? 0 : r.key};
  return good();
}

TaskResult Reservations::do_release(const std::string& key, const ProutRequest& r) {
  auto it = find(key);
  if (it == registrations_.end() || it->key != r.key) return reservation_conflict();
  if (!reservation_ || !holds(key)) return good();
  if (r.scope != 0 || r.type != static_cast<std::uint8_t>(reservation_->type)) {
    return check_condition(sense_key::kIllegalRequest, asc::kInvalidReleaseOfPersistentReservation);
  }
  const PrType type = reservation_->type;
  reservation_.reset();
  if (type != PrType::kWriteExclusive && type != PrType::kExclusiveAccess) {
    for (const Registration& reg : registrations_) {
      if (reg.nexus_key != key) unit_attentions_.post(reg.nexus_key, asc::kReservationsReleased);
    }
  }
  return good();
}

TaskResult Reservations::do_clear(const std::string& key) {
  for (const Registration& reg : registrations_) {
    if (reg.nexus_key != key) unit_attentions_.post(reg.nexus_key, asc::kReservationsPreempted);
  }
  registrations_.clear();
  reservation_.reset();
  ++generation_;
  return good();
}

TaskResult Reservations::do_preempt(const std::string& key, const ProutRequest& r) {
  auto it = find(key);
  if (it == registrations_.end() || it->key != r.key) return reservation_conflict();
  const std::uint64_t issuer_key = it->key;
  auto take_over = [&]() -> TaskResult {
    if (r.scope != 0) return invalid_field_in_cdb(2, 7);
    if (!valid_pr_type(r.type)) return invalid_field_in_cdb(2, 3);
    const auto type = static_cast<PrType>(r.type);
    const bool everyone = all_registrants(reservation_->type) && r.sa_key == 0;
    preempt_registrations(key, r.sa_key, everyone);
    const bool shared = all_registrants(type);
    reservation_ =
        PersistentReservation{type, shared ? std::string() : key, shared ? 0 : issuer_key};
    ++generation_;
    return good();
  };
  if (!reservation_) {
    if (r.sa_key == 0) return invalid_field_in_parameter_list(8);
    if (preempt_registrations(key, r.sa_key, false) == 0) return reservation_conflict();
    ++generation_;
    return good();
  }
  if (all_registrants(reservation_->type) ? r.sa_key == 0 : r.sa_key == reservation_->key) {
    return take_over();
  }
  if (r.sa_key == 0) return invalid_field_in_parameter_list(8);
  if (preempt_registrations(key, r.sa_key, false) == 0) return reservation_conflict();
  if (reservation_ && all_registrants(reservation_->type) && registrations_.empty()) {
    reservation_.reset();
  }
  ++generation_;
  return good();
}

TaskResult Reservations::persistent_out(const Nexus& nexus, const ProutRequest& request) {
  std::lock_guard lock(mutex_);
  const std::string key = nexus_key(nexus);
  const std::uint32_t before = generation_;
  // What a change whose save fails is rolled back to (the saved state stays the one in force).
  auto registrations_before = save_ ? registrations_ : std::vector<Registration>{};
  auto reservation_before = reservation_;
  const auto held_before = reservation_
                               ? std::optional<std::string>(reservation_->holder + "/" +
                                                            std::to_string(reservation_->key))
                               : std::nullopt;
  TaskResult result;
  switch (request.service_action) {
    case op::kProutRegister:
      result = do_register(nexus, key, request, false);
      break;
    case op::kProutRegisterAndIgnore:
      result = do_register(nexus, key, request, true);
      break;
    case op::kProutReserve:
      result = do_reserve(key, request);
      break;
    case op::kProutRelease:
      result = do_release(key, request);
      break;
    case op::kProutClear: {
      auto it = find(key);
      result = it == registrations_.end() || it->key != request.key ? reservation_conflict()
                                                                    : do_clear(key);
      break;
    }
    case op::kProutPreempt:
    case op::kProutPreemptAndAbort:  // tasks run to completion here: nothing to abort
      result = do_preempt(key, request);
      break;
    default:
      result = invalid_field_in_cdb(1, 4);
  }
  update_active();
  const auto held_after = reservation_
                              ? std::optional<std::string>(reservation_->holder + "/" +
                                                           std::to_string(reservation_->key))
                              : std::nullopt;
  if (save_ && (generation_ != before || held_before != held_after)) {
    if (auto saved = save_(to_text()); !saved) {
      log::error("persistent reservations: " + saved.error().message + "; the change is undone");
      registrations_ = std::move(registrations_before);
      reservation_ = std::move(reservation_before);
      generation_ = before;
      update_active();
      return check_condition(sense_key::kHardwareError, asc::kInternalTargetFailure);
    }
  }
  return result;
}

}  // namespace maya::scsi
