#include "lib/jiva/manifest.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "lib/common/errno_text.h"
#include "lib/common/files.h"
#include "lib/common/json_file.h"
#include "lib/common/json_number.h"

namespace maya::jiva {

using nlohmann::json;

std::string iqn_for(const std::string& volume) {
  std::string name;
  bool exact = true;
  for (char c : volume) {
    if (c >= 'A' && c <= 'Z') {
      name += static_cast<char>(c - 'A' + 'a');
      exact = false;
    } else if (c == '_') {
      name += '-';
      exact = false;
    } else {
      name += c;
    }
  }
  if (!exact) {
    std::uint32_t h = 2166136261u;  // FNV-1a of the real name
    for (char c : volume) {
      h ^= static_cast<unsigned char>(c);
      h *= 16777619u;
    }
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "-%08x", h);
    name += suffix;
  }
  return "iqn.2026-11.io.maya:" + name;
}

std::string file_uri(const fs::path& dir) {
  return "file://" + dir.string();
}

Result<fs::path> replica_dir(const ReplicaRef& replica) {
  constexpr std::string_view kScheme = "file://";
  if (!replica.uri.starts_with(kScheme) || replica.uri.size() <= kScheme.size() ||
      replica.uri[kScheme.size()] != '/')
    return fail("replica " + replica.id + ": \"" + replica.uri +
                "\" is not a file:///absolute/path URI (the only kind this host serves)");
  return fs::path(replica.uri.substr(kScheme.size()));
}

namespace {

// jiva.json's fields; a missing or mistyped one throws (see load_json_file).
Result<Manifest> decode_manifest(const json& j, const fs::path& file) {
  Manifest m;
  m.name = j.at("name").get<std::string>();
  m.size_bytes = json_unsigned<std::uint64_t>(j.at("size_bytes"));
  m.thin = j.value("thin", true);
  m.block_size = json_unsigned(j, "block_size", 512u);
  m.iqn = j.at("iqn").get<std::string>();
  m.port = json_unsigned<std::uint16_t>(j.at("port"));
  m.created = j.value("created", "");
  m.last_replica = json_unsigned(j, "last_replica", 0u);
  m.attach = j.value("attach", "auto");
  m.claim_remote = j.value("claim_remote", false);  // absent (older files): false
  m.quorum = j.value("quorum", false);
  m.epoch = json_unsigned(j, "epoch", std::uint64_t{0});
  for (const auto& r : j.at("replicas"))
    m.replicas.push_back(
        {r.at("id").get<std::string>(), r.at("uri").get<std::string>(), r.value("snapshots", "")});
  if (m.replicas.empty()) return fail(file.string() + " lists no replica");
  return m;
}

Result<ChapSecret> decode_chap(const json& j, const JsonFile& file) {
  if (!j.contains("user") || !j.contains("secret") || !j["user"].is_string() ||
      !j["secret"].is_string())
    return fail(file.name() + " " + file.not_an_object);
  return ChapSecret{j["user"].get<std::string>(), j["secret"].get<std::string>()};
}

}  // namespace

Result<Manifest> read_manifest(const fs::path& volume_dir) {
  const fs::path file = manifest_file(volume_dir);
  return load_json_file({.path = file, .not_an_object = "is not a JSON object"},
                        [&](const json& j) { return decode_manifest(j, file); });
}

Result<void> write_manifest(const fs::path& volume_dir, const Manifest& m) {
  json replicas = json::array();
  for (const auto& r : m.replicas) {
    json one = {{"id", r.id}, {"uri", r.uri}};
    if (!r.snapshots.empty()) one["snapshots"] = r.snapshots;
    replicas.push_back(std::move(one));
  }
  json j = {{"name", m.name},
            {"size_bytes", m.size_bytes},
            {"thin", m.thin},
            {"block_size", m.block_size},
            {"iqn", m.iqn},
            {"port", m.port},
            {"created", m.created},
            {"replicas", replicas},
            {"last_replica", m.last_replica},
            {"attach", m.attach}};
  if (m.claim_remote) j["claim_remote"] = true;
  if (m.quorum) j["quorum"] = true;
  if (m.epoch != 0) j["epoch"] = m.epoch;
  return write_file_atomic(manifest_file(volume_dir), j.dump(2) + "\n", 0644);
}

Result<void> clear_claim_remote(const fs::path& volume_dir) {
  const fs::path file = manifest_file(volume_dir);
  MAYA_TRY(j, read_json_file({.path = file, .not_an_object = "is not a JSON object"}));
  if (!j->contains("claim_remote")) return {};
  j->erase("claim_remote");
  return write_file_atomic(file, j->dump(2) + "\n", 0644);
}

Result<ChapSecret> read_chap(const fs::path& volume_dir) {
  const JsonFile file{.path = chap_file(volume_dir),
                      .not_an_object = "is damaged: expected {\"user\": …, \"secret\": …}"};
  std::error_code ec;
  if (!fs::exists(file.path, ec)) return ChapSecret{};
  return load_json_file(file, [&](const json& j) { return decode_chap(j, file); });
}

Result<void> write_chap(const fs::path& volume_dir, const ChapSecret& chap) {
  json j = {{"user", chap.user}, {"secret", chap.secret}};
  return write_file_atomic(chap_file(volume_dir), j.dump(2) + "\n", 0600);
}

Result<std::string> random_secret() {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string out;
  while (out.size() < 16) {
    unsigned char bytes[32];
    ssize_t n = ::getrandom(bytes, sizeof bytes, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(std::string("cannot get random bytes for a CHAP secret: ") + errno_text(errno));
    }
    for (ssize_t i = 0; i < n && out.size() < 16; ++i) {
      if (bytes[i] < 248) out += kAlphabet[bytes[i] % 62];  // 248 = 4 * 62: no modulo bias
    }
  }
  return out;
}

}  // namespace maya::jiva
