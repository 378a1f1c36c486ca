// HTTP-dates (RFC 9110 section 5.6.7) and conditional request evaluation
// (RFC 9110 section 13.2.2) for answers from the cache.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fcr::http {

// Parses the three HTTP-date formats: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37
// GMT"), obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT", two-digit years
// interpreted per RFC 9110: more than 50 years in the future means the past
// century) and asctime ("Sun Nov  6 08:49:37 1994"). Returns seconds since the
// Unix epoch, or nullopt for anything malformed (never throws). Day and month
// names and "GMT" match case-insensitively (RFC 9111 section 4.2); the weekday
// is not checked against the date; second 60 (a leap second) is accepted;
// surrounding whitespace is ignored, anything else after the date is not (so a
// list of several dates is invalid). Only years 0000-9999 are accepted.
// `now_epoch` is only used for the RFC 850 two-digit year rule, by calendar
// year: the year ending in those digits within (now - 50, now + 50].
std::optional<std::int64_t> parse_http_date(std::string_view value, std::int64_t now_epoch);

// IMF-fixdate for seconds since the epoch, clamped to years 0000-9999.
std::string format_http_date(std::int64_t epoch_seconds);

// Whether a hit should be answered 304 Not Modified. Only GET and HEAD are
// evaluated. If-None-Match (when present, even if malformed) takes precedence
// and If-Modified-Since is then ignored; If-Modified-Since applies only when
// the entry has a Last-Modified (`last_modified` >= 0) and the field is a valid
// HTTP-date not later than `now_epoch` (a date in the future is ignored, as RFC
// 2616 section 14.25 required: it cannot come from a Last-Modified we sent).
bool is_not_modified(std::string_view method, std::string_view if_none_match,
                     bool has_if_none_match, std::string_view if_modified_since,
                     std::string_view etag, std::int64_t last_modified, std::int64_t now_epoch);

// Whether a stored response with this status may answer a request that
// carries Range: only a complete 200 (a server may ignore Range and send the
// whole representation, RFC 9110 section 14.2; any other stored status is not
// known to be the whole resource).
constexpr bool answers_range_request(int status) noexcept { return status == 200; }

// Age in whole seconds (RFC 9111 section 4.2.3) for an entry stored at
// `stored_at`, never negative.
std::int64_t age_seconds(double stored_at, double now) noexcept;

}  // namespace fcr::http
