// The realm as the EBS-compatible API sees it (issue 16), when the host is in one: its hosts
// are the API's instances (instance id = host id), their zones the availability zones, and an
// AttachVolume or DetachVolume for another instance is a request that instance performs. An
// interface, so that the API's actions stay free of etcd: the daemon implements it over the
// realm's store (lib/daemon/realm_requests.h). Without a realm the API has none and serves
// this host alone, as ever.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace maya::ebs {

struct RealmInstance {
  std::string id;  // the host id
  std::string name;
  std::string zone;
  bool up = false;      // its lease is kept
  bool storage = true;  // a storage host: one without volumes never performs an attach
};

// An attach or detach one host's API asked of another: that host (host_id) performs it through
// its own API's code (so its /dev links and catalog get the device) and removes the request;
// a failure is kept in `error`, and a new request replaces it.
struct RealmRequest {
  std::string action;        // "attach" | "detach"
  std::string volume;        // the maya volume
  std::string volume_id;     // its EBS id
  std::string host_id;       // the instance that performs it
  std::string device;        // AttachVolume's Device
  bool force = false;        // DetachVolume's Force
  std::string requested_by;  // the host whose API was asked
  std::string at;            // ISO 8601 UTC
  std::string error;         // why the instance could not perform it ("" : pending)
};

class RealmLink {
 public:
  virtual ~RealmLink() = default;
  virtual const std::string& host_id() const = 0;
  // Every host of the realm, up or down.
  virtual Result<std::vector<RealmInstance>> instances() = 0;
  // The requests in the realm, pending or failed, by volume.
  virtual Result<std::map<std::string, RealmRequest>> requests() = 0;
  // Writes `request` for its volume unless a pending one is there (false: nothing written); a
  // failed one, or one pending for a host that is down, is replaced.
  virtual Result<bool> submit(const RealmRequest& request) = 0;
};

}  // namespace maya::ebs
