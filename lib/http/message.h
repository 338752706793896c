// Plain HTTP messages, free of Beast so that handlers and tests need not include it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace maya::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/status"
  std::string body;
  // Header fields as received, in order (names as the client spelled them).
  std::vector<std::pair<std::string, std::string>> headers;
  // True once the client has closed its connection: it gave up waiting (Docker's plugin client
  // times a Mount out after 2 minutes). Set by the server while the handler runs; empty for
  // requests that did not come from a socket.
  std::function<bool()> caller_gone;

  // The value of the first header named `name` (case-insensitive); nothing when absent.
  std::optional<std::string> header(std::string_view name) const {
    auto ascii_lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    for (const auto& [key, value] : headers) {
      if (key.size() != name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < key.size() && same; ++i)
        same = ascii_lower(key[i]) == ascii_lower(name[i]);
      if (same) return value;
    }
    return std::nullopt;
  }
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

}  // namespace maya::http
