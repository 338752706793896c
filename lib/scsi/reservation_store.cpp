// Reservations that outlive the process (Reservations::persist): the registrations and the
// persistent reservation as JSON, restored at start. A shared replica's LUN keeps its fence
// this way: the volume owner that preempted the others stays the only writer across a restart
// of the process that serves it.
#include <nlohmann/json.hpp>

#include "lib/scsi/reservations.h"

namespace maya::scsi {

using nlohmann::json;

std::string Reservations::to_text() const {
  json registrations = json::array();
  for (const Registration& r : registrations_)
    registrations.push_back({{"nexus", r.nexus_key},
                             {"initiator_port", r.nexus.initiator_port},
                             {"target_port", r.nexus.target_port},
                             {"key", r.key}});
  json out{{"generation", generation_}, {"registrations", registrations}};
  if (reservation_)
    out["reservation"] = {{"type", static_cast<int>(reservation_->type)},
                          {"holder", reservation_->holder},
                          {"key", reservation_->key}};
  return out.dump(2) + "\n";
}

Result<void> Reservations::persist(const std::string& saved,
                                   std::function<Result<void>(const std::string&)> save) {
  std::lock_guard lock(mutex_);
  if (!saved.empty()) {
    const json j = json::parse(saved, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("registrations") ||
        !j["registrations"].is_array())
      return fail("the saved persistent reservations are damaged");
    try {
      std::vector<Registration> registrations;
      for (const json& r : j["registrations"]) {
        Registration g;
        g.nexus_key = r.at("nexus").get<std::string>();
        g.nexus.initiator_port = r.at("initiator_port").get<std::string>();
        g.nexus.target_port = r.at("target_port").get<std::string>();
        g.key = r.at("key").get<std::uint64_t>();
        registrations.push_back(std::move(g));
      }
      std::optional<PersistentReservation> reservation;
      if (j.contains("reservation") && j["reservation"].is_object()) {
        const json& r = j["reservation"];
        const int type = r.at("type").get<int>();
        if (!valid_pr_type(static_cast<std::uint8_t>(type)))
          return fail("the saved persistent reservation has type " + std::to_string(type));
        reservation =
            PersistentReservation{static_cast<PrType>(type), r.at("holder").get<std::string>(),
                                  r.at("key").get<std::uint64_t>()};
      }
      registrations_ = std::move(registrations);
      reservation_ = std::move(reservation);
      generation_ = j.value("generation", std::uint32_t{0});
    } catch (const json::exception& e) {
      return fail(std::string("the saved persistent reservations are damaged: ") + e.what());
    }
  }
  save_ = std::move(save);
  update_active();
  return {};
}

void Reservations::nexus_added(const Nexus& nexus) {
  std::lock_guard lock(mutex_);
  live_.insert(nexus_key(nexus));
}

}  // namespace maya::scsi
