// A small HTTP/1.1 client for Unix sockets, used by the CLI (control socket) and the tests
// (plugin socket). Every call is bounded by a timeout.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "lib/common/result.h"
#include "lib/http/message.h"

namespace maya::http {

Result<Response> request(const std::filesystem::path& socket_path, const Request& request,
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace maya::http
