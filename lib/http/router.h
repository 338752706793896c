// Maps "METHOD /path" to handlers. Segments written "{name}" match any one non-empty segment;
// the handler gets the matched segments joined by '/' ("/v1/volumes/{name}/snapshots/{snap}"
// on /v1/volumes/db/snapshots/s1 gives "db/s1"; a segment never holds a '/').
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
    std::vector<std::string> pattern;  // its segments
    Route route;
  };
  std::vector<Entry> entries_;
  Fallback error_;
};

}  // namespace maya::http
