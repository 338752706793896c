#include "lib/ebs/query.h"

#include <algorithm>
#include <charconv>

#include "lib/ebs/encoding.h"

namespace maya::ebs {
namespace {

using Params = std::map<std::string, std::string, std::less<>>;

// One item of a flattened list: its index and its members by the rest of their names ("" for
// PREFIX.N itself, "Name" for PREFIX.N.Name, "Value.1" for PREFIX.N.Value.1).
struct Item {
  std::uint32_t index;
  Params members;
};

constexpr std::uint32_t kMaxIndex = 1000000;

std::optional<std::uint32_t> parse_index(std::string_view digits) {
  if (digits.empty() || digits.size() > 7 || digits[0] == '0') return std::nullopt;
  std::uint32_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (n > kMaxIndex) return std::nullopt;
  return n;
}

// The items PREFIX.N… of `params`, by index. `full` is the prefix as the client wrote it (for
// nested lists "TagSpecification.1.Tag"), to name parameters in errors.
ApiResult<std::vector<Item>> group(const Params& params, std::string_view prefix,
                                   std::string_view full) {
  std::string start = std::string(prefix) + ".";
  std::map<std::uint32_t, Params> items;
  for (auto it = params.lower_bound(start); it != params.end(); ++it) {
    std::string_view name = it->first;
    if (!name.starts_with(start)) break;
    std::string_view rest = name.substr(start.size());
    std::size_t dot = rest.find('.');
    auto index = parse_index(rest.substr(0, dot));
    if (!index)
      return api_fail(errors::unknown_parameter(std::string(full) + "." + std::string(rest)));
    std::string member = dot == std::string_view::npos ? "" : std::string(rest.substr(dot + 1));
    if (dot != std::string_view::npos && member.empty()) {
      return api_fail(errors::unknown_parameter(std::string(full) + "." + std::string(rest)));
    }
    items[*index].emplace(std::move(member), it->second);
  }
  std::vector<Item> out;
  out.reserve(items.size());
  for (auto& [index, members] : items) out.push_back(Item{index, std::move(members)});
  return out;
}

std::string item_name(std::string_view prefix, std::uint32_t index, std::string_view member) {
  std::string name = std::string(prefix) + "." + std::to_string(index);
  if (!member.empty()) name += "." + std::string(member);
  return name;
}

// Members of an item that are not among `allowed` (exact names) nor under `allowed_lists`
// ("Value" allows Value.1, Value.2…).
std::optional<ApiError> unexpected_member(const Item& item, std::string_view prefix,
                                          std::initializer_list<std::string_view> allowed,
                                          std::initializer_list<std::string_view> allowed_lists) {
  for (const auto& [member, value] : item.members) {
    bool ok = std::ranges::find(allowed, std::string_view(member)) != allowed.end();
    for (auto list : allowed_lists) {
      ok = ok || (member.size() > list.size() && std::string_view(member).starts_with(list) &&
                  member[list.size()] == '.');
    }
    if (!ok) return errors::unknown_parameter(item_name(prefix, item.index, member));
  }
  return std::nullopt;
}

ApiResult<std::vector<Tag>> tags_of(const Params& params, std::string_view prefix,
                                    std::string_view full) {
  auto items = group(params, prefix, full);
  if (!items) return api_fail(items.error());
  std::vector<Tag> tags;
  for (const auto& item : *items) {
    if (auto e = unexpected_member(item, full, {"Key", "Value"}, {})) return api_fail(*e);
    auto key = item.members.find("Key");
    if (key == item.members.end())
      return api_fail(errors::missing_parameter(item_name(full, item.index, "Key")));
    Tag tag{key->second, std::nullopt};
    if (auto v = item.members.find("Value"); v != item.members.end()) tag.value = v->second;
    tags.push_back(std::move(tag));
  }
  return tags;
}

bool printable_ascii(std::string_view name) {
  return std::ranges::all_of(name, [](char c) { return c > 0x20 && c < 0x7F; });
}

// Tab, LF and CR are allowed in values; other C0 controls and DEL are not (XML cannot carry
// them back).
bool clean_value(std::string_view value) {
  return std::ranges::none_of(value, [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F;
  });
}

}  // namespace

ApiResult<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [raw_name, raw_value] : split_query(text)) {
    auto name = percent_decode(raw_name, true);
    if (!name) {
      return api_fail(errors::malformed_query_string("a bad percent escape in the name '" +
                                                     std::string(raw_name.substr(0, 64)) + "'"));
    }
    auto value = percent_decode(raw_value, true);
    if (!value) {
      return api_fail(errors::malformed_query_string("a bad percent escape in the value of " +
                                                     std::string(raw_name.substr(0, 64))));
    }
    out.emplace_back(std::move(*name), std::move(*value));
    if (out.size() > kMaxQueryParameters) {
      return api_fail(errors::malformed_query_string(
          "more than " + std::to_string(kMaxQueryParameters) + " parameters"));
    }
  }
  return out;
}

ApiResult<Query> parse_query(std::string_view target, std::string_view body) {
  if (body.size() > kMaxQueryBytes) {
    return api_fail(errors::request_too_large(body.size(), kMaxQueryBytes));
  }
  std::string_view url_query;
  if (std::size_t q = target.find('?'); q != std::string_view::npos) {
    url_query = target.substr(q + 1);
    if (std::size_t hash = url_query.find('#'); hash != std::string_view::npos) {
      url_query = url_query.substr(0, hash);
    }
  }
  if (url_query.size() > kMaxQueryBytes) {
    return api_fail(errors::request_too_large(url_query.size(), kMaxQueryBytes));
  }
  Query query;
  bool have_action = false, have_version = false;
  for (std::string_view part : {url_query, body}) {
    auto pairs = parse_form(part);
    if (!pairs) return api_fail(pairs.error());
    for (auto& [name, value] : *pairs) {
      if (name.empty()) return api_fail(errors::malformed_query_string("a parameter with no name"));
      if (!valid_utf8(name) || !printable_ascii(name)) {
        return api_fail(
            errors::malformed_query_string("a parameter name that is not printable ASCII (" +
                                           uri_encode(name.substr(0, 64)) + ")"));
      }
      if (!valid_utf8(value)) {
        return api_fail(
            errors::invalid_parameter("The value of parameter " + name + " is not valid UTF-8."));
      }
      if (!clean_value(value)) {
        return api_fail(errors::invalid_parameter("The value of parameter " + name +
                                                  " holds control characters."));
      }
      bool duplicate = false;
      if (name == "Action") {
        duplicate = have_action;
        have_action = true;
        query.action = std::move(value);
      } else if (name == "Version") {
        duplicate = have_version;
        have_version = true;
        query.version = std::move(value);
      } else {
        duplicate = !query.params.emplace(name, std::move(value)).second;
      }
      if (duplicate) {
        return api_fail(
            errors::malformed_query_string("the parameter " + name + " is given more than once"));
      }
      if (query.params.size() > kMaxQueryParameters) {
        return api_fail(errors::malformed_query_string(
            "more than " + std::to_string(kMaxQueryParameters) + " parameters"));
      }
    }
  }
  if (!have_action || query.action.empty()) return api_fail(errors::missing_parameter("Action"));
  if (!have_version || query.version.empty()) return api_fail(errors::missing_parameter("Version"));
  return query;
}

std::optional<std::string> Query::get(std::string_view name) const {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

ApiResult<std::string> Query::require(std::string_view name) const {
  auto it = params.find(name);
  if (it == params.end()) return api_fail(errors::missing_parameter(name));
  return it->second;
}

ApiResult<std::optional<std::int64_t>> Query::integer(std::string_view name, std::int64_t min,
                                                      std::int64_t max) const {
  auto it = params.find(name);
  if (it == params.end()) return std::optional<std::int64_t>{};
  const std::string& text = it->second;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    return api_fail(errors::invalid_parameter_value(name, text, "It must be an integer."));
  }
  if (value < min || value > max) {
    return api_fail(errors::invalid_parameter_value(
        name, text,
        "It must be between " + std::to_string(min) + " and " + std::to_string(max) + "."));
  }
  return std::optional<std::int64_t>{value};
}

ApiResult<std::optional<bool>> Query::boolean(std::string_view name) const {
  auto it = params.find(name);
  if (it == params.end()) return std::optional<bool>{};
  std::string lower = it->second;
  std::ranges::transform(lower, lower.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (lower == "true") return std::optional<bool>{true};
  if (lower == "false") return std::optional<bool>{false};
  return api_fail(errors::invalid_parameter_value(name, it->second, "It must be true or false."));
}

ApiResult<std::vector<std::string>> Query::list(std::string_view prefix) const {
  auto items = group(params, prefix, prefix);
  if (!items) return api_fail(items.error());
  std::vector<std::string> out;
  out.reserve(items->size());
  for (const auto& item : *items) {
    if (auto e = unexpected_member(item, prefix, {""}, {})) return api_fail(*e);
    out.push_back(item.members.begin()->second);
  }
  return out;
}

ApiResult<std::vector<Filter>> Query::filters(std::string_view prefix) const {
  auto items = group(params, prefix, prefix);
  if (!items) return api_fail(items.error());
  std::vector<Filter> out;
  for (const auto& item : *items) {
    if (auto e = unexpected_member(item, prefix, {"Name"}, {"Value"})) return api_fail(*e);
    auto name = item.members.find("Name");
    if (name == item.members.end()) {
      return api_fail(errors::missing_parameter(item_name(prefix, item.index, "Name")));
    }
    std::string value_prefix = item_name(prefix, item.index, "Value");
    auto values = group(item.members, "Value", value_prefix);
    if (!values) return api_fail(values.error());
    Filter filter{name->second, {}};
    for (const auto& v : *values) {
      if (auto e = unexpected_member(v, value_prefix, {""}, {})) return api_fail(*e);
      filter.values.push_back(v.members.begin()->second);
    }
    out.push_back(std::move(filter));
  }
  return out;
}

ApiResult<std::vector<Tag>> Query::tags(std::string_view prefix) const {
  return tags_of(params, prefix, prefix);
}

ApiResult<std::vector<TagSpecification>> Query::tag_specifications(std::string_view prefix) const {
  auto items = group(params, prefix, prefix);
  if (!items) return api_fail(items.error());
  std::vector<TagSpecification> out;
  for (const auto& item : *items) {
    if (auto e = unexpected_member(item, prefix, {"ResourceType"}, {"Tag"})) return api_fail(*e);
    TagSpecification spec;
    if (auto type = item.members.find("ResourceType"); type != item.members.end()) {
      spec.resource_type = type->second;
    }
    auto tags = tags_of(item.members, "Tag", item_name(prefix, item.index, "Tag"));
    if (!tags) return api_fail(tags.error());
    spec.tags = std::move(*tags);
    out.push_back(std::move(spec));
  }
  return out;
}

std::optional<ApiError> Query::check_known(std::initializer_list<std::string_view> known) const {
  for (const auto& [name, value] : params) {
    std::string_view n = name;
    bool ok = std::ranges::any_of(known, [&](std::string_view k) {
      if (k.ends_with(".*")) return n.starts_with(k.substr(0, k.size() - 1));
      return n == k;
    });
    if (!ok) return errors::unknown_parameter(name);
  }
  return std::nullopt;
}

}  // namespace maya::ebs
