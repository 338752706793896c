// Instance metadata, as EC2's metadata service answers it, on the EBS-compatible API's listener:
// GET /latest/meta-data/ (the index), .../instance-id (this host's id), .../placement/
// availability-zone and .../placement/region, all text/plain. IMDSv2: PUT /latest/api/token with
// X-aws-ec2-metadata-token-ttl-seconds (1-21600) returns a session token; a request that carries
// X-aws-ec2-metadata-token must present a valid, unexpired one (401 otherwise). Requests without
// a token are served too (IMDSv1). botocore finds it through AWS_EC2_METADATA_SERVICE_ENDPOINT.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "lib/http/message.h"

namespace maya::ebs {

struct InstanceIdentity {
  std::string instance_id;  // the host id
  std::string region;
  std::string zone;
};

class Metadata {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Metadata(InstanceIdentity identity) : identity_(std::move(identity)) {}

  // True for the paths this service answers (/latest/...).
  static bool handles(const std::string& target);
  http::Response handle(const http::Request& request);
  // For tests: the answers at a given time.
  http::Response handle(const http::Request& request, Clock::time_point now);

 private:
  http::Response new_token(const http::Request& request, Clock::time_point now);
  bool token_valid(const std::string& token, Clock::time_point now);

  InstanceIdentity identity_;
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> tokens_;  // token → expiry
};

}  // namespace maya::ebs
