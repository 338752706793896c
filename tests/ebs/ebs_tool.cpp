// A test helper for tests/ebs/botocore_test.py: reads one JSON request per line on stdin and
// answers one JSON line on stdout, so that botocore (Python) can sign requests for maya's
// verifier, serialize requests for maya's parser, and parse the documents maya's writer makes.
//   maya_ebs_tool verify   {"method","target","headers":[[n,v]…],"body_hex","access_key",
//                           "secret","region","now","max_skew"} → {"ok":true} | {"code",…}
//   maya_ebs_tool parse    {"target","body_hex","lists":[…]} → the Query as JSON | {"code",…}
//   maya_ebs_tool document {"kind":"error"|"describe_volumes"|"create_snapshot", …} → {"xml"}
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>

#include "lib/ebs/api_error.h"
#include "lib/ebs/query.h"
#include "lib/ebs/sigv4.h"
#include "lib/ebs/xml_writer.h"

namespace ebs = maya::ebs;
using nlohmann::json;

namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

json error_json(const ebs::ApiError& e) {
  return {{"status", e.http_status}, {"code", e.code}, {"message", e.message}};
}

json verify(const json& in) {
  std::string body = from_hex(in.at("body_hex"));
  ebs::SignedRequest r{in.at("method"), in.at("target"), {}, body};
  for (const auto& h : in.at("headers")) r.headers.emplace_back(h.at(0), h.at(1));
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(in.at("now").get<long>()));
  auto e =
      ebs::verify(r, {in.at("access_key"), in.at("secret")}, in.at("region").get<std::string>(),
                  now, std::chrono::seconds(in.at("max_skew").get<long>()));
  if (e) return error_json(*e);
  return {{"ok", true}};
}

json parse(const json& in) {
  auto q = ebs::parse_query(in.at("target").get<std::string>(), from_hex(in.at("body_hex")));
  if (!q) return error_json(q.error());
  json out = {{"action", q->action}, {"version", q->version}, {"params", q->params}};
  auto record = [&](const char* key, auto result, auto convert) {
    if (!result) {
      out[key] = error_json(result.error());
      return;
    }
    json list = json::array();
    for (const auto& v : *result) list.push_back(convert(v));
    out[key] = list;
  };
  auto tag = [](const ebs::Tag& t) {
    return json{{"Key", t.key}, {"Value", t.value ? json(*t.value) : json(nullptr)}};
  };
  record("filters", q->filters(), [](const ebs::Filter& f) {
    return json{{"Name", f.name}, {"Values", f.values}};
  });
  record("tags", q->tags(), tag);
  record("tag_specifications", q->tag_specifications(), [&](const ebs::TagSpecification& s) {
    json tags = json::array();
    for (const auto& t : s.tags) tags.push_back(tag(t));
    return json{{"ResourceType", s.resource_type}, {"Tags", tags}};
  });
  for (const auto& name : in.value("lists", json::array())) {
    record(name.get<std::string>().c_str(), q->list(name.get<std::string>()),
           [](const std::string& s) { return json(s); });
  }
  return out;
}

std::chrono::system_clock::time_point ms(const json& v) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(v.get<long>()));
}

void tag_set(ebs::XmlWriter& w, const json& tags) {
  auto set = w.scope("tagSet");
  for (const auto& t : tags) {
    auto item = w.scope("item");
    w.text("key", t.at(0).get<std::string>());
    w.text("value", t.at(1).get<std::string>());
  }
}

json document(const json& in) {
  std::string kind = in.at("kind");
  std::string request_id = in.value("request_id", "req-0");
  if (kind == "error") {
    ebs::ApiError e{in.at("status"), in.at("code"), in.at("message")};
    return {{"xml", ebs::error_document(e, request_id)}, {"status", e.http_status}};
  }
  if (kind == "describe_volumes") {
    auto w = ebs::XmlWriter::action_response("DescribeVolumes", request_id);
    {
      auto set = w.scope("volumeSet");
      for (const auto& v : in.at("volumes")) {
        auto item = w.scope("item");
        w.text("volumeId", v.at("id").get<std::string>());
        w.number("size", v.at("size").get<long>());
        w.text("snapshotId", v.value("snapshot", ""));
        w.text("availabilityZone", v.at("zone").get<std::string>());
        w.text("status", v.at("state").get<std::string>());
        w.timestamp("createTime", ms(v.at("create_ms")));
        {
          auto attachments = w.scope("attachmentSet");
          for (const auto& a : v.value("attachments", json::array())) {
            auto at = w.scope("item");
            w.text("volumeId", v.at("id").get<std::string>());
            w.text("instanceId", a.at("instance").get<std::string>());
            w.text("device", a.at("device").get<std::string>());
            w.text("status", a.at("state").get<std::string>());
            w.timestamp("attachTime", ms(a.at("time_ms")));
            w.boolean("deleteOnTermination", false);
          }
        }
        tag_set(w, v.value("tags", json::array()));
        w.text("volumeType", "gp2");
        w.boolean("encrypted", false);
        w.boolean("multiAttachEnabled", false);
      }
    }
    if (in.contains("next_token")) w.text("nextToken", in.at("next_token").get<std::string>());
    return {{"xml", w.finish()}};
  }
  if (kind == "create_snapshot") {
    auto w = ebs::XmlWriter::action_response("CreateSnapshot", request_id);
    w.text("snapshotId", in.at("id").get<std::string>());
    w.text("volumeId", in.at("volume").get<std::string>());
    w.text("status", "pending");
    w.timestamp("startTime", ms(in.at("start_ms")));
    w.text("progress", "");
    w.text("ownerId", "maya");
    w.number("volumeSize", in.at("size").get<long>());
    w.text("description", in.at("description").get<std::string>());
    w.boolean("encrypted", false);
    tag_set(w, in.value("tags", json::array()));
    return {{"xml", w.finish()}, {"replaced", w.replaced()}};
  }
  return {{"code", "unknown kind " + kind}};
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode != "verify" && mode != "parse" && mode != "document") {
    std::cerr << "usage: maya_ebs_tool verify|parse|document < JSON lines\n";
    return 2;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    json in = json::parse(line);
    json out = mode == "verify" ? verify(in) : mode == "parse" ? parse(in) : document(in);
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;
  }
  return 0;
}
