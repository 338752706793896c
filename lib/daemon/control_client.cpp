#include "lib/daemon/control_client.h"

#include "lib/http/client.h"

namespace maya::daemon {

Result<nlohmann::json> call(const config::Config& config, const std::string& method,
                            const std::string& target, const nlohmann::json& body,
                            std::chrono::milliseconds timeout) {
  http::Request request{method, target, body.is_null() ? std::string() : body.dump()};
  MAYA_TRY(response, http::request(config.control_socket(), request, timeout));
  auto parsed = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return fail("the daemon sent an answer that is not JSON (HTTP " +
                std::to_string(response->status) + ")");
  }
  if (response->status >= 400) {
    if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string())
      return fail(parsed["error"].get<std::string>());
    return fail("the daemon answered HTTP " + std::to_string(response->status));
  }
  return parsed;
}

}  // namespace maya::daemon
