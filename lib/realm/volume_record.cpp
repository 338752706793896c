#include "lib/realm/volume_record.h"

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
  }
}

}  // namespace

json volume_json(const VolumeRecord& v) {
  json replicas = json::array();
  for (const ReplicaPlace& r : v.replicas)
    replicas.push_back({{"host", r.host_id}, {"pool", r.pool}});
  return {{"name", v.name},
          {"size_bytes", v.size_bytes},
          {"thin", v.thin},
          {"fstype", v.fstype},
          {"replicas", replicas},
          {"generation", v.generation},
          {"created_on", v.created_on},
          {"created_at", v.created_at},
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
      v.replicas.push_back({r.at("host").get<std::string>(), r.at("pool").get<std::string>()});
    v.generation = doc.value("generation", std::uint64_t{1});
    v.created_on = doc.value("created_on", std::string());
    v.created_at = doc.value("created_at", std::string());
    v.ebs_id = doc.value("ebs_id", std::string());  // optional: older records lack them
    v.zone = doc.value("zone", std::string());
    return v;
  });
}

json share_json(const RealmShare& s) {
  return {{"host", s.host_id}, {"pool", s.pool}, {"uri", s.uri}};
}

Result<RealmShare> share_from_json(std::string_view text, std::string_view key) {
  return parse_object<RealmShare>(text, key, [](const json& doc) {
    return RealmShare{doc.at("host").get<std::string>(), doc.at("pool").get<std::string>(),
                      doc.at("uri").get<std::string>()};
  });
}

json attachment_json(const Attachment& a) {
  return {{"host", a.host_id},
          {"host_name", a.host_name},
          {"generation", a.generation},
          {"since", a.since}};
}

Result<Attachment> attachment_from_json(std::string_view text, std::string_view key) {
  return parse_object<Attachment>(text, key, [](const json& doc) {
    return Attachment{doc.at("host").get<std::string>(), doc.value("host_name", std::string()),
                      doc.value("generation", std::uint64_t{0}), doc.value("since", std::string())};
  });
}

}  // namespace maya::realm
