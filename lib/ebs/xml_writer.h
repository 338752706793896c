// A small XML writer for the EC2 API's answers: elements are opened and closed in order, text
// is escaped (& < > " ' as entities; bytes that XML 1.0 cannot carry — invalid UTF-8, C0
// controls other than tab/LF/CR, U+FFFE/U+FFFF — become U+FFFD), so no caller pastes strings.
// Element names come from the code: an invalid name or an unbalanced close() is a bug and
// throws std::logic_error (the HTTP server answers 500).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace maya::ebs {

// The EC2 API version maya answers as, and its XML namespace.
inline constexpr std::string_view kEc2ApiVersion = "2016-11-15";
inline constexpr std::string_view kEc2Namespace = "http://ec2.amazonaws.com/doc/2016-11-15/";

class XmlWriter {
 public:
  XmlWriter();  // starts with <?xml version="1.0" encoding="UTF-8"?>

  // <ACTIONResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>…</requestId>,
  // left open: the action's fields follow, finish() closes it.
  static XmlWriter action_response(std::string_view action, std::string_view request_id);

  void open(std::string_view name);
  void open(std::string_view name,
            const std::vector<std::pair<std::string_view, std::string_view>>& attributes);
  void close();

  // <name>escaped value</name>
  void text(std::string_view name, std::string_view value);
  void text(std::string_view name, const char* value) { text(name, std::string_view(value)); }
  void number(std::string_view name, std::int64_t value);
  void boolean(std::string_view name, bool value);
  // <name>2026-12-06T07:00:00.000Z</name>
  void timestamp(std::string_view name, std::chrono::system_clock::time_point t);
  // EC2's list shape: <name><item><member_name>v</member_name></item>…</name>; with an empty
  // member_name: <name><item>v</item>…</name>.
  void string_list(std::string_view name, const std::vector<std::string>& values,
                   std::string_view member_name = {});

  // Closes every element still open and returns the document.
  std::string finish();

  // How many bytes of text were replaced by U+FFFD so far.
  std::size_t replaced() const { return replaced_; }

  // Closes the element it opened when it goes out of scope: `auto item = w.scope("item");`.
  class Scope {
   public:
    Scope(XmlWriter& w, std::string_view name) : w_(&w) { w.open(name); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    ~Scope() { w_->close(); }

   private:
    XmlWriter* w_;
  };
  [[nodiscard]] Scope scope(std::string_view name) { return Scope(*this, name); }

 private:
  void escape(std::string_view text, bool attribute);

  std::string out_;
  std::vector<std::string> open_;
  std::size_t replaced_ = 0;
};

// ISO 8601 in UTC with milliseconds, as EC2 writes times: "2026-12-06T07:00:00.000Z".
std::string iso8601_millis(std::chrono::system_clock::time_point t);

}  // namespace maya::ebs
