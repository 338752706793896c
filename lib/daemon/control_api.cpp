#include "lib/daemon/control_api.h"

namespace maya::daemon {

http::Router make_control_router(ControlHooks hooks) {
  http::Router router(json_error);
  router.add("GET", "/v1/status", [hooks](const http::Request&, const std::string&) {
    return json_response(200, hooks.status());
  });
  router.add("POST", "/v1/reload", [hooks](const http::Request&, const std::string&) {
    auto result = hooks.reload();
    if (!result) return json_error(400, result.error().message);
    return json_response(200, *result);
  });
  router.add("POST", "/v1/shutdown", [hooks](const http::Request& r, const std::string&) {
    auto stopping = hooks.shutdown(r.target.find("stop_targets=true") != std::string::npos);
    if (!stopping) return json_error(409, stopping.error().message);
    return json_response(200, {{"stopping", true}});
  });
  router.add("POST", "/v1/restart", [hooks](const http::Request& r, const std::string&) {
    auto body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("exe") || !body["exe"].is_string())
      return json_error(400, "a restart needs {\"exe\": \"/path/to/maya\"}");
    auto answer = hooks.restart(body["exe"].get<std::string>());
    if (!answer) return json_error(400, answer.error().message);
    return json_response(200, *answer);
  });
  return router;
}

}  // namespace maya::daemon
