// Plain HTTP messages, free of Beast so that handlers and tests need not include it.
#pragma once

#include <functional>
#include <string>

namespace maya::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/status"
  std::string body;
  // True once the client has closed its connection: it gave up waiting (Docker's plugin client
  // times a Mount out after 2 minutes). Set by the server while the handler runs; empty for
  // requests that did not come from a socket.
  std::function<bool()> caller_gone;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

}  // namespace maya::http
