// Internal: the small pieces of HTTP field-value syntax (RFC 9110 section 5)
// that several engine parsers share, kept in one place so that whitespace,
// token characters, case folding and list splitting mean the same thing in
// Cache-Control, If-None-Match, Vary, HTTP-date and cache-key code.
// Not installed; include only from engine/src.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fcr/http.hpp"

namespace fcr::http::detail {

// OWS = *( SP / HTAB ) (RFC 9110 section 5.6.3).
inline bool is_ows(char c) { return c == ' ' || c == '\t'; }

// Field values and list members are compared without their surrounding OWS
// (RFC 9110 sections 5.5 and 5.6.1).
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// tchar, the characters of a token (RFC 9110 section 5.6.2).
inline bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

// ASCII-only case folding: field names, directive names and date words are
// case-insensitive ASCII (RFC 9110 sections 5.1 and 5.6.7, RFC 9111 section
// 5.2); bytes >= 0x80 are never folded, whatever the locale.
inline char to_lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower_ascii(a[i]) != to_lower_ascii(b[i])) return false;
  }
  return true;
}

// RFC 9111 section 1.2.2: a delta-seconds value too large to represent: "the
// cache MUST consider the value to be 2147483648 (2^31)".
inline constexpr std::int64_t kMaxDeltaSeconds = std::int64_t{1} << 31;

// delta-seconds = 1*DIGIT (RFC 9111 section 1.2.2), saturating at 2^31;
// nullopt for anything else (empty, a sign, a space, a fraction).
inline std::optional<std::int64_t> parse_delta_seconds(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (n < kMaxDeltaSeconds) n = n * 10 + (c - '0');
  }
  return std::min(n, kMaxDeltaSeconds);
}

// Adds a field name to a list of names as Vary and the cache key keep them:
// OWS-trimmed, lower-cased (field names are case-insensitive, RFC 9110
// section 5.1), without empty names or repeats, in first-occurrence order.
inline void add_field_name(std::vector<std::string>& names, std::string_view raw) {
  std::string name = to_lower(trim_ows(raw));
  if (name.empty() || std::find(names.begin(), names.end(), name) != names.end()) return;
  names.push_back(std::move(name));
}

// Passes one raw list member to `visit`, OWS-trimmed, unless it is empty:
// recipients must skip empty members (RFC 9110 section 5.6.1). The visitor
// returns void, or bool where true means "stop". Returns true to stop.
template <typename F>
bool visit_member(F& visit, std::string_view raw) {
  const std::string_view member = trim_ows(raw);
  if (member.empty()) return false;
  if constexpr (std::is_void_v<std::invoke_result_t<F&, std::string_view>>) {
    visit(member);
    return false;
  } else {
    return static_cast<bool>(visit(member));
  }
}

// Splits a list on every comma, for lists whose members cannot contain a
// quoted-string (Vary's #field-name). Visitor as for visit_member().
template <typename F>
void for_each_plain_member(std::string_view list, F&& visit) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = list.find(',', start);
    if (visit_member(visit, list.substr(start, comma - start))) return;
    if (comma == std::string_view::npos) return;
    start = comma + 1;
  }
}

// What a double quote opens inside a list member.
enum class Quoting {
  // quoted-string (RFC 9110 section 5.6.4): a backslash escapes the next byte
  // (quoted-pair). Cache-Control arguments.
  quoted_string,
  // opaque-tag (RFC 9110 section 8.8.3): no escapes, a backslash is an
  // ordinary etagc byte, so `"a,\"` is one whole entity-tag.
  entity_tag,
};

// Splits a list on commas outside double quotes. When a quote is never
// closed, the rest of the list from the member it starts in is split on every
// comma instead, so that a stray quote cannot hide a later member such as
// no-store or a matching entity-tag. Visitor as for visit_member().
template <Quoting kQuoting, typename F>
void for_each_member(std::string_view list, F&& visit) {
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const char c = list[i];
    if (quoted) {
      if (kQuoting == Quoting::quoted_string && c == '\\' && i + 1 < list.size()) {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      if (visit_member(visit, list.substr(start, i - start))) return;
      start = i + 1;
    }
  }
  if (quoted) {
    for_each_plain_member(list.substr(start), visit);
  } else {
    visit_member(visit, list.substr(start));
  }
}

}  // namespace fcr::http::detail
