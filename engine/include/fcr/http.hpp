// HTTP validators and Vary handling (RFC 9110 sections 8.8.3, 12.5.5, 13.1.2).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fcr::http {

// Strong ETag for a body: a quoted 32-hex-digit 128-bit hash.
std::string etag_for_body(std::string_view body);

// If-None-Match evaluation with the weak comparison function: `*` matches any
// current representation; list members may be weak (W/"x") or strong ("x");
// commas inside quotes do not split (a backslash there is an ordinary
// character), but a quote that is never closed ends at the next comma, so a
// stray quote cannot hide a later entity-tag. A malformed member is skipped,
// never an error. Returns false when `etag` is empty or
// itself malformed.
bool if_none_match_matches(std::string_view if_none_match, std::string_view etag);

// Parsed Vary field value: names trimmed, lower-cased, de-duplicated in first
// occurrence order; `star` when any member is "*".
struct Vary {
  bool star = false;
  std::vector<std::string> names;
};

Vary parse_vary(std::string_view value);

// Merges `extra` names into an existing Vary value. Returns the new field value
// ("a, b, c"), or an empty string when nothing is to be sent. A "*" in the
// existing value is kept as "*".
std::string merge_vary(std::string_view existing, const std::vector<std::string>& extra);

// Lower-cases ASCII letters.
std::string to_lower(std::string_view s);

}  // namespace fcr::http
