#include "lib/http/router.h"

namespace maya::http {
namespace {

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Route route) {
  entries_.push_back({std::move(method), segments(pattern), std::move(route)});
}

Response Router::operator()(const Request& request) const {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path.empty() || path[0] != '/') return error_(404, "no such endpoint: " + path);
  const auto parts = segments(path);
  bool path_known = false;
  for (const Entry& e : entries_) {
    if (e.pattern.size() != parts.size()) continue;
    std::string params;
    bool match = true;
    for (std::size_t i = 0; i < parts.size() && match; ++i) {
      const std::string& p = e.pattern[i];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        if (parts[i].empty()) match = false;
        params += (params.empty() ? "" : "/") + parts[i];
      } else {
        match = p == parts[i];
      }
    }
    if (!match) continue;
    path_known = true;
    if (e.method == request.method) return e.route(request, params);
  }
  if (path_known) return error_(405, request.method + " is not allowed on " + path);
  return error_(404, "no such endpoint: " + request.method + " " + path);
}

}  // namespace maya::http
