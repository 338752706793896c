#include "lib/realm/etcd_json.h"

#include <charconv>

#include "lib/common/base64.h"

namespace maya::realm::etcd {

using nlohmann::json;

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

std::string printable(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

Result<std::int64_t> int_field(const json& object, const char* name) {
  if (!object.is_object()) return fail(std::string("expected an object holding \"") + name + "\"");
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return value;
  }
  return fail(std::string("\"") + name + "\" is not an integer");
}

Result<bool> bool_field(const json& object, const char* name) {
  if (!object.is_object()) return fail(std::string("expected an object holding \"") + name + "\"");
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return false;
  if (!it->is_boolean()) return fail(std::string("\"") + name + "\" is not a boolean");
  return it->get<bool>();
}

Result<std::string> bytes_field(const json& object, const char* name) {
  if (!object.is_object()) return fail(std::string("expected an object holding \"") + name + "\"");
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return fail(std::string("\"") + name + "\" is not a string");
  auto bytes = base64_decode(it->get_ref<const std::string&>());
  if (!bytes) return fail(std::string("\"") + name + "\"", bytes.error());
  return bytes;
}

Result<json> object_field(const json& object, const char* name) {
  if (!object.is_object()) return fail(std::string("expected an object holding \"") + name + "\"");
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return json::object();
  if (!it->is_object()) return fail(std::string("\"") + name + "\" is not an object");
  return *it;
}

Result<KeyValue> key_value(const json& kv) {
  KeyValue out;
  MAYA_TRY(key, bytes_field(kv, "key"));
  MAYA_TRY(value, bytes_field(kv, "value"));
  MAYA_TRY(created, int_field(kv, "create_revision"));
  MAYA_TRY(modified, int_field(kv, "mod_revision"));
  MAYA_TRY(lease, int_field(kv, "lease"));
  out.key = std::move(*key);
  out.value = std::move(*value);
  out.create_revision = *created;
  out.mod_revision = *modified;
  out.lease = *lease;
  return out;
}

Result<std::int64_t> header_revision(const json& answer) {
  MAYA_TRY(header, object_field(answer, "header"));
  return int_field(*header, "revision");
}

std::optional<Refusal> refusal(const json& answer) {
  if (!answer.is_object()) return std::nullopt;
  auto it = answer.find("error");
  if (it == answer.end() || it->is_null()) return std::nullopt;
  Refusal out;
  const json* holder = &answer;
  if (it->is_string()) {
    out.message = it->get<std::string>();
  } else if (it->is_object()) {
    holder = &*it;
    auto message = it->find("message");
    if (message != it->end() && message->is_string()) out.message = message->get<std::string>();
  }
  for (const char* name : {"code", "grpc_code"}) {
    auto code = holder->find(name);
    if (code != holder->end() && code->is_number_integer()) out.code = code->get<int>();
  }
  if (out.message.empty())
    out.message = "an error without a message (code " + std::to_string(out.code) + ")";
  return out;
}

bool token_rejected(std::string_view message) {
  return message.find("invalid auth token") != std::string_view::npos ||
         message.find("auth token is expired") != std::string_view::npos ||
         message.find("revision of auth store is old") != std::string_view::npos;
}

bool token_rejected(const Refusal& refusal) {
  return refusal.code == 16 || token_rejected(refusal.message);
}

}  // namespace maya::realm::etcd
