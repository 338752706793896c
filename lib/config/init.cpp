#include "lib/config/init.h"

#include <unistd.h>

#include <fstream>

#include "lib/common/files.h"
#include "lib/common/names.h"

namespace maya::config {

extern const std::string_view kDefaultConfigTemplate;

namespace {

// Escapes text for a TOML basic string.
std::string toml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

// Sets `key = value` in `[section]` of the template: the first line of that section that
// starts with "key = ". The template has every key it sets (the config tests render each one).
void set_key(std::string& text, std::string_view section, std::string_view key,
             const std::string& value) {
  const std::string header = "\n[" + std::string(section) + "]\n";
  std::size_t pos = text.find(header);
  if (pos == std::string::npos) return;
  const std::size_t end = text.find("\n[", pos + header.size());
  const std::string prefix = "\n" + std::string(key) + " = ";
  std::size_t line = text.find(prefix, pos + header.size() - 1);
  if (line == std::string::npos || (end != std::string::npos && line > end)) return;
  const std::size_t value_at = line + prefix.size();
  text.replace(value_at, text.find('\n', value_at) - value_at, value);
}

std::string toml_string(std::string_view text) {
  return "\"" + toml_escape(text) + "\"";
}

std::string toml_strings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i == 0 ? "" : ", ") + toml_string(items[i]);
  return out + "]";
}

std::string local_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

Result<std::string> new_uuid() {
  std::ifstream in("/proc/sys/kernel/random/uuid");
  std::string id;
  if (!(in >> id) || id.empty())
    return fail("cannot generate a host id from /proc/sys/kernel/random/uuid");
  return id;
}

// The host id is generated once per state directory and kept across `init --force`.
Result<std::string> host_id_for(const fs::path& state_dir) {
  fs::path file = state_dir / "host-id";
  if (auto existing = read_file(file); existing && !existing->empty()) {
    std::string id = *existing;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (!id.empty()) return id;
  }
  MAYA_TRY(id, new_uuid());
  MAYA_TRY_VOID(write_file_atomic(file, *id + "\n", 0644));
  return id;
}

}  // namespace

std::string render_default(const fs::path& root, const std::string& host_name,
                           const std::string& host_id, const RealmSettings& realm) {
  std::string text(kDefaultConfigTemplate);
  std::string root_text = root.empty() || root == "/" ? "" : root.lexically_normal().string();
  while (!root_text.empty() && root_text.back() == '/') root_text.pop_back();
  replace_all(text, "{{root}}", toml_escape(root_text));
  replace_all(text, "{{host_name}}", toml_escape(host_name));
  replace_all(text, "{{host_id}}", toml_escape(host_id));
  if (!realm.realm_name.empty()) set_key(text, "realm", "name", toml_string(realm.realm_name));
  if (!realm.etcd.empty()) set_key(text, "realm", "etcd", toml_strings(realm.etcd));
  if (!realm.zone.empty()) set_key(text, "host", "zone", toml_string(realm.zone));
  if (!realm.address.empty()) {
    set_key(text, "host", "address", toml_string(realm.address));
    // The other hosts reach this one's shared replicas there: its portals listen on it.
    set_key(text, "iscsi", "address", toml_string(realm.address));
  }
  return text;
}

Result<void> check_realm_settings(const RealmSettings& realm, const std::string& region) {
  if (!realm.etcd.empty() && realm.realm_name.empty())
    return fail("--etcd needs --realm NAME: the realm these etcd endpoints keep");
  if (!realm.realm_name.empty() && realm.etcd.empty())
    return fail("--realm needs --etcd URL: the etcd that keeps the realm (http://HOST:2379)");
  if (!realm.realm_name.empty()) {
    if (auto valid = validate_realm_name(realm.realm_name); !valid)
      return fail("--realm: " + valid.error().message);
  }
  for (const std::string& url : realm.etcd) {
    if (auto endpoint = parse_etcd_url(url); !endpoint)
      return fail("--etcd " + endpoint.error().message);
  }
  if (!realm.zone.empty()) {
    if (std::string problem = zone_problem(realm.zone, region); !problem.empty())
      return fail("--zone: " + problem);
  }
  if (!realm.address.empty()) {
    if (std::string problem = host_address_problem(realm.address); !problem.empty())
      return fail("--address: " + problem);
  }
  return {};
}

Result<InitResult> init(const InitOptions& options) {
  fs::path root;
  if (!options.root.empty()) {
    std::error_code ec;
    root = fs::absolute(options.root, ec).lexically_normal();
    if (ec) return fail("invalid --root " + options.root.string() + ": " + ec.message());
  }
  fs::path file = options.config_file.empty()
                      ? root / "etc/maya.conf"
                      : fs::absolute(options.config_file).lexically_normal();
  std::error_code ec;
  bool exists = fs::exists(file, ec);
  if (exists && !options.force) {
    return fail(
        file.string() +
        " already exists; not overwriting it (use --force to replace it, keeping the host id)");
  }

  // Render once with a placeholder id to learn the paths, then create them and fix the id.
  // The flags are checked first, so that a mistake in them writes and creates nothing.
  std::string host_name = local_host_name();
  MAYA_TRY(plain, parse(render_default(root, host_name, "pending"), file));
  MAYA_TRY_VOID(check_realm_settings(options.realm, plain->api_region));
  MAYA_TRY(draft, parse(render_default(root, host_name, "pending", options.realm), file));
  for (const fs::path& dir : {draft->store_dir, draft->state_dir, draft->run_dir,
                              draft->plugin_socket.parent_path(), file.parent_path()}) {
    MAYA_TRY_VOID(make_dirs(dir, 0755));
  }
  MAYA_TRY(host_id, host_id_for(draft->state_dir));

  std::string text = render_default(root, host_name, *host_id, options.realm);
  MAYA_TRY(config, parse(text, file));
  MAYA_TRY_VOID(write_file_atomic(file, text, 0644));
  return InitResult{*config, exists};
}

}  // namespace maya::config
