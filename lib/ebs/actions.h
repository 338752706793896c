// The EC2 actions of the EBS-compatible API: one handler per action, in files named for what
// they act on (actions_volumes.cpp, actions_attach.cpp, actions_modify.cpp, actions_tags.cpp,
// actions_snapshots.cpp, actions_zones.cpp), dispatched by Action through the table in
// api.cpp. A handler reads the Query, acts through the host's VolumeService (the same service
// the CLI and Docker use) and the Catalog, and writes its answer's fields into the open
// <ActionResponse> element; an error is returned instead and the dispatcher answers EC2's
// error document.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "drivers/volume_service.h"
#include "lib/config/config.h"
#include "lib/ebs/api.h"
#include "lib/ebs/api_error.h"
#include "lib/ebs/catalog.h"
#include "lib/ebs/query.h"
#include "lib/ebs/xml_writer.h"

namespace maya::ebs {

// What every action works with.
struct Backend {
  ApiSettings settings;
  drivers::VolumeService* volumes = nullptr;
  std::function<config::VolumeDefaults()> defaults;
  Catalog catalog;
  std::mutex catalog_mutex;  // guards catalog, held briefly
  std::mutex change_mutex;   // one action that changes volumes at a time (ClientToken, names)
  // ModifyVolume's workers (actions_modify.cpp); last, so that they stop and are joined
  // before anything they use goes.
  struct Worker {
    std::jthread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::mutex workers_mutex;
  std::vector<Worker> workers;
};

using ActionHandler = ApiResult<void> (*)(Backend&, const Query&, XmlWriter&);

struct ActionEntry {
  std::string_view name;
  ActionHandler handler;
  bool changes;  // takes change_mutex
};

// actions_volumes.cpp
ApiResult<void> describe_volumes(Backend&, const Query&, XmlWriter&);
ApiResult<void> create_volume(Backend&, const Query&, XmlWriter&);
ApiResult<void> delete_volume(Backend&, const Query&, XmlWriter&);
// actions_attach.cpp
ApiResult<void> attach_volume(Backend&, const Query&, XmlWriter&);
ApiResult<void> detach_volume(Backend&, const Query&, XmlWriter&);
// A request another host's API made of this one (Api::perform); the caller holds change_mutex.
ApiResult<void> perform_request(Backend& b, const RealmRequest& request);
// actions_tags.cpp
ApiResult<void> create_tags(Backend&, const Query&, XmlWriter&);
ApiResult<void> delete_tags(Backend&, const Query&, XmlWriter&);
ApiResult<void> describe_tags(Backend&, const Query&, XmlWriter&);
// actions_modify.cpp
ApiResult<void> modify_volume(Backend&, const Query&, XmlWriter&);
ApiResult<void> describe_volumes_modifications(Backend&, const Query&, XmlWriter&);
// Grows volume `name` (EC2 id `id`) to `bytes` in a worker that moves its modification on.
void start_modification(Backend& b, const std::string& id, const std::string& name,
                        std::uint64_t bytes);
// At start: modifications left modifying or optimizing by a stop or crash run again.
void resume_modifications(Backend& b);
// actions_zones.cpp
ApiResult<void> describe_availability_zones(Backend&, const Query&, XmlWriter&);
// actions_snapshots.cpp
ApiResult<void> create_snapshot(Backend&, const Query&, XmlWriter&);
ApiResult<void> describe_snapshots(Backend&, const Query&, XmlWriter&);
ApiResult<void> delete_snapshot(Backend&, const Query&, XmlWriter&);

// Shared by the handlers (action_support.cpp).

// Every volume of the host with its catalog entry (volumes seen for the first time get an id),
// by id. Pending entries (CreateVolume running) come with no info.
struct VolumeView {
  VolumeEntry entry;
  std::optional<drivers::VolumeInfo> info;
  std::optional<RealmRequest> request;  // in a realm: an attach or detach pending for it
};
ApiResult<std::vector<VolumeView>> all_volumes(Backend& b);
// One volume by its id: InvalidVolume.NotFound when there is none.
ApiResult<VolumeView> find_volume(Backend& b, const std::string& volume_id);
// "available", "in-use", "creating" or "error", as EC2 names volume states.
std::string volume_state(const VolumeView& v);
// Its attachment as EC2 shows it: on this host, or (in a realm) on another host or asked of one.
struct AttachmentView {
  std::string instance_id;
  std::string device;
  std::string status;  // attaching | attached | detaching
  TimePoint time{};
};
std::optional<AttachmentView> attachment_of(const VolumeView& v, const ApiSettings& settings);
// Its availability zone: the realm's record, else this host's.
std::string volume_zone(const VolumeView& v, const ApiSettings& settings);
// The <item> fields of a Volume (also CreateVolume's answer).
void write_volume_fields(XmlWriter& out, const VolumeView& v, const ApiSettings& settings);
void write_tag_set(XmlWriter& out, const Tags& tags);
// Saves the catalog (caller holds catalog_mutex); a failure is an InternalError.
ApiResult<void> save_catalog(Backend& b);

// VolumeType: one of EC2's names (standard, io1, io2, gp2, sc1, st1, gp3), else
// InvalidParameterValue.
ApiResult<void> check_volume_type(const std::string& type);

// EC2 filter values match with * (any run) and ? (any one character).
bool glob_match(std::string_view pattern, std::string_view text);
bool any_match(const std::vector<std::string>& patterns, std::string_view text);
// tag:KEY and tag-key filters against `tags`; nullopt when `filter` is neither.
std::optional<bool> tag_filter_matches(const Filter& filter, const Tags& tags);
// Tags a request gives (Tag.N / TagSpecification): keys 1-128 characters, values up to 256,
// none starting "aws:", at most 50.
ApiResult<void> check_tags(const std::vector<Tag>& tags);
// MaxResults (1-1000) and NextToken; the page of `items` (sorted by key) after the token.
struct Page {
  std::size_t begin = 0, end = 0;
  std::string next_token;  // "" on the last page
};
ApiResult<Page> paginate(const Query& q, const std::vector<std::string>& keys);
// A VolumeService failure as an EC2 error: refusals are IncorrectState with maya's sentence.
ApiError service_error(const Error& error);

}  // namespace maya::ebs
