// Plain HTTP messages, free of Beast so that handlers and tests need not include it.
#pragma once

#include <string>

namespace maya::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/status"
  std::string body;
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

}  // namespace maya::http
