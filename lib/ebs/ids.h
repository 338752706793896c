// Identifiers of the EC2-compatible API: volume and snapshot IDs as EC2 makes them ("vol-" or
// "snap-" + 17 lowercase hex digits), request IDs (UUIDs), and the access key pair `maya init`
// writes. All random from getrandom(2).
#pragma once

#include <string>
#include <string_view>

namespace maya::ebs {

std::string new_volume_id();    // "vol-0123456789abcdef0"
std::string new_snapshot_id();  // "snap-0123456789abcdef0"
std::string new_request_id();   // a version 4 UUID, "8f3c…-…"

bool is_volume_id(std::string_view id);
bool is_snapshot_id(std::string_view id);

struct AccessKeyPair {
  std::string access_key_id;      // "AKIA" + 16 of [A-Z2-7]: 20 characters
  std::string secret_access_key;  // 40 of [A-Za-z0-9+/]
};
AccessKeyPair new_access_key_pair();

// `n` random bytes; throws std::system_error if the kernel has no randomness to give.
std::string random_bytes(std::size_t n);

}  // namespace maya::ebs
