#include "lib/ebs/api.h"

#include <algorithm>

#include "lib/common/log.h"
#include "lib/ebs/actions.h"
#include "lib/ebs/credentials_file.h"
#include "lib/ebs/ids.h"
#include "lib/ebs/sigv4.h"

namespace maya::ebs {
namespace {

constexpr std::string_view kXml = "text/xml;charset=UTF-8";

// Every action, by name: one handler each.
constexpr ActionEntry kActions[] = {
    {"AttachVolume", attach_volume, true},
    {"CreateSnapshot", create_snapshot, true},
    {"CreateTags", create_tags, true},
    {"CreateVolume", create_volume, true},
    {"DeleteSnapshot", delete_snapshot, true},
    {"DeleteTags", delete_tags, true},
    {"DeleteVolume", delete_volume, true},
    {"DescribeAvailabilityZones", describe_availability_zones, false},
    {"DescribeSnapshots", describe_snapshots, false},
    {"DescribeTags", describe_tags, false},
    {"DescribeVolumes", describe_volumes, false},
    {"DescribeVolumesModifications", describe_volumes_modifications, false},
    {"DetachVolume", detach_volume, true},
    {"ModifyVolume", modify_volume, true},
};

const ActionEntry* find_action(std::string_view name) {
  for (const ActionEntry& a : kActions)
    if (a.name == name) return &a;
  return nullptr;
}

http::Response error_response(const ApiError& error, const std::string& request_id) {
  return http::Response{error.http_status, error_document(error, request_id), std::string(kXml)};
}

std::string path_of(const std::string& target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

std::vector<std::string> action_names() {
  std::vector<std::string> names;
  for (const ActionEntry& a : kActions) names.emplace_back(a.name);
  return names;
}

Api::Api(ApiSettings settings, drivers::VolumeService* volumes,
         std::function<config::VolumeDefaults()> defaults)
    : backend_(new Backend{settings,
                           volumes,
                           std::move(defaults),
                           Catalog(settings.state_dir / "ebs-catalog.json"),
                           {},
                           {},
                           {},
                           {}}),
      metadata_(settings.identity) {
  if (auto loaded = backend_->catalog.load(); !loaded) {
    catalog_error_ = loaded.error().message;
    log::error("EBS-compatible API: " + catalog_error_ +
               "; actions are refused until it is repaired or removed");
  } else if (volumes != nullptr) {
    resume_modifications(*backend_);
  }
}

Api::~Api() = default;

std::optional<std::string> Api::volume_id(const std::string& name, const std::string& created,
                                          const std::string& realm_id) {
  if (!catalog_error_.empty()) return std::nullopt;
  if (!realm_id.empty()) return realm_id;  // kept by the realm: the catalog follows it
  Backend& b = *backend_;
  std::lock_guard lock(b.catalog_mutex);
  if (const VolumeEntry* known = b.catalog.volume_by_name(name)) return known->id;
  VolumeEntry entry;
  entry.id = new_volume_id();
  entry.name = name;
  entry.created = parse_iso8601(created).value_or(std::chrono::system_clock::now());
  const std::string id = b.catalog.add_volume(std::move(entry)).id;
  if (auto saved = b.catalog.save(); !saved) {
    b.catalog.remove_volume(id);
    log::error("EBS-compatible API: cannot save the catalog: " + saved.error().message);
    return std::nullopt;
  }
  return id;
}

Result<bool> Api::perform(const RealmRequest& request) {
  if (!catalog_error_.empty()) return fail(catalog_error_);
  std::unique_lock changing(backend_->change_mutex, std::try_to_lock);
  if (!changing.owns_lock()) return false;
  auto done = perform_request(*backend_, request);
  if (!done) return fail(done.error().code + ": " + done.error().message);
  return true;
}

http::Response Api::operator()(const http::Request& request) {
  return handle(request, std::chrono::system_clock::now());
}

http::Response Api::handle(const http::Request& request,
                           std::chrono::system_clock::time_point now) {
  if (Metadata::handles(request.target)) return metadata_.handle(request);
  return action(request, now);
}

http::Response Api::action(const http::Request& request,
                           std::chrono::system_clock::time_point now) {
  const std::string request_id = new_request_id();
  if (path_of(request.target) != "/")
    return error_response(ApiError{404, "InvalidAction",
                                   "no such path: the EC2 API is served at / (and instance "
                                   "metadata under /latest/)"},
                          request_id);
  if (request.method != "POST" && request.method != "GET")
    return error_response(ApiError{405, "InvalidAction", "use POST / (or GET /?Action=…)"},
                          request_id);

  const Backend& b = *backend_;
  auto credentials = read_credentials(b.settings.credentials);
  if (!credentials) {
    log::error("EBS-compatible API: " + credentials.error().message);
    return error_response(errors::internal_error("the API's credentials cannot be read: " +
                                                 credentials.error().message),
                          request_id);
  }
  SignedRequest signed_request{request.method, request.target, request.headers, request.body};
  if (auto refused = verify(signed_request, *credentials, b.settings.identity.region, now,
                            b.settings.max_clock_skew))
    return error_response(*refused, request_id);

  auto query = parse_query(request.target, request.body);
  if (!query) return error_response(query.error(), request_id);
  const ActionEntry* entry = find_action(query->action);
  if (entry == nullptr) return error_response(errors::invalid_action(query->action), request_id);
  auto dry_run = query->boolean("DryRun");
  if (!dry_run) return error_response(dry_run.error(), request_id);
  query->params.erase("DryRun");
  if (dry_run->value_or(false))
    return error_response(
        ApiError{412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."},
        request_id);
  if (!catalog_error_.empty())
    return error_response(errors::internal_error(catalog_error_), request_id);

  XmlWriter out = XmlWriter::action_response(entry->name, request_id);
  std::unique_lock<std::mutex> changing(backend_->change_mutex, std::defer_lock);
  if (entry->changes) changing.lock();
  auto done = entry->handler(*backend_, *query, out);
  if (!done) {
    if (done.error().http_status >= 500)
      log::error("EBS API " + std::string(entry->name) + ": " + done.error().message);
    return error_response(done.error(), request_id);
  }
  return http::Response{200, out.finish(), std::string(kXml)};
}

http::Response server_error(int status, const std::string& message) {
  ApiError error{status, status == 413 ? "RequestEntityTooLarge" : "MalformedQueryString", message};
  return error_response(error, new_request_id());
}

}  // namespace maya::ebs
