// The EBS-compatible API: one HTTP handler for the daemon's TCP listener ([api] listen). It serves
// instance metadata (metadata.h) under /latest/ and the EC2 Query protocol (POST /, or GET with a
// query string) for volumes, snapshots, attachments and tags, over the host's VolumeService.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/config.h"
#include "lib/ebs/metadata.h"
#include "lib/ebs/realm_link.h"
#include "lib/http/message.h"

namespace maya::drivers {
class VolumeService;
}

namespace maya::ebs {

struct ApiSettings {
  InstanceIdentity identity;
  std::filesystem::path credentials;  // AWS shared-credentials file, profile [maya]
  std::chrono::seconds max_clock_skew{15 * 60};
  std::filesystem::path state_dir;  // where the catalog (EBS ids ↔ maya names) lives
  std::filesystem::path dev_dir;    // <dev>/<vol-id> and <dev>/by-name/<name> of attached volumes
  // In a realm: its hosts as instances, requests to them (realm_link.h); null: this host alone.
  RealmLink* realm = nullptr;
};

// Request bodies beyond this are refused (413) before any handler runs: EC2 Query requests are
// small (a CreateTags with 50 tags is a few KiB).
inline constexpr std::size_t kApiBodyLimit = 1 << 20;

struct Backend;

class Api {
 public:
  // `volumes` may be null (a host without the storage role): metadata is served, actions are
  // refused. `defaults` gives the current [volume.defaults] (a reload changes them). The
  // catalog is read from the state directory; a damaged one is logged and every action then
  // answers InternalError naming it.
  Api(ApiSettings settings, drivers::VolumeService* volumes,
      std::function<config::VolumeDefaults()> defaults);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  http::Response operator()(const http::Request& request);
  // The EBS id (vol-…) of the maya volume `name`, as DescribeVolumes shows it: given on first
  // sight (`created`, ISO 8601, is its CreateTime) and saved at once, so that `maya volume
  // inspect` and the API agree from then on. Nothing while the catalog is damaged or cannot be
  // saved (an id that is not kept would not be stable).
  // A realm volume's id is the one the realm records (`realm_id`), the same on every host.
  std::optional<std::string> volume_id(const std::string& name, const std::string& created,
                                       const std::string& realm_id = "");
  // In a realm: performs a request another host's API made of this one (this host is its
  // instance) through the same code as this host's own AttachVolume or DetachVolume. False
  // (nothing done) while another action changes volumes: the caller tries again later, rather
  // than wait on an action that may itself wait for the caller (CreateVolume waits for the
  // realm thread to share this host's replica).
  Result<bool> perform(const RealmRequest& request);
  // For tests: with the clock SigV4 checks dates against.
  http::Response handle(const http::Request& request, std::chrono::system_clock::time_point now);

 private:
  http::Response action(const http::Request& request, std::chrono::system_clock::time_point now);

  std::unique_ptr<Backend> backend_;
  Metadata metadata_;
  std::string catalog_error_;  // set when the catalog could not be read
};

// The actions the API answers, by name (for the README and tests).
std::vector<std::string> action_names();

// The answer to a request the HTTP server refuses itself (malformed, too large), in the shape
// the client expects: EC2's XML error document.
http::Response server_error(int status, const std::string& message);

}  // namespace maya::ebs
