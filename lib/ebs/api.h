// The EBS-compatible API: one HTTP handler for the daemon's TCP listener ([api] listen). It serves
// instance metadata (metadata.h) under /latest/ and the EC2 Query protocol (POST /, or GET with a
// query string) for volumes, snapshots, attachments and tags, over the host's VolumeService.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "lib/ebs/metadata.h"
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
};

// Request bodies beyond this are refused (413) before any handler runs: EC2 Query requests are
// small (a CreateTags with 50 tags is a few KiB).
inline constexpr std::size_t kApiBodyLimit = 1 << 20;

class Api {
 public:
  // `volumes` may be null (a host without the storage role): metadata is served, actions are
  // refused.
  Api(ApiSettings settings, drivers::VolumeService* volumes);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  http::Response operator()(const http::Request& request);

 private:
  ApiSettings settings_;
  drivers::VolumeService* volumes_;
  Metadata metadata_;
};

// The answer to a request the HTTP server refuses itself (malformed, too large), in the shape
// the client expects: EC2's XML error document.
http::Response server_error(int status, const std::string& message);

}  // namespace maya::ebs
