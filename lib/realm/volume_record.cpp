#include "lib/realm/volume_record.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>
namespace maya::realm {

using nlohmann::json;

namespace {

// Parses `text` as a JSON object and hands it to `read`; every error names `key`.
template <class T, class Read>
Result<T> parse_object(std::string_view text, std::string_view key, Read read) {
  const std::string where(key);
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return fail(where + ": not a JSON object");
  try {
    return read(doc);
  } catch (const json::exception& e) {
    return fail(where + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    return fail(where + ": " + e.what());
  }
}

}  // namespace

std::string replica_id(const VolumeRecord& volume, std::size_t index) {
  const std::string& id = volume.replicas.at(index).id;
  return id.empty() && !volume.replicas[index].joining ? "r" + std::to_string(index + 1) : id;
}

std::string new_volume_uid() {
  unsigned char bytes[8];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  char hex[17];
  for (std::size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return std::string(hex, 16);
}

json volume_json(const VolumeRecord& v) {
  json replicas = json::array();
  for (const ReplicaPlace& r : v.replicas) {
    json place = {{"host", r.host_id}, {"pool", r.pool}};
    if (!r.id.empty()) place["id"] = r.id;
    if (r.joining) place["joining"] = true;
    replicas.push_back(std::move(place));
  }
  return {{"name", v.name},
          {"size_bytes", v.size_bytes},
          {"thin", v.thin},
          {"fstype", v.fstype},
          {"replicas", replicas},
          {"generation", v.generation},
          {"created_on", v.created_on},
          {"created_at", v.created_at},
          {"uid", v.uid},
          {"ebs_id", v.ebs_id},
          {"zone", v.zone}};
}

Result<VolumeRecord> volume_from_json(std::string_view text, std::string_view key) {
  return parse_object<VolumeRecord>(text, key, [](const json& doc) {
    VolumeRecord v;
    v.name = doc.at("name").get<std::string>();
    v.size_bytes = doc.at("size_bytes").get<std::uint64_t>();
    v.thin = doc.value("thin", true);
    v.fstype = doc.value("fstype", std::string());
    for (const json& r : doc.at("replicas"))
      v.replicas.push_back({r.at("host").get<std::string>(), r.at("pool").get<std::string>(),
                            r.value("id", std::string()), r.value("joining", false)});
    v.generation = doc.value("generation", std::uint64_t{1});
    v.created_on = doc.value("created_on", std::string());
    v.created_at = doc.value("created_at", std::string());
    v.uid = doc.value("uid", std::string());
    v.ebs_id = doc.value("ebs_id", std::string());  // optional: older records lack them
    v.zone = doc.value("zone", std::string());
    // One replica per host, each id once: a record that says otherwise was not written by maya.
    for (std::size_t i = 0; i < v.replicas.size(); ++i)
      for (std::size_t j = i + 1; j < v.replicas.size(); ++j) {
        if (v.replicas[i].host_id == v.replicas[j].host_id)
          throw std::invalid_argument("two replicas on host " + v.replicas[i].host_id);
        if (!v.replicas[i].id.empty() && v.replicas[i].id == v.replicas[j].id)
          throw std::invalid_argument("two replicas with id " + v.replicas[i].id);
      }
    return v;
  });
}

json share_json(const RealmShare& s) {
  return {{"host", s.host_id}, {"pool", s.pool}, {"uri", s.uri}, {"uid", s.uid}};
}

Result<RealmShare> share_from_json(std::string_view text, std::string_view key) {
  return parse_object<RealmShare>(text, key, [](const json& doc) {
    return RealmShare{doc.at("host").get<std::string>(), doc.at("pool").get<std::string>(),
                      doc.at("uri").get<std::string>(), doc.value("uid", std::string())};
  });
}

json attachment_json(const Attachment& a) {
  json j = {{"host", a.host_id},
            {"host_name", a.host_name},
            {"generation", a.generation},
            {"since", a.since}};
  if (a.for_drain) j["for"] = "drain";
  return j;
}

Result<Attachment> attachment_from_json(std::string_view text, std::string_view key) {
  return parse_object<Attachment>(text, key, [](const json& doc) {
    return Attachment{doc.at("host").get<std::string>(), doc.value("host_name", std::string()),
                      doc.value("generation", std::uint64_t{0}), doc.value("since", std::string()),
                      doc.value("for", std::string()) == "drain"};
  });
}

}  // namespace maya::realm
