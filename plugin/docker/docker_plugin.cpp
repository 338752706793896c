#include "plugin/docker/docker_plugin.h"

#include <nlohmann/json.hpp>

#include "drivers/volume/spec_options.h"
#include "drivers/volume/volume_json.h"
#include "lib/common/log.h"
#include "lib/common/size.h"
#include "lib/http/json.h"

namespace maya::plugin::docker {
namespace {

using nlohmann::json;
constexpr const char* kContentType = "application/vnd.docker.plugins.v1.2+json";

http::Response reply(const json& body) {
  return {200, http::dump_json(body), kContentType};
}

struct Call {
  std::string name;
  std::string id;
  drivers::VolumeOptions opts;
  std::function<bool()> caller_gone;
};

// Parses {"Name": "...", "ID": "...", "Opts": {...}}; every Opts value must be a string.
Result<Call> parse_call(const http::Request& request, bool needs_name) {
  json body = request.body.empty() ? json::object() : json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return fail("the request body is not a JSON object");
  Call call;
  call.caller_gone = request.caller_gone;
  if (needs_name) {
    if (!body.contains("Name") || !body["Name"].is_string())
      return fail("the request has no volume Name");
    call.name = body["Name"].get<std::string>();
  }
  if (body.contains("ID") && body["ID"].is_string()) call.id = body["ID"].get<std::string>();
  if (body.contains("Opts") && !body["Opts"].is_null()) {
    if (!body["Opts"].is_object()) return fail("Opts must be an object of strings");
    for (const auto& [key, value] : body["Opts"].items()) {
      if (!value.is_string()) return fail("option " + key + " must be a string");
      call.opts[key] = value.get<std::string>();
    }
  }
  return call;
}

json volume_of(const drivers::VolumeInfo& v, const drivers::EbsIdOf* with_status) {
  json out = {{"Name", v.spec.name}, {"Mountpoint", v.mountpoint.string()}};
  if (!v.created.empty()) out["CreatedAt"] = v.created;
  // The same values as `maya volume inspect -o json` (secrets left out).
  if (with_status != nullptr) {
    out["Status"] = drivers::volume_json(v);
    drivers::with_ebs_id(out["Status"], v, *with_status);
  }
  return out;
}

using Handler = std::function<Result<json>(const Call&)>;

// One endpoint: parse, run, answer {"Err": ""} merged into the result, or {"Err": why}.
http::Router::Route endpoint(const char* what, bool needs_name, Handler handler) {
  return [what, needs_name, handler](const http::Request& request, const std::string&) {
    auto call = parse_call(request, needs_name);
    Result<json> result = call ? handler(*call) : std::unexpected(call.error());
    if (!result) {
      // Docker asks Get before every Create: a name that does not exist yet is no trouble.
      const bool routine =
          std::string_view(what) == "get" && result.error().message.starts_with("no such volume");
      log::write(routine ? log::Level::debug : log::Level::warn,
                 std::string("docker ") + what + (call ? " " + call->name : "") + ": " +
                     result.error().message);
      return docker_error(500, result.error().message);
    }
    json body = *result;
    body["Err"] = "";
    return reply(body);
  };
}

}  // namespace

http::Response docker_error(int status, const std::string& message) {
  return {status, http::dump_json(json{{"Err", message}}), kContentType};
}

http::Router make_router(drivers::VolumeDriver& driver,
                         std::function<config::VolumeDefaults()> defaults,
                         drivers::EbsIdOf ebs_id) {
  http::Router router(docker_error);
  auto add = [&router](const std::string& path, const char* what, bool needs_name, Handler h) {
    router.add("POST", path, endpoint(what, needs_name, std::move(h)));
  };
  router.add("POST", "/Plugin.Activate", [](const http::Request&, const std::string&) {
    return reply({{"Implements", {"VolumeDriver"}}});
  });
  add("/VolumeDriver.Capabilities", "capabilities", false, [](const Call&) -> Result<json> {
    return json{{"Capabilities", {{"Scope", "local"}}}};
  });
  add("/VolumeDriver.Create", "create", true, [&driver, defaults](const Call& c) -> Result<json> {
    // Docker keeps a volume's options in its own database and shows them (`docker volume
    // inspect`): a remote replica's URI carries its secret, so it never comes this way.
    if (c.opts.contains("remote_replicas"))
      return fail(
          "remote_replicas is not taken from Docker, which would keep the replicas' "
          "secrets in its volume options for anyone to read; create the volume with "
          "`maya volume create NAME --replica URI`, then use it from Docker");
    MAYA_TRY(spec, drivers::spec_from_options(c.name, c.opts, defaults()));
    MAYA_TRY(created, driver.create(*spec));
    return json::object();
  });
  add("/VolumeDriver.Remove", "remove", true, [&driver](const Call& c) -> Result<json> {
    MAYA_TRY_VOID(driver.remove(c.name, false));
    return json::object();
  });
  add("/VolumeDriver.Mount", "mount", true, [&driver](const Call& c) -> Result<json> {
    MAYA_TRY(mountpoint, driver.mount(c.name, c.id));
    // Docker gave up on this Mount: its plugin client times a Mount out after 2 minutes and
    // hangs up. For Docker the Mount failed, so it never sends an Unmount for this ID (a later
    // start of the container mounts under a new one, or retries this one if the connection
    // broke): a reference kept here would keep the volume mounted forever. Repeats of an ID
    // whose Mount Docker did see succeed still count: moby mounts a running container's
    // volumes again under the container's ID for `docker cp`, and unmounts them once.
    if (c.caller_gone && c.caller_gone()) {
      if (auto undone = driver.unmount(c.name, c.id); !undone)
        return fail("Docker gave up waiting for the mount of " + c.name +
                        ", and its reference could not be released",
                    undone.error());
      return fail("Docker gave up waiting for the mount of " + c.name +
                  "; its reference was released (the next Mount attaches it again)");
    }
    return json{{"Mountpoint", mountpoint->string()}};
  });
  add("/VolumeDriver.Unmount", "unmount", true, [&driver](const Call& c) -> Result<json> {
    MAYA_TRY_VOID(driver.unmount(c.name, c.id));
    return json::object();
  });
  add("/VolumeDriver.Path", "path", true, [&driver](const Call& c) -> Result<json> {
    MAYA_TRY(mountpoint, driver.path(c.name));
    return json{{"Mountpoint", mountpoint->string()}};
  });
  add("/VolumeDriver.Get", "get", true, [&driver, ebs_id](const Call& c) -> Result<json> {
    MAYA_TRY(info, driver.get(c.name));
    return json{{"Volume", volume_of(*info, &ebs_id)}};
  });
  add("/VolumeDriver.List", "list", false, [&driver](const Call&) -> Result<json> {
    MAYA_TRY(all, driver.list());
    json volumes = json::array();
    for (const auto& v : *all) volumes.push_back(volume_of(v, nullptr));
    return json{{"Volumes", volumes}};
  });
  return router;
}

}  // namespace maya::plugin::docker
