// maya realm drain HOST / maya realm undrain HOST: a host's replicas moved to other hosts so
// that it can be taken out, and the host given back to placement. The CLI writes the drain
// into etcd (drains/ID) and follows the volumes' records there; the moves themselves are done
// by the daemons: each volume's owner, and this host's for the volumes attached nowhere
// (lib/daemon/realm_drain.cpp).
#include <unistd.h>

#include <iostream>
#include <map>
#include <thread>

#include "cmd/maya/commands.h"
#include "lib/common/time_format.h"
#include "lib/realm/host_record.h"
#include "lib/realm/realm_config.h"
#include "lib/realm/volume_record.h"

namespace maya::cli {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Realm {
  config::Config cfg;
  std::unique_ptr<realm::RealmStore> store;
  realm::RealmKeys keys;
};

std::optional<Realm> open_realm(const Globals& globals, int& rc) {
  auto cfg = load_config(globals);
  if (!cfg) {
    rc = 1;
    return std::nullopt;
  }
  auto store = realm::open_store(*cfg);
  if (!store) {
    rc = error(store.error().message);
    return std::nullopt;
  }
  return Realm{*cfg, std::move(*store), realm::RealmKeys(cfg->realm_name)};
}

const realm::HostView* find_host(const realm::HostList& hosts, const std::string& wanted) {
  for (const auto& h : hosts.hosts)
    if (h.record.name == wanted || h.record.id == wanted) return &h;
  return nullptr;
}

std::string label(const realm::HostList& hosts, const std::string& id) {
  for (const auto& h : hosts.hosts)
    if (h.record.id == id) return h.record.name.empty() ? id : h.record.name;
  return id;
}

// The realm and the host that a drain or undrain names.
struct NamedHost {
  Realm realm;
  realm::HostList hosts;
  std::string id;
  std::string name;  // its name, else its id
  const realm::HostView& view() const { return *find_host(hosts, id); }
};

std::optional<NamedHost> open_named_host(const Globals& globals, const std::string& host, int& rc) {
  auto r = open_realm(globals, rc);
  if (!r) return std::nullopt;
  auto hosts = realm::list_hosts(*r->store, r->keys);
  if (!hosts) {
    rc = error(hosts.error().message);
    return std::nullopt;
  }
  const realm::HostView* target = find_host(*hosts, host);
  if (!target) {
    rc = error("no host " + host + " in realm " + r->cfg.realm_name);
    return std::nullopt;
  }
  std::string id = target->record.id, name = label(*hosts, id);
  return NamedHost{std::move(*r), std::move(*hosts), std::move(id), std::move(name)};
}

// Where each volume with a replica on the drained host stands, as its record and attachment
// say: volume → a phrase. Empty once none has a replica there.
Result<std::map<std::string, std::string>> drain_progress(Realm& r, const std::string& id,
                                                          const realm::HostList& hosts) {
  MAYA_TRY(volumes, r.store->list(r.keys.volumes()));
  MAYA_TRY(attachments, r.store->list(r.keys.attachments()));
  std::map<std::string, std::string> left;
  for (const auto& kv : volumes->items) {
    auto v = realm::volume_from_json(kv.value, kv.key);
    if (!v) {
      // It may place a replica on the host: not drained until someone looks.
      left.emplace(kv.key, "its record is unreadable (" + v.error().message + ")");
      continue;
    }
    const realm::ReplicaPlace* joining = nullptr;
    bool there = false;
    for (const auto& p : v->replicas) {
      if (p.joining) joining = &p;
      there = there || (!p.joining && p.host_id == id);
    }
    if (!there) continue;
    std::string owner;
    for (const auto& a : attachments->items)
      if (realm::RealmKeys::leaf(a.key, r.keys.attachments()) == v->name)
        if (auto at = realm::attachment_from_json(a.value, a.key)) owner = at->host_id;
    std::string phase;
    if (joining == nullptr)
      phase = owner.empty() ? "waiting to be attached for the move"
                            : "waiting for its owner " + label(hosts, owner);
    else if (joining->id.empty())
      phase = "a new replica on " + label(hosts, joining->host_id) + " is being made";
    else
      phase = "new replica " + joining->id + " on " + label(hosts, joining->host_id) +
              " is being rebuilt";
    left.emplace(v->name, phase);
  }
  return left;
}

// Volumes with a replica on the host that no other host could take: nothing would move them.
Result<std::vector<std::string>> unmovable(Realm& r, const std::string& id,
                                           const realm::HostList& hosts) {
  MAYA_TRY(volumes, r.store->list(r.keys.volumes()));
  std::vector<std::string> stuck;
  auto draining = realm::draining_hosts(hosts);
  draining.push_back(id);
  for (const auto& kv : volumes->items) {
    auto v = realm::volume_from_json(kv.value, kv.key);
    if (!v) continue;
    realm::PlacementRequest request;
    request.replicas = 1;
    request.size_bytes = v->thin ? 0 : v->size_bytes;
    request.draining_hosts = draining;
    bool there = false;
    for (const auto& p : v->replicas) {
      request.exclude_hosts.push_back(p.host_id);
      there = there || p.host_id == id;
    }
    if (!there) continue;
    if (auto placed = realm::place(request, realm::pool_candidates(hosts)); !placed)
      stuck.push_back(v->name + ": " + placed.error().message);
  }
  return stuck;
}

constexpr const char* kDrainSummary =
    "Moves every replica on HOST (a name or id from `maya realm status`) to other hosts, so that\n"
    "HOST can be taken out: for each volume a new replica is placed on a host without one\n"
    "(another zone first), rebuilt, and only then is HOST's replica removed; the volumes keep\n"
    "serving throughout. The owner of an attached volume moves it; this host's daemon attaches\n"
    "the others for the move. HOST takes no new replicas until `maya realm undrain HOST`.\n"
    "Without --no-wait it shows the progress until HOST holds no replica, for at most --timeout.";

int drain(Globals& globals, const Args& args) {
  std::string host, timeout_text = "1h";
  po::options_description options("Options");
  options.add_options()("no-wait", "start the drain and return")(
      "timeout", po::value(&timeout_text)->value_name("DURATION"),
      "how long to wait for the drain (default 1h)");
  po::options_description hidden;
  hidden.add_options()("host", po::value(&host));
  po::positional_options_description positional;
  positional.add("host", 1);
  Parsed parsed = parse({"realm drain", "maya realm drain HOST [--no-wait] [--timeout DURATION]",
                         kDrainSummary, "maya realm drain host-c\nmaya realm undrain host-c"},
                        options, positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (host.empty()) return usage_error("realm drain", "it needs a HOST");
  auto timeout = config::parse_duration(timeout_text);
  if (!timeout) return usage_error("realm drain", "--timeout: " + timeout.error().message);
  int rc = 0;
  auto named = open_named_host(globals, host, rc);
  if (!named) return rc;
  Realm* r = &named->realm;
  const realm::HostList* hosts = &named->hosts;
  const realm::HostView* target = &named->view();
  const std::string& id = named->id;
  const std::string& name = named->name;
  const realm::HostView* self = find_host(*hosts, r->cfg.host_id);
  if (!self || !self->up)
    return error("this host is not up in realm " + r->cfg.realm_name +
                 " (is its daemon running? `maya load`): it attaches the detached volumes to "
                 "move them");
  if (!target->draining) {
    auto stuck = unmovable(*r, id, *hosts);
    if (!stuck) return error(stuck.error().message);
    if (!stuck->empty()) {
      std::string why;
      for (const std::string& s : *stuck) why += "\n  " + s;
      return error("cannot drain " + name + ": no other host can take these replicas" + why);
    }
    const realm::Drain d{r->cfg.host_id, iso8601()};
    auto made = r->store->create(r->keys.drain(id), realm::drain_json(d).dump());
    if (!made) return error(made.error().message);
  } else if (const realm::HostView* by = find_host(*hosts, target->draining->by);
             (!by || !by->up) && target->draining->by != r->cfg.host_id) {
    // The host that asked for the drain attaches the detached volumes to move them: when it is
    // gone, this one takes the job over.
    const realm::Drain d{r->cfg.host_id, target->draining->since};
    auto put = r->store->put(r->keys.drain(id), realm::drain_json(d).dump());
    if (!put) return error(put.error().message);
    std::cerr << "the host that asked for this drain is down; this host moves the detached "
                 "volumes now\n";
  }
  if (parsed.vars.count("no-wait"))
    return report(globals, {{"host", name}, {"id", id}, {"draining", true}},
                  "draining " + name + " (`maya realm drain " + name + "` shows the progress)");

  const auto started = std::chrono::steady_clock::now();
  auto last_summary = started;
  std::map<std::string, std::string> shown;
  for (;;) {
    auto now_hosts = realm::list_hosts(*r->store, r->keys);
    if (!now_hosts) return error(now_hosts.error().message);
    const realm::HostView* still = find_host(*now_hosts, id);
    if (!still || !still->draining)
      return error("the drain of " + name + " was cancelled (`maya realm undrain`)");
    auto left = drain_progress(*r, id, *now_hosts);
    if (!left) return error(left.error().message);
    if (left->empty()) break;
    for (const auto& [volume, phase] : *left) {
      if (shown[volume] == phase) continue;
      shown[volume] = phase;
      std::cerr << volume << ": " << phase << "\n";
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_summary >= 15s) {
      last_summary = now;
      std::cerr << "draining " << name << ": " << left->size() << " volume(s) left, "
                << format_duration(
                       std::chrono::duration_cast<std::chrono::seconds>(now - started).count())
                << "\n";
    }
    if (now - started >= *timeout)
      return error("the drain of " + name + " is not done after " + timeout_text + ": " +
                   std::to_string(left->size()) + " volume(s) still have a replica there (the " +
                   "daemons' logs say why); it goes on");
    std::this_thread::sleep_for(1s);
  }
  return report(globals, {{"host", name}, {"id", id}, {"drained", true}},
                name +
                    " is drained: no volume has a replica there. It takes no new replicas "
                    "until `maya realm undrain " +
                    name + "`.");
}

int undrain(Globals& globals, const Args& args) {
  std::string host;
  po::options_description hidden;
  hidden.add_options()("host", po::value(&host));
  po::positional_options_description positional;
  positional.add("host", 1);
  Parsed parsed =
      parse({"realm undrain", "maya realm undrain HOST",
             "Gives HOST back to placement after `maya realm drain HOST`; a drain still moving\n"
             "replicas stops, and the replicas it was adding are taken out again.",
             "maya realm undrain host-c"},
            po::options_description("Options"), positional, args, globals, hidden);
  if (parsed.exit_code) return *parsed.exit_code;
  if (host.empty()) return usage_error("realm undrain", "it needs a HOST");
  int rc = 0;
  auto named = open_named_host(globals, host, rc);
  if (!named) return rc;
  Realm* r = &named->realm;
  const realm::HostView* target = &named->view();
  const std::string& name = named->name;
  if (!target->draining) return report(globals, {{"host", name}}, name + " is not being drained");
  auto kv = r->store->get(r->keys.drain(target->record.id));
  if (!kv) return error(kv.error().message);
  if (*kv) {
    auto removed = r->store->remove((*kv)->key, (*kv)->mod_revision);
    if (!removed) return error(removed.error().message);
  }
  return report(globals, {{"host", name}, {"draining", false}}, name + " takes replicas again");
}

}  // namespace

int cmd_realm_drain(Globals& globals, const Args& args, bool undo) {
  return undo ? undrain(globals, args) : drain(globals, args);
}

}  // namespace maya::cli
