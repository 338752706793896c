// JSON responses as every maya API shapes them: the body, or {"error": "one sentence"}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "lib/http/message.h"

namespace maya::http {

inline Response json_response(int status, const nlohmann::json& body) {
  return Response{status, body.dump() + "\n", "application/json"};
}

inline Response json_error(int status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

}  // namespace maya::http
