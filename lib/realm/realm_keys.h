// Where a realm keeps what in etcd. Every key of realm NAME is under /maya/realms/NAME/, so
// that realms may share one etcd and one realm's listing never sees another's:
//   hosts/ID         the host's record (JSON: host_record.h); stays when the host goes down
//   alive/ID         present while the host's daemon keeps its lease: liveness
//   volumes/NAME     a realm volume: size, placement, generation (volume_record.h)
//   shares/NAME/ID   the share of NAME's replica on host ID (its URI, published by host ID)
//   attachments/NAME the host a volume is attached on, under that host's lease
//   drains/ID        host ID is being drained (`maya realm drain`): no new replicas go there,
//                    and the owners of its volumes move their replicas off it
//   ebs-requests/NAME an EBS AttachVolume or DetachVolume asked on one host for another host
//                    (the instance), which performs it and removes the key
//                    (lib/daemon/realm_requests.h)
#pragma once

#include <string>
#include <string_view>

namespace maya::realm {

class RealmKeys {
 public:
  explicit RealmKeys(std::string_view realm) : root_("/maya/realms/" + std::string(realm) + "/") {}

  const std::string& root() const { return root_; }
  std::string hosts() const { return root_ + "hosts/"; }
  std::string host(std::string_view id) const { return hosts() + std::string(id); }
  std::string alive() const { return root_ + "alive/"; }
  std::string alive(std::string_view id) const { return alive() + std::string(id); }
  std::string volumes() const { return root_ + "volumes/"; }
  std::string volume(std::string_view name) const { return volumes() + std::string(name); }
  std::string shares(std::string_view volume) const {
    return root_ + "shares/" + std::string(volume) + "/";
  }
  std::string share(std::string_view volume, std::string_view host_id) const {
    return shares(volume) + std::string(host_id);
  }
  std::string drains() const { return root_ + "drains/"; }
  std::string drain(std::string_view id) const { return drains() + std::string(id); }
  std::string attachments() const { return root_ + "attachments/"; }
  std::string attachment(std::string_view name) const { return attachments() + std::string(name); }
  std::string ebs_requests() const { return root_ + "ebs-requests/"; }
  std::string ebs_request(std::string_view name) const {
    return ebs_requests() + std::string(name);
  }

  // The last path element of a key listed under `prefix` ("hosts/ID" → "ID").
  static std::string_view leaf(std::string_view key, std::string_view prefix) {
    return key.substr(prefix.size());
  }

 private:
  std::string root_;
};

}  // namespace maya::realm
