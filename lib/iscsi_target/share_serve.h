// `maya replica serve`: the process that shares one replica with other hosts (`maya replica
// share`). It serves the replica's directory as one LUN, its journal area (journal.img, made
// on first use) joined to its data (data.img): lib/replica/remote_layout.h. CHAP is required:
// a share is never reachable without its credentials. The pidfile share.pid in the directory,
// held (flock) while it serves, tells the daemon it runs.
#pragma once

#include <filesystem>
#include <string>

namespace maya::iscsi_target {

struct ShareServeOptions {
  std::filesystem::path dir;  // the replica's directory: data.img (+ journal.img)
  std::string iqn;
  std::string listen;  // "ADDR:PORT"
  std::string chap_user, chap_secret;
  std::uint32_t max_connections = 16;
  std::uint32_t max_connections_per_address = 8;
};

// The pidfile of a share, in its replica's directory.
inline constexpr const char* kSharePidFile = "share.pid";
// Its persistent reservations (the fence between volume owners), kept across restarts.
inline constexpr const char* kShareReservations = "reservations.json";

// Serves until SIGINT or SIGTERM; the process exit status.
int share_serve_main(const ShareServeOptions& options);

}  // namespace maya::iscsi_target
