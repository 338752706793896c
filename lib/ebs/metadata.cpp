#include "lib/ebs/metadata.h"

#include <sys/random.h>

#include <charconv>

namespace maya::ebs {
namespace {

constexpr long kMaxTtlSeconds = 21600;  // EC2's limit: 6 hours
// Live tokens kept at most; past it the one closest to expiry gives way.
constexpr std::size_t kMaxTokens = 4096;

http::Response text(int status, std::string body) {
  return http::Response{status, std::move(body), "text/plain"};
}

std::string random_token() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token;
  for (unsigned char b : bytes) token += kAlphabet[b % 64];
  return token;
}

// The path without its query string.
std::string path_of(const std::string& target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

bool Metadata::handles(const std::string& target) {
  std::string path = path_of(target);
  return path == "/latest" || path.rfind("/latest/", 0) == 0;
}

http::Response Metadata::handle(const http::Request& request) {
  return handle(request, Clock::now());
}

http::Response Metadata::handle(const http::Request& request, Clock::time_point now) {
  const std::string path = path_of(request.target);
  if (path == "/latest/api/token") {
    if (request.method != "PUT") return text(405, "use PUT for /latest/api/token");
    return new_token(request, now);
  }
  if (request.method != "GET" && request.method != "HEAD")
    return text(405, request.method + " is not allowed on " + path);
  if (auto token = request.header("X-aws-ec2-metadata-token"); token && !token_valid(*token, now))
    return text(401, "the X-aws-ec2-metadata-token is invalid or expired");

  // A trailing slash names the same entry (botocore asks for ".../availability-zone/").
  std::string key = path;
  while (key.size() > 1 && key.back() == '/') key.pop_back();
  if (key == "/latest") return text(200, "meta-data/");
  if (key == "/latest/meta-data") return text(200, "instance-id\nplacement/");
  if (key == "/latest/meta-data/instance-id") return text(200, identity_.instance_id);
  if (key == "/latest/meta-data/placement") return text(200, "availability-zone\nregion");
  if (key == "/latest/meta-data/placement/availability-zone") return text(200, identity_.zone);
  if (key == "/latest/meta-data/placement/region") return text(200, identity_.region);
  return text(404, "no metadata at " + path);
}

http::Response Metadata::new_token(const http::Request& request, Clock::time_point now) {
  auto ttl_text = request.header("X-aws-ec2-metadata-token-ttl-seconds");
  if (!ttl_text) return text(400, "X-aws-ec2-metadata-token-ttl-seconds is missing");
  long ttl = 0;
  auto [end, ec] = std::from_chars(ttl_text->data(), ttl_text->data() + ttl_text->size(), ttl);
  if (ec != std::errc() || end != ttl_text->data() + ttl_text->size() || ttl < 1 ||
      ttl > kMaxTtlSeconds)
    return text(400, "X-aws-ec2-metadata-token-ttl-seconds must be a number of seconds from 1 to " +
                         std::to_string(kMaxTtlSeconds));
  std::string token = random_token();
  std::lock_guard lock(mutex_);
  std::erase_if(tokens_, [&](const auto& entry) { return entry.second <= now; });
  if (tokens_.size() >= kMaxTokens) {
    auto soonest = tokens_.begin();
    for (auto it = tokens_.begin(); it != tokens_.end(); ++it)
      if (it->second < soonest->second) soonest = it;
    tokens_.erase(soonest);
  }
  tokens_[token] = now + std::chrono::seconds(ttl);
  return text(200, token);
}

bool Metadata::token_valid(const std::string& token, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  return it != tokens_.end() && it->second > now;
}

}  // namespace maya::ebs
