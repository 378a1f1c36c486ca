#include "fcr/http.hpp"

#include "fcr/hash.hpp"
#include "field_syntax.hpp"

namespace fcr::http {
namespace {

using detail::add_field_name;
using detail::for_each_plain_member;
using detail::trim_ows;

// The opaque-tag (quotes included) of `W/"x"` or `"x"`, or empty when `tag`
// is not an entity-tag. An opaque-tag cannot contain '"'; the weak comparison
// then only needs to compare these.
std::string_view opaque_tag(std::string_view tag) {
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return {};
  if (tag.substr(1, tag.size() - 2).find('"') != std::string_view::npos) return {};
  return tag;
}

}  // namespace

std::string etag_for_body(std::string_view body) { return '"' + to_hex(hash128(body)) + '"'; }

bool if_none_match_matches(std::string_view if_none_match, std::string_view etag) {
  const std::string_view ours = opaque_tag(trim_ows(etag));
  if (ours.empty()) return false;
  bool matched = false;
  detail::for_each_member<detail::Quoting::entity_tag>(if_none_match, [&](std::string_view member) {
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
  for_each_plain_member(value, [&](std::string_view member) {
    if (member == "*") {
      vary.star = true;
    } else {
      add_field_name(vary.names, member);
    }
  });
  return vary;
}

std::string merge_vary(std::string_view existing, const std::vector<std::string>& extra) {
  Vary vary = parse_vary(existing);
  for (const std::string& name : extra) {
    if (trim_ows(name) == "*") {
      vary.star = true;
    } else {
      add_field_name(vary.names, name);
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
  for (char& c : out) c = detail::to_lower_ascii(c);
  return out;
}

}  // namespace fcr::http
