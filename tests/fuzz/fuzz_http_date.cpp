// HTTP-date parsing and formatting, and conditional request evaluation.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fcr/conditional.hpp"
#include "fuzz_check.hpp"

namespace {

constexpr std::int64_t kMin = -62167219200;  // 0000-01-01T00:00:00Z
constexpr std::int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
constexpr std::int64_t kNow = 1767225600;    // 2026-01-01T00:00:00Z

void check_formatted(std::int64_t t) {
  const std::string s = fcr::http::format_http_date(t);
  FUZZ_CHECK(s.size() == 29);
  const std::int64_t clamped = std::clamp(t, kMin, kMax);
  FUZZ_CHECK(fcr::http::parse_http_date(s, kNow) == clamped);
  FUZZ_CHECK(fcr::http::format_http_date(clamped) == s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);

  // The first eight bytes double as a timestamp and as "now".
  std::int64_t raw = 0;
  std::memcpy(&raw, data, std::min(size, sizeof raw));
  check_formatted(raw);
  check_formatted(raw % (kMax + 1));

  for (const std::int64_t now : {kNow, raw}) {
    const auto t = fcr::http::parse_http_date(value, now);
    if (!t) continue;
    FUZZ_CHECK(*t >= kMin && *t <= kMax);
    // format(parse(s)) is canonical: it parses back to the same instant.
    const std::string canonical = fcr::http::format_http_date(*t);
    FUZZ_CHECK(fcr::http::parse_http_date(canonical, now) == t);
    // A date is one list member; a second one makes the field invalid.
    FUZZ_CHECK(!fcr::http::parse_http_date(std::string(value) + ", " + canonical, now));
    // If-Modified-Since with this date, against entries older and newer.
    const bool in_past = *t <= now;  // a future If-Modified-Since is ignored
    const std::int64_t older = std::max<std::int64_t>(*t - 1, 0);
    FUZZ_CHECK(fcr::http::is_not_modified("GET", "", false, value, "\"e\"", older, now) ==
               (in_past && older <= *t));
    FUZZ_CHECK(!fcr::http::is_not_modified("GET", "", false, value, "\"e\"", *t + 1, now));
    FUZZ_CHECK(!fcr::http::is_not_modified("POST", "", false, value, "\"e\"", 0, now));
    // If-None-Match, even malformed, takes precedence.
    FUZZ_CHECK(!fcr::http::is_not_modified("GET", "\"x\"", true, value, "\"e\"", 0, now));
  }

  // Arbitrary header values: never crash, and the method gate holds.
  const std::size_t cut = value.find('\n');
  const std::string_view inm = value.substr(0, cut);
  const std::string_view ims =
      cut == std::string_view::npos ? std::string_view{} : value.substr(cut + 1);
  for (const bool has_inm : {false, true}) {
    fcr::http::is_not_modified("GET", inm, has_inm, ims, "\"e\"", raw, kNow);
    FUZZ_CHECK(!fcr::http::is_not_modified("PUT", inm, has_inm, ims, "\"e\"", raw, kNow));
  }

  double a = 0;
  double b = 0;
  if (size >= 16) {
    std::memcpy(&a, data, sizeof a);
    std::memcpy(&b, data + 8, sizeof b);
  }
  const std::int64_t age = fcr::http::age_seconds(a, b);
  FUZZ_CHECK(age >= 0 && age <= (std::int64_t{1} << 31));
  return 0;
}
