#include "lib/jiva/remote_replicas.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "lib/common/files.h"
#include "lib/common/json_file.h"

namespace maya::jiva {

namespace {
using nlohmann::json;
constexpr std::string_view kScheme = "iscsi://";
constexpr const char* kForm = "iscsi://USER:SECRET@HOST:PORT/IQN/LUN";
}  // namespace

Result<RemoteUri> parse_remote_uri(const std::string& text) {
  if (!text.starts_with(kScheme))
    return fail("a remote replica is an " + std::string(kForm) + " URI");
  std::string rest = text.substr(kScheme.size());
  RemoteUri out;
  // USER[:SECRET]@ — the last '@' ends it: a secret may hold '@' or '/', a portal and an IQN
  // never hold '@'.
  const auto at = rest.rfind('@');
  if (at != std::string::npos) {
    const std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto sep = userinfo.find_first_of(":%");
    out.chap.user = userinfo.substr(0, sep);
    if (sep != std::string::npos) out.chap.secret = userinfo.substr(sep + 1);
    if (out.chap.user.empty())
      return fail("the remote replica URI names a secret but no user (" + std::string(kForm) + ")");
    if (out.chap.secret.empty())
      return fail("the remote replica URI for user " + out.chap.user +
                  " has no secret (USER:SECRET@; a share always asks for its credentials)");
  }
  // HOST[:PORT]/IQN/LUN
  const auto first = rest.find('/');
  if (first == std::string::npos || first == 0)
    return fail("remote replica URI without a host: expected " + std::string(kForm));
  const std::string portal = rest.substr(0, first);
  const std::string path = rest.substr(first + 1);
  const auto second = path.rfind('/');
  if (second == std::string::npos || second == 0 || second + 1 == path.size())
    return fail("remote replica URI " + out.chap.user + "@" + portal + "/…: expected " +
                std::string(kForm) + " (the IQN, then the LUN)");
  const std::string iqn = path.substr(0, second), lun = path.substr(second + 1);
  if (!iqn.starts_with("iqn.") && !iqn.starts_with("eui.") && !iqn.starts_with("naa."))
    return fail("remote replica URI: \"" + iqn + "\" is not an iSCSI name (iqn.…)");
  unsigned lun_number = 0;
  if (auto [end, ec] = std::from_chars(lun.data(), lun.data() + lun.size(), lun_number);
      ec != std::errc() || end != lun.data() + lun.size() || lun_number > 255)
    return fail("remote replica URI: LUN \"" + lun + "\" is not a number from 0 to 255");
  // The portal: [v6]:port, host:port or host.
  std::string host = portal;
  if (portal.starts_with("[")) {
    const auto close = portal.find(']');
    if (close == std::string::npos) return fail("remote replica URI: unclosed [ in " + portal);
    host = portal.substr(0, close + 1);
    if (close + 1 < portal.size()) {
      if (portal[close + 1] != ':') return fail("remote replica URI: bad portal " + portal);
      host += portal.substr(close + 1);
    }
  }
  if (const auto colon = portal.rfind(':');
      !portal.starts_with("[") && colon != std::string::npos) {
    unsigned port = 0;
    const std::string p = portal.substr(colon + 1);
    if (auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        ec != std::errc() || end != p.data() + p.size() || port == 0 || port > 65535)
      return fail("remote replica URI: port \"" + p + "\" is not 1 to 65535");
  }
  for (char c : host)
    if (c == ' ' || c == '\t' || c == '"' || c == '\\')
      return fail("remote replica URI: bad host \"" + host + "\"");
  out.uri = std::string(kScheme) + (out.chap.user.empty() ? "" : out.chap.user + "@") + host + "/" +
            iqn + "/" + lun;
  return out;
}

std::string uri_with_secret(const std::string& uri, const ChapSecret& chap) {
  if (chap.user.empty() || !uri.starts_with(kScheme)) return uri;
  std::string rest = uri.substr(kScheme.size());
  if (const auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  return std::string(kScheme) + chap.user + ":" + chap.secret + "@" + rest;
}

std::uint64_t owner_key(const std::string& owner, const std::string& volume) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (char c : owner + "/" + volume) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h == 0 ? 1 : h;
}

Result<std::map<std::string, ChapSecret>> read_replica_chap(const std::filesystem::path& dir) {
  const JsonFile file{.path = replica_chap_file(dir),
                      .not_an_object = "is damaged: expected {\"r2\": {\"user\", \"secret\"}}"};
  std::error_code ec;
  if (!std::filesystem::exists(file.path, ec)) return std::map<std::string, ChapSecret>{};
  return load_json_file(file, [&](const json& j) -> Result<std::map<std::string, ChapSecret>> {
    std::map<std::string, ChapSecret> out;
    for (const auto& [id, entry] : j.items())
      out[id] = {entry.at("user").get<std::string>(), entry.at("secret").get<std::string>()};
    return out;
  });
}

Result<void> write_replica_chap(const std::filesystem::path& dir,
                                const std::map<std::string, ChapSecret>& secrets) {
  json j = json::object();
  for (const auto& [id, chap] : secrets) j[id] = {{"user", chap.user}, {"secret", chap.secret}};
  return write_file_atomic(replica_chap_file(dir), j.dump(2) + "\n", 0600);
}

}  // namespace maya::jiva
