#include "lib/http/router.h"

namespace maya::http {

void Router::add(std::string method, std::string pattern, Route route) {
  auto brace = pattern.find('{');
  bool has_param = brace != std::string::npos;
  std::string prefix = has_param ? pattern.substr(0, brace) : pattern;
  entries_.push_back({std::move(method), std::move(prefix), has_param, std::move(route)});
}

Response Router::operator()(const Request& request) const {
  std::string path = request.target.substr(0, request.target.find('?'));
  bool path_known = false;
  for (const Entry& e : entries_) {
    std::string param;
    if (e.has_param) {
      if (path.size() <= e.prefix.size() || path.compare(0, e.prefix.size(), e.prefix) != 0)
        continue;
      param = path.substr(e.prefix.size());
      if (param.find('/') != std::string::npos) continue;
    } else if (path != e.prefix) {
      continue;
    }
    path_known = true;
    if (e.method == request.method) return e.route(request, param);
  }
  if (path_known) return error_(405, request.method + " is not allowed on " + path);
  return error_(404, "no such endpoint: " + request.method + " " + path);
}

}  // namespace maya::http
