// The EC2 API's protocol (lib/ebs) on arbitrary bytes. Layout (tests/fuzz/reader.h): u8 mode,
// u16 target length, the target, u16 headers length, headers ("Name: value" lines), the rest
// is the body.
//   mode even: parse_query(target, body) and every accessor; a parsed value always goes into
//              the XML writer without a byte replaced (the parser lets nothing through that XML
//              cannot carry).
//   mode odd:  verify() on the request as given; then sign() it and verify() must accept it
//              when its header names are plain tokens.
#include <chrono>
#include <cstdlib>
#include <string_view>

#include "lib/ebs/query.h"
#include "lib/ebs/sigv4.h"
#include "lib/ebs/xml_writer.h"
#include "tests/fuzz/reader.h"

namespace ebs = maya::ebs;

namespace {

void fuzz_query(const std::string& target, std::string_view body) {
  auto q = ebs::parse_query(target, body);
  if (!q) {
    if (q.error().code.empty() || q.error().message.empty()) std::abort();
    return;
  }
  (void)q->list("VolumeId");
  (void)q->filters();
  (void)q->tags();
  (void)q->tag_specifications();
  (void)q->integer("Size", 1, 65536);
  (void)q->boolean("DryRun");
  (void)q->check_known({"Size", "Filter.*"});
  auto w = ebs::XmlWriter::action_response("Fuzz", "r");
  w.text("action", q->action);
  for (const auto& [name, value] : q->params) {
    w.text("name", name);
    w.text("value", value);
  }
  if (w.replaced() != 0) std::abort();
}

bool token(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) {
      return false;
    }
  }
  return true;
}

void fuzz_sigv4(const std::string& target, const std::string& header_text, std::string_view body) {
  const ebs::Credentials creds{"AKIAFUZZFUZZFUZZFUZZ", "fuzzsecretfuzzsecretfuzzsecretfuzzsecret"};
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1796540400));
  ebs::SignedRequest r{"POST", target, {}, body};
  bool plain = true;
  std::string_view rest = header_text;
  while (!rest.empty()) {
    std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    r.headers.emplace_back(name, value);
    std::string lower(name);
    for (auto& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    plain = plain && token(name) && lower != "x-amz-content-sha256" && lower != "authorization";
  }
  auto e = ebs::verify(r, creds, "maya-1", now, std::chrono::minutes(15));
  if (e && (e->code.empty() || e->message.empty())) std::abort();
  if (!plain) return;
  r.headers.emplace_back("Host", "127.0.0.1:5656");
  ebs::sign(r, creds, "maya-1", "ec2", now);
  if (ebs::verify(r, creds, "maya-1", now, std::chrono::minutes(15))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  maya::fuzz::Reader in(data, size);
  std::uint8_t mode = in.u8();
  std::string target = in.str(in.u16());
  std::string headers = in.str(in.u16());
  std::string body = in.str(size);
  if (mode % 2 == 0) {
    fuzz_query(target, body);
  } else {
    fuzz_sigv4(target, headers, body);
  }
  return 0;
}
