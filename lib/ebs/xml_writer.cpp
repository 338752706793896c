#include "lib/ebs/xml_writer.h"

#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "lib/ebs/encoding.h"

namespace maya::ebs {
namespace {

// XML names as the writer accepts them: ASCII letters, digits, '_', '-', '.', ':'; not starting
// with a digit, '-' or '.'. Every EC2 element name fits.
bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
    bool other = (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!letter && !(i > 0 && other)) return false;
  }
  return true;
}

void check_name(std::string_view name) {
  if (!valid_name(name))
    throw std::logic_error("XmlWriter: invalid element name '" + std::string(name) + "'");
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

XmlWriter::XmlWriter() {
  out_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
}

XmlWriter XmlWriter::action_response(std::string_view action, std::string_view request_id) {
  XmlWriter w;
  std::string root = std::string(action) + "Response";
  w.open(root, {{"xmlns", kEc2Namespace}});
  w.text("requestId", request_id);
  return w;
}

void XmlWriter::open(std::string_view name) {
  open(name, {});
}

void XmlWriter::open(std::string_view name,
                     const std::vector<std::pair<std::string_view, std::string_view>>& attributes) {
  check_name(name);  // every name before anything is written: a throw leaves the text whole
  for (const auto& attribute : attributes) check_name(attribute.first);
  out_ += '<';
  out_ += name;
  for (const auto& [key, value] : attributes) {
    out_ += ' ';
    out_ += key;
    out_ += "=\"";
    escape(value, true);
    out_ += '"';
  }
  out_ += '>';
  open_.emplace_back(name);
}

void XmlWriter::close() {
  if (open_.empty()) throw std::logic_error("XmlWriter: close() with no element open");
  out_ += "</";
  out_ += open_.back();
  out_ += '>';
  open_.pop_back();
}

void XmlWriter::text(std::string_view name, std::string_view value) {
  check_name(name);
  out_ += '<';
  out_ += name;
  out_ += '>';
  escape(value, false);
  out_ += "</";
  out_ += name;
  out_ += '>';
}

void XmlWriter::number(std::string_view name, std::int64_t value) {
  text(name, std::to_string(value));
}

void XmlWriter::boolean(std::string_view name, bool value) {
  text(name, value ? "true" : "false");
}

void XmlWriter::timestamp(std::string_view name, std::chrono::system_clock::time_point t) {
  text(name, iso8601_millis(t));
}

void XmlWriter::string_list(std::string_view name, const std::vector<std::string>& values,
                            std::string_view member_name) {
  auto list = scope(name);
  for (const auto& v : values) {
    if (member_name.empty()) {
      text("item", v);
    } else {
      auto item = scope("item");
      text(member_name, v);
    }
  }
}

std::string XmlWriter::finish() {
  while (!open_.empty()) close();
  return std::move(out_);
}

void XmlWriter::escape(std::string_view text, bool attribute) {
  while (!text.empty()) {
    auto c = static_cast<unsigned char>(text[0]);
    std::size_t n = utf8_sequence_length(text);
    if (n == 0) {  // not UTF-8: one replacement per bad byte
      out_ += kReplacement;
      ++replaced_;
      text.remove_prefix(1);
      continue;
    }
    std::string_view seq = text.substr(0, n);
    text.remove_prefix(n);
    if (n == 1) {
      switch (c) {
        case '&':
          out_ += "&amp;";
          continue;
        case '<':
          out_ += "&lt;";
          continue;
        case '>':
          out_ += "&gt;";
          continue;
        case '"':
          out_ += "&quot;";
          continue;
        case '\'':
          out_ += "&apos;";
          continue;
        case '\t':
          out_ += attribute ? "&#9;" : "\t";
          continue;
        case '\n':
          out_ += attribute ? "&#10;" : "\n";
          continue;
        // A literal CR would be normalized away by the reader; a reference keeps it.
        case '\r':
          out_ += "&#13;";
          continue;
        default:
          break;
      }
      if (c < 0x20) {  // C0 controls are not XML 1.0 characters, not even as references
        out_ += kReplacement;
        ++replaced_;
        continue;
      }
    } else if (n == 3 && seq == "\xEF\xBF\xBE") {  // U+FFFE
      out_ += kReplacement;
      ++replaced_;
      continue;
    } else if (n == 3 && seq == "\xEF\xBF\xBF") {  // U+FFFF
      out_ += kReplacement;
      ++replaced_;
      continue;
    }
    out_ += seq;
  }
}

std::string iso8601_millis(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = ms / 1000;
  auto frac = ms % 1000;
  if (frac < 0) {  // before 1970: floor, not truncate
    frac += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(frac));
  return std::string(buf) + millis;
}

}  // namespace maya::ebs
