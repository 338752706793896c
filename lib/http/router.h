// Maps "METHOD /path" to handlers. A route may end in one "{param}" segment ("/v1/volumes/{name}").
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lib/http/message.h"

namespace maya::http {

class Router {
 public:
  using Route = std::function<Response(const Request&, const std::string& param)>;
  using Fallback = std::function<Response(int status, const std::string& message)>;

  explicit Router(Fallback error) : error_(std::move(error)) {}

  void add(std::string method, std::string pattern, Route route);
  Response operator()(const Request& request) const;

 private:
  struct Entry {
    std::string method;
    std::string prefix;  // the pattern up to "{", or the whole path
    bool has_param;
    Route route;
  };
  std::vector<Entry> entries_;
  Fallback error_;
};

}  // namespace maya::http
