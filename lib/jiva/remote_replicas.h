// Replicas of a jiva volume served by other hosts (`maya replica share` there): iscsi:// URIs.
// jiva.json keeps a remote replica's URI without its secret (iscsi://USER@HOST:PORT/IQN/LUN);
// the secrets are in replica-chap.json beside it, mode 0600, by replica id, and are joined to
// the URI only when the target opens the replica. Neither `inspect` nor the logs see them.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "lib/common/result.h"
#include "lib/jiva/manifest.h"

namespace maya::jiva {

inline bool is_remote_uri(const std::string& uri) {
  return uri.starts_with("iscsi://");
}

// A remote replica's URI as a person gives it, taken apart.
struct RemoteUri {
  std::string uri;  // without the secret: iscsi://USER@HOST:PORT/IQN/LUN (or no USER@)
  ChapSecret chap;  // empty when the URI had none
};
// Accepts iscsi://[USER[:SECRET]@]HOST[:PORT]/IQN/LUN (USER%SECRET, libiscsi's form, too);
// HOST is an IPv4 address, a [IPv6] one or a name. Errors never repeat the secret.
Result<RemoteUri> parse_remote_uri(const std::string& text);
// The URI with its secret put back, for the initiator.
std::string uri_with_secret(const std::string& uri, const ChapSecret& chap);

// The key that fences a volume's remote replicas: this owner (host id) and the volume, never 0.
std::uint64_t owner_key(const std::string& owner, const std::string& volume);

inline std::filesystem::path replica_chap_file(const std::filesystem::path& volume_dir) {
  return volume_dir / "replica-chap.json";
}
// Replica id → its credentials; empty when the file does not exist.
Result<std::map<std::string, ChapSecret>> read_replica_chap(
    const std::filesystem::path& volume_dir);
Result<void> write_replica_chap(const std::filesystem::path& volume_dir,
                                const std::map<std::string, ChapSecret>& secrets);

}  // namespace maya::jiva
