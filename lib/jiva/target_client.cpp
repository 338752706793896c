#include "lib/jiva/target_client.h"

#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "lib/http/client.h"
#include "lib/http/json.h"
#include "lib/jiva/manifest.h"

namespace maya::jiva {
namespace {

using nlohmann::json;

// ---- encoding: optionals are null when empty, as the API always sent them

template <class T>
json or_null(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json to_json(const ReplicaInfo& r) {
  return {{"id", r.id},
          {"uri", r.uri},
          {"mode", r.mode},
          {"generation", r.generation},
          {"revision", r.revision},
          {"error", or_null(r.error)}};
}

json to_json(const RebuildInfo& r) {
  return {{"replica", r.replica},
          {"kind", r.kind},
          {"done_bytes", r.done_bytes},
          {"total_bytes", r.total_bytes},
          {"rate_bytes_per_s", r.rate_bytes_per_s},
          {"eta_seconds", r.eta_seconds}};
}

json to_json(const SpaceInfo& s) {
  return {{"total_bytes", s.total_bytes},
          {"free_bytes", s.free_bytes},
          {"used_percent", s.used_percent},
          {"warn_percent", s.warn_percent},
          {"warning", or_null(s.warning)}};
}

json to_json(const FuseInfo& f) {
  return {{"mountpoint", f.mountpoint},
          {"file", f.file},
          {"fd", f.fd},
          {"requests", f.requests},
          {"transport", f.transport}};
}

template <class T>
json object_or_null(const std::optional<T>& v) {
  return v ? to_json(*v) : json(nullptr);
}

json to_json(const TargetInfo& s) {
  json replicas = json::array();
  for (const auto& r : s.replicas) replicas.push_back(to_json(r));
  return {{"volume", s.volume},
          {"pid", s.pid},
          {"iqn", s.iqn},
          {"portal", s.portal},
          {"started_at", s.started_at},
          {"size_bytes", s.size_bytes},
          {"connections", s.connections},
          {"sessions", s.sessions},
          {"health", s.health},
          {"generation", s.generation},
          {"replicas", replicas},
          {"rebuild", object_or_null(s.rebuild)},
          {"last_rebuild", object_or_null(s.last_rebuild)},
          {"read_only", or_null(s.read_only)},
          {"space", object_or_null(s.space)},
          {"fuse", object_or_null(s.fuse)}};
}

json to_json(const IoSnapshot& s) {
  return {{"ops", s.ops}, {"bytes", s.bytes}, {"seconds", s.seconds}, {"buckets", s.buckets}};
}

// ---- decoding: absent keys keep the default; a present key of the wrong type is an error

struct Malformed {
  std::string message;
};

std::string kind_of(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "the number " + v.dump();
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

[[noreturn]] void wrong(const json& v, const std::string& at, const std::string& wanted) {
  throw Malformed{(at.empty() ? "the answer" : at) + " is " + kind_of(v) + ", not " + wanted};
}

void read(const json& v, const std::string& at, std::string& out) {
  if (!v.is_string()) wrong(v, at, "a string");
  out = v.get<std::string>();
}

void read(const json& v, const std::string& at, bool& out) {
  if (!v.is_boolean()) wrong(v, at, "a boolean");
  out = v.get<bool>();
}

void read(const json& v, const std::string& at, double& out) {
  if (!v.is_number()) wrong(v, at, "a number");
  out = v.get<double>();
}

// The answers' objects (below), declared here for the templates that read their fields.
void read(const json& v, const std::string& at, ReplicaInfo& r);
void read(const json& v, const std::string& at, RebuildInfo& r);
void read(const json& v, const std::string& at, SpaceInfo& s);
void read(const json& v, const std::string& at, FuseInfo& f);
void read(const json& v, const std::string& at, IoSnapshot& s);

template <class T>
concept Integer = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <Integer T>
void read(const json& v, const std::string& at, T& out) {
  constexpr auto lo = std::numeric_limits<T>::min();
  constexpr auto hi = std::numeric_limits<T>::max();
  const std::string wanted =
      std::string(std::is_unsigned_v<T> ? "an unsigned integer" : "an integer") + " up to " +
      std::to_string(hi);
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) wrong(v, at, wanted);
    out = static_cast<T>(v.get<std::uint64_t>());
    return;
  }
  if (!v.is_number_integer()) wrong(v, at, wanted);
  const std::int64_t n = v.get<std::int64_t>();  // negative here
  if constexpr (std::is_unsigned_v<T>) {
    wrong(v, at, wanted);
  } else {
    if (n < static_cast<std::int64_t>(lo)) wrong(v, at, wanted);
    out = static_cast<T>(n);
  }
}

template <class T>
void read(const json& v, const std::string& at, std::optional<T>& out) {
  if (v.is_null()) {
    out.reset();
    return;
  }
  T value{};
  read(v, at, value);
  out = std::move(value);
}

template <class T>
void read(const json& v, const std::string& at, std::vector<T>& out) {
  if (!v.is_array()) wrong(v, at, "an array");
  out.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    T item{};
    read(v[i], at + "[" + std::to_string(i) + "]", item);
    out.push_back(std::move(item));
  }
}

// object[key] into `out` when the key is there.
template <class T>
void field(const json& object, const std::string& at, const char* key, T& out) {
  auto it = object.find(key);
  if (it == object.end()) return;
  read(*it, at.empty() ? std::string(key) : at + "." + key, out);
}

void expect_object(const json& v, const std::string& at) {
  if (!v.is_object()) wrong(v, at, "an object");
}

void read(const json& v, const std::string& at, ReplicaInfo& r) {
  expect_object(v, at);
  field(v, at, "id", r.id);
  field(v, at, "uri", r.uri);
  field(v, at, "mode", r.mode);
  field(v, at, "generation", r.generation);
  field(v, at, "revision", r.revision);
  field(v, at, "error", r.error);
}

void read(const json& v, const std::string& at, RebuildInfo& r) {
  expect_object(v, at);
  field(v, at, "replica", r.replica);
  field(v, at, "kind", r.kind);
  field(v, at, "done_bytes", r.done_bytes);
  field(v, at, "total_bytes", r.total_bytes);
  field(v, at, "rate_bytes_per_s", r.rate_bytes_per_s);
  field(v, at, "eta_seconds", r.eta_seconds);
}

void read(const json& v, const std::string& at, SpaceInfo& s) {
  expect_object(v, at);
  field(v, at, "total_bytes", s.total_bytes);
  field(v, at, "free_bytes", s.free_bytes);
  field(v, at, "used_percent", s.used_percent);
  field(v, at, "warn_percent", s.warn_percent);
  field(v, at, "warning", s.warning);
}

void read(const json& v, const std::string& at, FuseInfo& f) {
  expect_object(v, at);
  field(v, at, "mountpoint", f.mountpoint);
  field(v, at, "file", f.file);
  field(v, at, "fd", f.fd);
  field(v, at, "requests", f.requests);
  field(v, at, "transport", f.transport);  // absent from an older target: empty
}

void read(const json& v, const std::string& at, TargetInfo& s) {
  expect_object(v, at);
  field(v, at, "volume", s.volume);
  field(v, at, "pid", s.pid);
  field(v, at, "iqn", s.iqn);
  field(v, at, "portal", s.portal);
  field(v, at, "started_at", s.started_at);
  field(v, at, "size_bytes", s.size_bytes);
  field(v, at, "connections", s.connections);
  field(v, at, "sessions", s.sessions);
  field(v, at, "health", s.health);
  field(v, at, "generation", s.generation);
  field(v, at, "replicas", s.replicas);
  field(v, at, "rebuild", s.rebuild);
  field(v, at, "last_rebuild", s.last_rebuild);
  field(v, at, "read_only", s.read_only);
  field(v, at, "space", s.space);
  field(v, at, "fuse", s.fuse);
}

void read(const json& v, const std::string& at, IoSnapshot& s) {
  expect_object(v, at);
  field(v, at, "ops", s.ops);
  field(v, at, "bytes", s.bytes);
  field(v, at, "seconds", s.seconds);
  field(v, at, "buckets", s.buckets);
}

// Each direction's buckets: one count per bound and one past the last.
void check_buckets(const IoSnapshot& s, const std::string& at, std::size_t bounds) {
  if (s.buckets.size() != bounds + 1)
    throw Malformed{at + ".buckets has " + std::to_string(s.buckets.size()) + " counts, not " +
                    std::to_string(bounds + 1)};
}

void read(const json& v, const std::string& at, TargetMetrics& m) {
  expect_object(v, at);
  field(v, at, "reads", m.reads);
  field(v, at, "writes", m.writes);
  field(v, at, "started_at_seconds", m.started_at_seconds);
  field(v, at, "bucket_bounds_seconds", m.bucket_bounds_seconds);
  field(v, at, "discards", m.discards);
  field(v, at, "read_errors", m.read_errors);
  field(v, at, "write_errors", m.write_errors);
  const std::size_t bounds =
      m.bucket_bounds_seconds.empty() ? kLatencyBounds.size() : m.bucket_bounds_seconds.size();
  check_buckets(m.reads, at.empty() ? "reads" : at + ".reads", bounds);
  check_buckets(m.writes, at.empty() ? "writes" : at + ".writes", bounds);
}

void read(const json& v, const std::string& at, FuseWithdrawn&) {
  expect_object(v, at);
}

void read(const json& v, const std::string& at, ReplicaChanges& c) {
  expect_object(v, at);
  field(v, at, "added", c.added);
  field(v, at, "removed", c.removed);
}

void read(const json& v, const std::string& at, ReplicaFaulted& f) {
  expect_object(v, at);
  field(v, at, "failed", f.failed);
}

void read(const json& v, const std::string& at, Rebuilding& r) {
  expect_object(v, at);
  field(v, at, "rebuilding", r.rebuilding);
}

void read(const json& v, const std::string& at, Resized& r) {
  expect_object(v, at);
  field(v, at, "size_bytes", r.size_bytes);
  field(v, at, "previous_bytes", r.previous_bytes);
}

void read(const json& v, const std::string& at, SnapshotTaken& t) {
  expect_object(v, at);
  field(v, at, "snapshot", t.snapshot);
  field(v, at, "file", t.file);
  field(v, at, "reflinked", t.reflinked);
}

void read(const json& v, const std::string& at, SnapshotProgress& p) {
  expect_object(v, at);
  field(v, at, "snapshot", p.snapshot);
  field(v, at, "copying", p.copying);
  field(v, at, "done_bytes", p.done_bytes);
  field(v, at, "total_bytes", p.total_bytes);
  field(v, at, "reflinked", p.reflinked);
  field(v, at, "error", p.error);
}

void read(const json& v, const std::string& at, Reverted& r) {
  expect_object(v, at);
  field(v, at, "reverted", r.reverted);
}

// A parsed answer that is an object, as T.
template <class T>
Result<T> from_object(const json& j) {
  T out{};
  try {
    read(j, "", out);
  } catch (const Malformed& m) {
    return fail(m.message);
  }
  return out;
}

}  // namespace

std::string target_routes::path(std::string_view route, std::string_view value) {
  std::string out(route);
  const auto open = out.find('{');
  const auto close = out.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return out;
  return out.replace(open, close - open + 1, value);
}

std::string encode(const TargetInfo& v) {
  return http::dump_json(to_json(v));
}
std::string encode(const TargetMetrics& v) {
  return http::dump_json({{"reads", to_json(v.reads)},
                          {"writes", to_json(v.writes)},
                          {"started_at_seconds", v.started_at_seconds},
                          {"bucket_bounds_seconds", v.bucket_bounds_seconds},
                          {"discards", to_json(v.discards)},
                          {"read_errors", v.read_errors},
                          {"write_errors", v.write_errors}});
}
std::string encode(const FuseInfo& v) {
  return http::dump_json(to_json(v));
}
std::string encode(const FuseWithdrawn&) {
  return http::dump_json({{"fuse", nullptr}});
}
std::string encode(const ReplicaChanges& v) {
  return http::dump_json({{"added", v.added}, {"removed", v.removed}});
}
std::string encode(const ReplicaFaulted& v) {
  return http::dump_json({{"failed", v.failed}});
}
std::string encode(const Rebuilding& v) {
  return http::dump_json({{"rebuilding", v.rebuilding}});
}
std::string encode(const Resized& v) {
  return http::dump_json({{"size_bytes", v.size_bytes}, {"previous_bytes", v.previous_bytes}});
}
std::string encode(const SnapshotTaken& v) {
  json j = {{"snapshot", v.snapshot}, {"file", v.file}};
  if (v.reflinked) j["reflinked"] = *v.reflinked;
  return http::dump_json(j);
}
std::string encode(const SnapshotProgress& v) {
  return http::dump_json({{"snapshot", v.snapshot},
                          {"copying", v.copying},
                          {"done_bytes", v.done_bytes},
                          {"total_bytes", v.total_bytes},
                          {"reflinked", v.reflinked},
                          {"error", or_null(v.error)}});
}
std::string encode(const Reverted& v) {
  return http::dump_json({{"reverted", v.reverted}});
}

template <class T>
Result<T> decode(std::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return fail("the answer is not JSON");
  return from_object<T>(j);
}

template Result<TargetInfo> decode<TargetInfo>(std::string_view);
template Result<TargetMetrics> decode<TargetMetrics>(std::string_view);
template Result<FuseInfo> decode<FuseInfo>(std::string_view);
template Result<FuseWithdrawn> decode<FuseWithdrawn>(std::string_view);
template Result<ReplicaChanges> decode<ReplicaChanges>(std::string_view);
template Result<ReplicaFaulted> decode<ReplicaFaulted>(std::string_view);
template Result<Rebuilding> decode<Rebuilding>(std::string_view);
template Result<Resized> decode<Resized>(std::string_view);
template Result<SnapshotTaken> decode<SnapshotTaken>(std::string_view);
template Result<SnapshotProgress> decode<SnapshotProgress>(std::string_view);
template Result<Reverted> decode<Reverted>(std::string_view);

std::optional<std::uint16_t> portal_port(std::string_view portal) {
  const auto colon = portal.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const char* first = portal.data() + colon + 1;
  const char* last = portal.data() + portal.size();
  unsigned port = 0;
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port == 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

TargetClient TargetClient::of(const std::filesystem::path& run_dir, const std::string& volume) {
  return TargetClient(target_paths(run_dir, volume).socket, volume);
}

template <class T>
Result<T> TargetClient::call(std::string_view method, const std::string& path, Timeout timeout,
                             std::string body_text) const {
  auto response =
      http::request(socket_, {std::string(method), path, std::move(body_text)}, timeout);
  if (!response)
    return fail("the target of volume " + volume_ + " does not answer", response.error());
  const json body = json::parse(response->body, nullptr, false);
  if (response->status != 200) {
    if (body.is_object() && body.contains("error") && body["error"].is_string())
      return fail(body["error"].get<std::string>());
    return fail(response->body);
  }
  if (!body.is_object()) return fail("the target of volume " + volume_ + " answered garbage");
  auto decoded = from_object<T>(body);
  if (!decoded)
    return fail("the target of volume " + volume_ + " answered " + std::string(method) + " " +
                    path + " with garbage",
                decoded.error());
  return decoded;
}

Result<TargetInfo> TargetClient::status(Timeout timeout) const {
  return call<TargetInfo>("GET", std::string(target_routes::kStatus), timeout);
}

Result<TargetMetrics> TargetClient::metrics(Timeout timeout) const {
  return call<TargetMetrics>("GET", std::string(target_routes::kMetrics), timeout);
}

Result<FuseInfo> TargetClient::expose_fuse(Timeout timeout) const {
  return call<FuseInfo>("POST", std::string(target_routes::kFuse), timeout);
}

Result<void> TargetClient::withdraw_fuse(Timeout timeout) const {
  MAYA_TRY(done, call<FuseWithdrawn>("DELETE", std::string(target_routes::kFuse), timeout));
  return {};
}

Result<ReplicaChanges> TargetClient::reload_replicas(Timeout timeout) const {
  return call<ReplicaChanges>("POST", std::string(target_routes::kReplicasReload), timeout);
}

Result<void> TargetClient::fault_replica(const std::string& id, const std::string& reason,
                                         Timeout timeout) const {
  MAYA_TRY(done,
           call<ReplicaFaulted>("POST", target_routes::path(target_routes::kReplicaFault, id),
                                timeout, reason.empty() ? "" : json{{"reason", reason}}.dump()));
  return {};
}

Result<std::vector<std::string>> TargetClient::rebuild(Timeout timeout) const {
  MAYA_TRY(answer, call<Rebuilding>("POST", std::string(target_routes::kRebuild), timeout));
  return std::move(answer->rebuilding);
}

Result<Resized> TargetClient::resize(Timeout timeout) const {
  return call<Resized>("POST", std::string(target_routes::kResize), timeout);
}

Result<SnapshotTaken> TargetClient::take_snapshot(const std::string& name, bool wait,
                                                  Timeout timeout) const {
  std::string path = target_routes::path(target_routes::kSnapshot, name);
  if (!wait) path += "?" + std::string(target_routes::kNoWait);
  return call<SnapshotTaken>("POST", path, timeout);
}

Result<SnapshotProgress> TargetClient::snapshot_progress(const std::string& name,
                                                         Timeout timeout) const {
  return call<SnapshotProgress>("GET", target_routes::path(target_routes::kSnapshot, name),
                                timeout);
}

Result<void> TargetClient::revert_snapshot(const std::string& name, Timeout timeout) const {
  MAYA_TRY(done, call<Reverted>("POST", target_routes::path(target_routes::kSnapshotRevert, name),
                                timeout));
  return {};
}

std::optional<std::uint16_t> TargetClient::probe(Timeout timeout) const {
  auto response = http::request(socket_, {"GET", std::string(target_routes::kStatus), ""}, timeout);
  if (!response || response->status != 200) return std::nullopt;
  auto info = decode<TargetInfo>(response->body);
  if (!info) return std::uint16_t{0};
  return portal_port(info->portal).value_or(0);
}

}  // namespace maya::jiva
