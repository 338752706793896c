// Unix socket path checks shared by the server and the client.
#pragma once

#include <filesystem>

#include "lib/common/result.h"

namespace maya::http {

// sun_path holds 107 characters; a longer path is refused with a clear error.
Result<void> check_socket_path(const std::filesystem::path& path);

// Removes a socket file left by a dead process; refuses to remove anything that is not a socket.
Result<void> remove_stale_socket(const std::filesystem::path& path);

}  // namespace maya::http
