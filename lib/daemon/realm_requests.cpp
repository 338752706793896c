#include "lib/daemon/realm_requests.h"

#include <algorithm>
#include <chrono>

#include "lib/common/log.h"
#include "lib/daemon/daemon_server.h"
#include "lib/ebs/catalog.h"

namespace maya::daemon {

using nlohmann::json;

namespace {
// How long a request may wait for its host. Longer, and the volume may have been attached,
// used and detached elsewhere since it was asked.
constexpr std::chrono::seconds kRequestLifetime{60};
}  // namespace

json request_json(const ebs::RealmRequest& r) {
  return {{"action", r.action},
          {"volume", r.volume},
          {"volume_id", r.volume_id},
          {"host", r.host_id},
          {"device", r.device},
          {"force", r.force},
          {"requested_by", r.requested_by},
          {"at", r.at},
          {"error", r.error}};
}

Result<ebs::RealmRequest> request_from_json(std::string_view text, std::string_view key) {
  const std::string where(key);
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(where + ": not a JSON object");
  try {
    ebs::RealmRequest r;
    r.action = doc.at("action").get<std::string>();
    r.volume = doc.at("volume").get<std::string>();
    r.volume_id = doc.at("volume_id").get<std::string>();
    r.host_id = doc.at("host").get<std::string>();
    r.device = doc.value("device", std::string());
    r.force = doc.value("force", false);
    r.requested_by = doc.value("requested_by", std::string());
    r.at = doc.value("at", std::string());
    r.error = doc.value("error", std::string());
    return r;
  } catch (const json::exception& e) {
    return fail(where + ": " + e.what());
  }
}

Result<std::vector<ebs::RealmInstance>> RealmEbsLink::instances() {
  MAYA_TRY(hosts, realm::list_hosts(agent_.store(), agent_.keys()));
  std::vector<ebs::RealmInstance> all;
  for (const realm::HostView& h : hosts->hosts) {
    const auto& roles = h.record.roles;
    all.push_back({h.record.id, h.record.name.empty() ? h.record.id : h.record.name, h.record.zone,
                   h.up, std::find(roles.begin(), roles.end(), "storage") != roles.end()});
  }
  return all;
}

Result<std::map<std::string, ebs::RealmRequest>> RealmEbsLink::requests() {
  const std::string prefix = agent_.keys().ebs_requests();
  MAYA_TRY(listed, agent_.store().list(prefix));
  std::map<std::string, ebs::RealmRequest> all;
  for (const realm::KeyValue& kv : listed->items) {
    auto request = request_from_json(kv.value, kv.key);
    if (!request) {
      log::warn("realm: " + request.error().message);
      continue;
    }
    all.emplace(std::string(realm::RealmKeys::leaf(kv.key, prefix)), std::move(*request));
  }
  return all;
}

Result<bool> RealmEbsLink::submit(const ebs::RealmRequest& request) {
  const std::string key = agent_.keys().ebs_request(request.volume);
  const std::string value = request_json(request).dump();
  MAYA_TRY(created, agent_.store().create(key, value));
  if (*created) return true;
  MAYA_TRY(kv, agent_.store().get(key));
  if (!*kv) return agent_.store().create(key, value);  // gone meanwhile (performed)
  auto pending = request_from_json((*kv)->value, (*kv)->key);
  bool replace = !pending || !pending->error.empty();
  if (!replace) {
    // Pending for a host that is down: it would wait for that host forever.
    MAYA_TRY(all, instances());
    replace = true;
    for (const ebs::RealmInstance& i : *all)
      if (i.id == pending->host_id && i.up) replace = false;
  }
  if (!replace) return false;
  return agent_.store().replace(key, value, (*kv)->mod_revision);
}

std::vector<std::string> RealmRequests::serve() {
  std::vector<std::string> notes;
  const std::string prefix = agent_.keys().ebs_requests();
  auto listed = agent_.store().list(prefix);
  if (!listed) return notes;  // etcd away: the next pass tries again
  for (const realm::KeyValue& kv : listed->items) {
    auto request = request_from_json(kv.value, kv.key);
    if (!request || request->host_id != host_id_) continue;
    const std::string what = request->action + " of volume " + request->volume + " (" +
                             request->volume_id + ") asked through " + request->requested_by;
    // The volume deleted meanwhile: nothing to perform, nor to keep the request for.
    auto volume = agent_.store().get(agent_.keys().volume(request->volume));
    if (!volume) continue;
    if (!*volume) {
      if (auto removed = agent_.store().remove(kv.key, kv.mod_revision); removed && *removed)
        notes.push_back(what + ": dropped, the volume is gone");
      continue;
    }
    if (!request->error.empty()) continue;  // failed: kept until a new request replaces it
    // Asked long ago (this host was away meanwhile): the volume may have been attached, used
    // and detached elsewhere since, so it is not done now; the asker sees it failed.
    const auto asked = ebs::parse_iso8601(request->at);
    if (!asked || std::chrono::system_clock::now() - *asked > kRequestLifetime) {
      request->error = "not performed within " + std::to_string(kRequestLifetime.count()) +
                       " s of being asked (host away?); ask again";
      (void)agent_.store().replace(kv.key, request_json(*request).dump(), kv.mod_revision);
      notes.push_back(what + ": expired");
      continue;
    }
    auto done = api_.perform(*request);
    if (done && !*done) continue;  // the API is busy changing volumes: the next pass
    if (done) {
      // Removed only as performed: a newer request written meanwhile stays for the next pass.
      if (auto removed = agent_.store().remove(kv.key, kv.mod_revision); !removed)
        log::warn("realm: cannot remove " + kv.key + ": " + removed.error().message);
      notes.push_back(what + ": done");
      continue;
    }
    request->error = done.error().message;
    if (auto kept = agent_.store().replace(kv.key, request_json(*request).dump(), kv.mod_revision);
        !kept)
      log::warn("realm: cannot record the failure in " + kv.key + ": " + kept.error().message);
    notes.push_back(what + ": failed: " + request->error);
  }
  return notes;
}

// On the realm thread, each pass: requests for this host are performed as soon as the watch on
// the realm wakes it.
void Daemon::serve_ebs_requests() {
  if (!realm_requests_) return;
  for (const std::string& note : realm_requests_->serve()) log::info("EBS API (realm): " + note);
}

}  // namespace maya::daemon
