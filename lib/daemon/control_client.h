// The CLI's side of the control API: one JSON call to the daemon named by a config.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "lib/common/result.h"
#include "lib/config/config.h"

namespace maya::daemon {

// Calls the daemon's control socket; an {"error": …} answer or a transport failure is an Error.
Result<nlohmann::json> call(const config::Config& config, const std::string& method,
                            const std::string& target, const nlohmann::json& body = nullptr,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace maya::daemon
