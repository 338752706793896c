// The EBS-compatible API in a realm (issue 16): the realm's hosts are the API's instances, and
// an AttachVolume or DetachVolume any host's API accepts for another host is a request in etcd
// (ebs-requests/NAME) that the named host performs.
//   - RealmEbsLink is what the API reads and writes of the realm (ebs::RealmLink);
//   - RealmRequests runs on the host's realm thread: it performs the requests for this host
//     through the host's own API (its /dev links and catalog get the device and instance, as
//     for an AttachVolume asked of it) and removes each one done; a failure is logged and kept
//     in the request, which the next AttachVolume or DetachVolume for the volume replaces; a
//     request whose volume was deleted is dropped.
#pragma once

#include <string>
#include <vector>

#include "lib/ebs/api.h"
#include "lib/ebs/realm_link.h"
#include "lib/realm/host_agent.h"

namespace maya::daemon {

class RealmEbsLink final : public ebs::RealmLink {
 public:
  RealmEbsLink(realm::HostAgent& agent, std::string host_id)
      : agent_(agent), host_id_(std::move(host_id)) {}
  const std::string& host_id() const override { return host_id_; }
  Result<std::vector<ebs::RealmInstance>> instances() override;
  Result<std::map<std::string, ebs::RealmRequest>> requests() override;
  // A pending request is replaced only when its host is down (it would never be performed).
  Result<bool> submit(const ebs::RealmRequest& request) override;

 private:
  realm::HostAgent& agent_;
  const std::string host_id_;
};

class RealmRequests {
 public:
  RealmRequests(realm::HostAgent& agent, ebs::Api& api, std::string host_id)
      : agent_(agent), api_(api), host_id_(std::move(host_id)) {}
  // Performs this host's pending requests; one line per request done or failed, for the log.
  std::vector<std::string> serve();

 private:
  realm::HostAgent& agent_;
  ebs::Api& api_;
  const std::string host_id_;
};

// A request as etcd keeps it (JSON), and back; `key` names it in errors.
nlohmann::json request_json(const ebs::RealmRequest& request);
Result<ebs::RealmRequest> request_from_json(std::string_view text, std::string_view key);

}  // namespace maya::daemon
