#include "drivers/volume/spec_options.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <sstream>

#include <toml++/toml.h>

#include "drivers/volume/mount_options.h"
#include "lib/common/files.h"
#include "lib/common/names.h"
#include "lib/common/size.h"

namespace maya::drivers {
namespace {

constexpr std::array<std::string_view, 15> kKeys = {
    "size", "fstype", "mountopts", "uid",   "gid",  "driver",          "replicas",
    "thin", "from",   "attach",    "pools", "spec", "allow_same_pool", "remote_replicas",
    "hosts"};
constexpr std::array<std::string_view, 2> kFsTypes = {"ext4", "xfs"};

std::string known_keys() {
  std::string out;
  for (auto k : kKeys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

Result<std::uint32_t> parse_id(const std::string& key, const std::string& text) {
  std::uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v == 0xffffffffu)
    return fail("option " + key + "=\"" + text + "\" is not a numeric id (0-4294967294)");
  return v;
}

Result<bool> parse_bool(const std::string& key, const std::string& text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return fail("option " + key + "=\"" + text + "\" is not true or false");
}

// "a:b:c" (Docker's -o cannot hold a comma) or "a,b,c": 1 to 16 names, each a valid name.
Result<std::vector<std::string>> parse_name_list(const std::string& key, const std::string& value,
                                                 const std::string& what) {
  std::vector<std::string> names;
  std::string name;
  std::istringstream in(value);
  while (std::getline(in, name, value.find(':') != std::string::npos ? ':' : ',')) {
    if (auto ok = validate_volume_name(name); !ok)
      return fail("option " + key + "=\"" + value + "\": \"" + name + "\" is not " + what);
    names.push_back(name);
  }
  if (names.empty() || names.size() > 16)
    return fail("option " + key + "=\"" + value + "\" names no " + key.substr(0, key.size() - 1) +
                ", or more than 16");
  return names;
}

Result<void> apply(VolumeSpec& spec, const std::string& key, const std::string& value) {
  if (key == "size") {
    auto size = parse_size(value);
    if (!size) return fail("option size: " + size.error().message);
    if (*size < 1024 * 1024) return fail("option size=" + value + " is too small (at least 1MiB)");
    if (*size > kMaxVolumeBytes)
      return fail("option size=" + value + " is too large (at most " +
                  format_size(kMaxVolumeBytes) + ")");
    spec.size_bytes = *size;
  } else if (key == "fstype") {
    if (std::find(kFsTypes.begin(), kFsTypes.end(), value) == kFsTypes.end())
      return fail("option fstype=\"" + value + "\" is not supported (use ext4 or xfs)");
    spec.fstype = value;
  } else if (key == "mountopts") {
    bool printable = std::all_of(value.begin(), value.end(), [](char c) {
      return c > ' ' && c != '"' && c != '\\' && c < 127;
    });
    if (!printable)
      return fail("option mountopts=\"" + value + "\" has spaces or control characters");
    spec.mount_options = value;
  } else if (key == "uid") {
    MAYA_TRY(uid, parse_id(key, value));
    spec.uid = *uid;
  } else if (key == "gid") {
    MAYA_TRY(gid, parse_id(key, value));
    spec.gid = *gid;
  } else if (key == "driver") {
    if (value.empty()) return fail("option driver is empty");
    spec.storage_driver = value;
  } else if (key == "replicas") {
    unsigned n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size() || n < 1 || n > 16)
      return fail("option replicas=\"" + value + "\" is not a number from 1 to 16");
    spec.replicas = n;
  } else if (key == "from") {
    auto at = value.find('@');
    if (at == std::string::npos)
      return fail("option from=\"" + value + "\" is not VOLUME@SNAPSHOT");
    if (auto ok = validate_volume_name(value.substr(0, at)); !ok)
      return fail("option from: " + ok.error().message);
    if (auto ok = validate_volume_name(value.substr(at + 1)); !ok)
      return fail("option from: invalid snapshot name: " + ok.error().message);
    spec.from = value;
  } else if (key == "attach") {
    if (value != "auto" && value != "iscsi" && value != "fuse")
      return fail("option attach=\"" + value + "\" is not auto, iscsi or fuse");
    spec.attach = value;
  } else if (key == "pools") {
    auto names = parse_name_list(key, value, "a pool name");
    if (!names) return fail(names.error().message);
    spec.pools = std::move(*names);
  } else if (key == "hosts") {
    // A realm volume's hosts, by name or id, in order of preference.
    auto names = parse_name_list(key, value, "a host name or id");
    if (!names) return fail(names.error().message);
    spec.hosts = std::move(*names);
  } else if (key == "remote_replicas") {
    // URIs separated by spaces or commas (an IQN holds neither).
    spec.remote_replicas.clear();
    std::string uri;
    std::istringstream in(value);
    while (in >> uri) {
      for (std::size_t start = 0; start <= uri.size();) {
        const auto comma = uri.find(',', start);
        const std::string one = uri.substr(start, comma - start);
        if (!one.empty()) {
          if (!one.starts_with("iscsi://"))
            return fail(
                "option remote_replicas: a replica another host shares is an "
                "iscsi://USER:SECRET@HOST:PORT/IQN/LUN URI");
          spec.remote_replicas.push_back(one);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    if (spec.remote_replicas.empty() || spec.remote_replicas.size() > 16)
      return fail("option remote_replicas names no URI, or more than 16");
  } else if (key == "allow_same_pool") {
    MAYA_TRY(same, parse_bool(key, value));
    spec.allow_same_pool = *same;
  } else if (key == "thin") {
    MAYA_TRY(thin, parse_bool(key, value));
    spec.thin = *thin;
  }
  return {};
}

}  // namespace

Result<VolumeOptions> options_from_spec_file(const std::filesystem::path& file) {
  MAYA_TRY(text, read_file(file));
  toml::table table;
  try {
    table = toml::parse(*text, file.string());
  } catch (const toml::parse_error& e) {
    return fail(file.string() + ":" + std::to_string(e.source().begin.line) + ":" +
                std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  VolumeOptions options;
  for (const auto& [key, node] : table) {
    auto where = file.string() + ":" + std::to_string(node.source().begin.line) + ":" +
                 std::to_string(node.source().begin.column) + ": ";
    std::string name(key.str());
    if (name == "spec" || std::find(kKeys.begin(), kKeys.end(), name) == kKeys.end())
      return fail(where + "unknown key \"" + name +
                  "\" in a volume spec (known: size, fstype, "
                  "mountopts, uid, gid, driver, replicas, thin, from, attach, pools, "
                  "allow_same_pool, remote_replicas, hosts)");
    if (auto s = node.value_exact<std::string>()) {
      options[name] = *s;
    } else if (auto i = node.value_exact<std::int64_t>()) {
      options[name] = std::to_string(*i);
    } else if (auto b = node.value_exact<bool>()) {
      options[name] = *b ? "true" : "false";
    } else {
      return fail(where + name + " must be a string, an integer or a boolean");
    }
  }
  return options;
}

Result<VolumeSpec> spec_from_options(const std::string& name, const VolumeOptions& options,
                                     const config::VolumeDefaults& defaults) {
  MAYA_TRY_VOID(validate_volume_name(name));
  for (const auto& [key, value] : options) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
      return fail("unknown option \"" + key + "\" (known: " + known_keys() + ")");
  }
  VolumeSpec spec;
  spec.name = name;
  spec.size_bytes = defaults.size_bytes;
  spec.thin = defaults.thin;
  spec.attach = defaults.attach;
  spec.replicas = defaults.replicas;
  spec.fstype = defaults.fstype;
  spec.storage_driver = defaults.storage_driver;

  bool sized = options.contains("size");
  if (auto file = options.find("spec"); file != options.end()) {
    if (file->second.empty() || file->second[0] != '/')
      return fail("option spec=\"" + file->second + "\" must be an absolute path to a TOML file");
    MAYA_TRY(from_file, options_from_spec_file(file->second));
    sized = sized || from_file->contains("size");
    for (const auto& [key, value] : *from_file) {
      spec.given.insert(key);
      if (auto applied = apply(spec, key, value); !applied)
        return fail(file->second + ": " + applied.error().message);
    }
  }
  for (const auto& [key, value] : options) {
    if (key == "spec") continue;
    spec.given.insert(key);
    MAYA_TRY(applied, apply(spec, key, value));
  }
  // Checked once every key is in: the file system may come after the options. A clone's file
  // system may come from its source: the volume driver checks it then.
  if (spec.from.empty() || spec.given.contains("fstype")) {
    if (auto ok = check_mount_options(spec.fstype, spec.mount_options); !ok)
      return fail("option mountopts: " + ok.error().message);
  }
  // Remote replicas count among the replicas: without a count, one more is made here.
  const auto remote = static_cast<unsigned>(spec.remote_replicas.size());
  if (remote > 0) {
    if (!spec.from.empty())
      return fail(
          "a clone's replicas are made from its snapshot on this host; add remote "
          "replicas after (`maya volume replica add VOLUME URI`)");
    if (!spec.given.contains("replicas"))
      spec.replicas = remote + (spec.pools.empty() ? 1 : static_cast<unsigned>(spec.pools.size()));
    if (spec.replicas < remote)
      return fail("replicas=" + std::to_string(spec.replicas) + " is fewer than the " +
                  std::to_string(remote) + " remote replica(s) named");
  }
  // Pools named without a count: a replica on each.
  if (!spec.pools.empty()) {
    if (!spec.given.contains("replicas"))
      spec.replicas = static_cast<unsigned>(spec.pools.size()) + remote;
    if (spec.replicas - remote != spec.pools.size())
      return fail("option pools names " + std::to_string(spec.pools.size()) + " pool(s) for " +
                  std::to_string(spec.replicas - remote) + (remote ? " local" : "") +
                  " replica(s); name one pool per replica");
  }
  // Hosts named without a count: a replica on each (placement takes the first ones that qualify
  // when there are more).
  if (!spec.hosts.empty()) {
    if (!spec.given.contains("replicas")) spec.replicas = static_cast<unsigned>(spec.hosts.size());
    if (spec.replicas > spec.hosts.size())
      return fail("option hosts names " + std::to_string(spec.hosts.size()) + " host(s) for " +
                  std::to_string(spec.replicas) + " replicas; name at least one per replica");
    if (!spec.pools.empty() || remote > 0)
      return fail("option hosts cannot be combined with pools or remote_replicas");
  }
  // A clone is as large as its snapshot unless a size was asked for.
  if (!spec.from.empty() && !sized) spec.size_bytes = 0;
  return spec;
}

}  // namespace maya::drivers
