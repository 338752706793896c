#include "lib/daemon/discovery_chap.h"

#include <nlohmann/json.hpp>
#include <system_error>

#include "lib/common/files.h"
#include "lib/jiva/manifest.h"

namespace maya::daemon {

using nlohmann::json;

std::filesystem::path discovery_chap_file(const config::Config& config) {
  return config.state_dir / "discovery-chap.json";
}

Result<iscsi::ChapCredentials> read_discovery_chap(const config::Config& config) {
  const auto file = discovery_chap_file(config);
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return iscsi::ChapCredentials{};
  MAYA_TRY(text, read_file(file));
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("user") || !j.contains("secret") ||
      !j["user"].is_string() || !j["secret"].is_string() || j["user"].get<std::string>().empty())
    return fail(file.string() + " is damaged: expected {\"user\": …, \"secret\": …}");
  iscsi::ChapCredentials c;
  c.user = j["user"].get<std::string>();
  c.secret = j["secret"].get<std::string>();
  return c;
}

Result<iscsi::ChapCredentials> ensure_discovery_chap(const config::Config& config) {
  MAYA_TRY(existing, read_discovery_chap(config));
  if (existing->enabled()) return *existing;
  MAYA_TRY(secret, jiva::random_secret());
  iscsi::ChapCredentials c;
  c.user = "discovery-" + (config.host_name.empty() ? std::string("maya") : config.host_name);
  c.secret = *secret;
  json j = {{"user", c.user}, {"secret", c.secret}};
  MAYA_TRY_VOID(write_file_atomic(discovery_chap_file(config), j.dump(2) + "\n", 0600));
  return c;
}

}  // namespace maya::daemon
