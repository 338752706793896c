// JSON responses as every maya API shapes them: the body, or {"error": "one sentence"}.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "lib/http/message.h"

namespace maya::http {

// JSON text of `value`. Strings that are not UTF-8 (a request's bytes echoed in an error) get
// U+FFFD for each bad byte instead of an exception: dump() would throw and turn a 4xx into a 500.
inline std::string dump_json(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline Response json_response(int status, const nlohmann::json& body) {
  return Response{status, dump_json(body) + "\n", "application/json"};
}

inline Response json_error(int status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

}  // namespace maya::http
