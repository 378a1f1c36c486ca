#include "fcr/http.hpp"

#include <algorithm>

#include "fcr/hash.hpp"

namespace fcr::http {
namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// The opaque-tag (quotes included) of `W/"x"` or `"x"`, or empty when `tag`
// is not an entity-tag. An opaque-tag cannot contain '"'; the weak comparison
// then only needs to compare these.
std::string_view opaque_tag(std::string_view tag) {
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return {};
  if (tag.substr(1, tag.size() - 2).find('"') != std::string_view::npos) return {};
  return tag;
}

// Splits a list on commas outside double quotes. A backslash inside quotes
// escapes the next character so a stray `\"` cannot end the quoted part; the
// member is then still rejected by opaque_tag().
template <typename F>
void for_each_member(std::string_view list, F&& visit) {
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const char c = list[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      if (visit(trim_ows(list.substr(start, i - start)))) return;
      start = i + 1;
    }
  }
  visit(trim_ows(list.substr(start)));
}

void add_name(std::vector<std::string>& names, std::string_view raw) {
  std::string name = to_lower(trim_ows(raw));
  if (name.empty() || std::find(names.begin(), names.end(), name) != names.end()) return;
  names.push_back(std::move(name));
}

}  // namespace

std::string etag_for_body(std::string_view body) { return '"' + to_hex(hash128(body)) + '"'; }

bool if_none_match_matches(std::string_view if_none_match, std::string_view etag) {
  const std::string_view ours = opaque_tag(trim_ows(etag));
  if (ours.empty()) return false;
  bool matched = false;
  for_each_member(if_none_match, [&](std::string_view member) {
    if (member == "*") {
      matched = true;
    } else {
      const std::string_view theirs = opaque_tag(member);
      matched = !theirs.empty() && theirs == ours;
    }
    return matched;  // stop early on a match
  });
  return matched;
}

Vary parse_vary(std::string_view value) {
  Vary vary;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    const std::string_view member = trim_ows(value.substr(start, end - start));
    start = end + 1;
    if (member == "*") {
      vary.star = true;
    } else {
      add_name(vary.names, member);
    }
  }
  return vary;
}

std::string merge_vary(std::string_view existing, const std::vector<std::string>& extra) {
  Vary vary = parse_vary(existing);
  for (const std::string& name : extra) {
    if (trim_ows(name) == "*") {
      vary.star = true;
    } else {
      add_name(vary.names, name);
    }
  }
  if (vary.star) return "*";
  std::string out;
  for (const std::string& name : vary.names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace fcr::http
