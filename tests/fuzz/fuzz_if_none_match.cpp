// If-None-Match evaluation and Vary parsing/merging.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fcr/http.hpp"
#include "fuzz_check.hpp"

namespace {

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> lines = split_lines(input);
  const std::string_view inm = lines[0];
  const std::string_view etag = lines.size() > 1 ? lines[1] : std::string_view{};

  const bool matched = fcr::http::if_none_match_matches(inm, etag);
  FUZZ_CHECK(matched == fcr::http::if_none_match_matches(inm, etag));
  // Only a well-formed ETag ("*" matches exactly those) can ever match.
  const bool etag_valid = fcr::http::if_none_match_matches("*", etag);
  FUZZ_CHECK(!matched || etag_valid);
  // A well-formed ETag matches itself, alone or in a list.
  FUZZ_CHECK(fcr::http::if_none_match_matches(etag, etag) == etag_valid);
  FUZZ_CHECK(fcr::http::if_none_match_matches("\"zz\", " + std::string(etag), etag) == etag_valid);
  // A body's own ETag is well-formed.
  const std::string own = fcr::http::etag_for_body(input);
  FUZZ_CHECK(fcr::http::if_none_match_matches(own, own));
  FUZZ_CHECK(fcr::http::if_none_match_matches("W/" + own, own));

  // Vary: names are non-empty, lower-case, trimmed, comma-free and unique.
  const fcr::http::Vary vary = fcr::http::parse_vary(inm);
  for (std::size_t i = 0; i < vary.names.size(); ++i) {
    const std::string& n = vary.names[i];
    FUZZ_CHECK(!n.empty() && n != "*");
    FUZZ_CHECK(n.find(',') == std::string::npos);
    FUZZ_CHECK(n.front() != ' ' && n.front() != '\t' && n.back() != ' ' && n.back() != '\t');
    FUZZ_CHECK(n == fcr::http::to_lower(n));
    FUZZ_CHECK(std::count(vary.names.begin(), vary.names.end(), n) == 1);
  }

  // merge_vary: extra names from the remaining lines (without commas: a
  // header name cannot contain one).
  std::vector<std::string> extra;
  for (std::size_t i = 2; i < lines.size(); ++i) {
    std::string name(lines[i]);
    std::replace(name.begin(), name.end(), ',', '-');
    extra.push_back(std::move(name));
  }
  const std::string merged = fcr::http::merge_vary(inm, extra);
  FUZZ_CHECK(fcr::http::merge_vary(merged, {}) == merged);     // idempotent
  FUZZ_CHECK(fcr::http::merge_vary(merged, extra) == merged);  // adding again is a no-op
  const fcr::http::Vary reparsed = fcr::http::parse_vary(merged);
  if (vary.star) FUZZ_CHECK(merged == "*");
  if (!reparsed.star) {
    // Everything that was there is still there, in the same order.
    FUZZ_CHECK(reparsed.names.size() >= vary.names.size());
    FUZZ_CHECK(std::equal(vary.names.begin(), vary.names.end(), reparsed.names.begin()));
  }
  return 0;
}
