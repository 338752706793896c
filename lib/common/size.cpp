#include "lib/common/size.h"

#include <cstdio>

#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

namespace maya {
namespace {

struct Unit {
  std::string_view suffix;
  std::uint64_t factor;
};

constexpr std::uint64_t kKi = 1024;
constexpr std::array<Unit, 21> kUnits = {{
    {"", 1},
    {"B", 1},
    {"K", kKi},
    {"KiB", kKi},
    {"Ki", kKi},
    {"KB", 1000},
    {"M", kKi* kKi},
    {"MiB", kKi* kKi},
    {"Mi", kKi* kKi},
    {"MB", 1000 * 1000},
    {"G", kKi* kKi* kKi},
    {"GiB", kKi* kKi* kKi},
    {"Gi", kKi* kKi* kKi},
    {"GB", 1000ull * 1000 * 1000},
    {"T", kKi* kKi* kKi* kKi},
    {"TiB", kKi* kKi* kKi* kKi},
    {"Ti", kKi* kKi* kKi* kKi},
    {"TB", 1000ull * 1000 * 1000 * 1000},
    {"P", kKi* kKi* kKi* kKi* kKi},
    {"PiB", kKi* kKi* kKi* kKi* kKi},
    {"Pi", kKi* kKi* kKi* kKi* kKi},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::unexpected<Error> bad(std::string_view text, std::string_view why) {
  return fail("invalid size \"" + std::string(text) + "\": " + std::string(why));
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  if (text.empty()) return bad(text, "it is empty");
  if (text.front() == '-') return bad(text, "a size cannot be negative");
  std::size_t pos = 0;
  std::uint64_t whole = 0;
  bool digits = false;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    unsigned digit = static_cast<unsigned>(text[pos] - '0');
    if (whole > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
      return bad(text, "it is too large");
    whole = whole * 10 + digit;
    digits = true;
    ++pos;
  }
  // Up to 9 fractional digits, kept exactly as a fraction of 10^9.
  std::uint64_t frac = 0, frac_scale = 1;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    bool frac_digits = false;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (frac_scale >= 1'000'000'000) return bad(text, "too many decimal places");
      frac = frac * 10 + static_cast<unsigned>(text[pos] - '0');
      frac_scale *= 10;
      frac_digits = true;
      ++pos;
    }
    if (!frac_digits) return bad(text, "expected digits after the decimal point");
  }
  if (!digits) return bad(text, "expected a number followed by a unit such as GiB");

  std::string_view suffix = text.substr(pos);
  if (suffix.size() > 1 && suffix.front() == ' ') suffix.remove_prefix(1);  // "10 GiB"
  const Unit* unit = nullptr;
  for (const Unit& u : kUnits) {
    // "b" alone would be ambiguous with bits; only the exact "B" means bytes.
    if (u.suffix == suffix || (u.suffix.size() > 1 && iequals(u.suffix, suffix))) {
      unit = &u;
      break;
    }
  }
  if (unit == nullptr) {
    return bad(text, "unknown unit \"" + std::string(suffix) +
                         "\" (use B, KiB, MiB, GiB, TiB, PiB, Ki, Mi, Gi, Ti, Pi, K, M, G, T, P, "
                         "KB, MB, GB or TB)");
  }
  if (whole > std::numeric_limits<std::uint64_t>::max() / unit->factor)
    return bad(text, "it is too large");
  std::uint64_t bytes = whole * unit->factor;
  if (frac != 0) {
    // frac/frac_scale * factor, rounded down to a whole byte; factor <= 2^50 keeps this exact.
    long double part = static_cast<long double>(frac) * static_cast<long double>(unit->factor) /
                       static_cast<long double>(frac_scale);
    auto extra = static_cast<std::uint64_t>(std::floor(part));
    if (bytes > std::numeric_limits<std::uint64_t>::max() - extra)
      return bad(text, "it is too large");
    bytes += extra;
    if (unit->factor == 1 && extra * frac_scale != frac * unit->factor)
      return bad(text, "a byte count must be a whole number");
  }
  return bytes;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 6> kNames = {"B",   "KiB", "MiB",
                                                             "GiB", "TiB", "PiB"};
  std::size_t i = 0;
  while (i + 1 < kNames.size() && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++i;
  }
  return std::to_string(bytes) + std::string(kNames[i]);
}

std::string format_size_approx(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 6> kNames = {"B",   "KiB", "MiB",
                                                             "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  std::size_t i = 0;
  while (i + 1 < kNames.size() && value >= 1024) {
    value /= 1024;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f%s" : "%.1f%s", value,
                std::string(kNames[i]).c_str());
  return buf;
}

std::string format_size_human(std::uint64_t bytes) {
  const std::string exact = format_size(bytes);
  // Exact in a binary unit with at most three digits: "100GiB", "512MiB", "17B".
  const std::size_t unit = exact.ends_with("iB") ? 3 : 1;
  if (exact.size() - unit <= 3) return exact;
  // Given in decimal units ("10GB"): that, and what it is in binary units.
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> kDecimal = {{
      {"TB", 1000ull * 1000 * 1000 * 1000},
      {"GB", 1000ull * 1000 * 1000},
      {"MB", 1000ull * 1000},
      {"KB", 1000},
  }};
  for (const auto& [name, factor] : kDecimal) {
    if (bytes % factor == 0 && bytes / factor < 1000) {
      return std::to_string(bytes / factor) + std::string(name) + " (" + format_size_approx(bytes) +
             ")";
    }
  }
  return format_size_approx(bytes);
}

}  // namespace maya
