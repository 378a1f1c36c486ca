// Freshness, reuse, Range and stored fields over arbitrary header values.
// The input is up to eight lines: Cache-Control, Expires, Date, Age,
// Last-Modified, status, Range, If-Range (the last takes the rest); a line
// that is missing is an absent field. The same bytes, read as "name: value"
// lines, are also a field list for the stored-fields functions.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "fcr/conditional.hpp"
#include "fcr/freshness.hpp"
#include "fcr/range.hpp"
#include "fcr/stored_fields.hpp"
#include "fuzz_check.hpp"

namespace {

using fcr::http::EntryTiming;
using fcr::http::FieldView;
using fcr::http::RangeAnswer;
using fcr::http::RequestFreshness;
using fcr::http::Reuse;

constexpr double kNow = 1767225600;  // Thu, 01 Jan 2026 00:00:00 GMT
constexpr std::int64_t kTwo31 = std::int64_t{1} << 31;
// The widest Expires - Date: the span of four-digit years, in seconds.
constexpr double kMaxSpan = 253402300799.0 + 62167219200.0;
constexpr std::uint64_t kMaxLength = std::numeric_limits<std::uint64_t>::max();

enum Field { kCacheControl, kExpires, kDate, kAge, kLastModified, kStatus, kRange, kIfRange, kN };

struct Input {
  std::array<std::string_view, kN> value{};
  std::array<bool, kN> present{};
};

Input split(std::string_view s) {
  Input in;
  for (std::size_t i = 0; i < kN; ++i) {
    in.present[i] = true;
    const std::size_t nl = i + 1 < kN ? s.find('\n') : std::string_view::npos;
    in.value[i] = s.substr(0, nl);
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return in;
}

int status_of(std::string_view s) {
  int status = 0;
  for (char c : s.substr(0, 3)) {
    if (c < '0' || c > '9') return 200;
    status = status * 10 + (c - '0');
  }
  return status;
}

bool finite_non_negative(double x) { return std::isfinite(x) && x >= 0; }

void check_timing(const EntryTiming& t, const fcr::http::FreshnessPolicy& p) {
  FUZZ_CHECK(finite_non_negative(t.lifetime) && t.lifetime <= kMaxSpan);
  FUZZ_CHECK(finite_non_negative(t.initial_age));
  FUZZ_CHECK(finite_non_negative(t.stale_while_revalidate) && t.stale_while_revalidate <= kTwo31);
  FUZZ_CHECK(finite_non_negative(t.stale_if_error) && t.stale_if_error <= kTwo31);
  FUZZ_CHECK(t.stored_at == kNow);
  if (t.unbounded) FUZZ_CHECK(t.lifetime == 0 && !t.heuristic);
  if (t.must_revalidate) FUZZ_CHECK(t.stale_while_revalidate == 0 && t.stale_if_error == 0);
  if (p.route_ttl > 0) FUZZ_CHECK(t.lifetime == p.route_ttl && !t.unbounded && !t.heuristic);
  if (p.ignore_response_cache_control) {
    FUZZ_CHECK(!t.no_cache && !t.must_revalidate && t.stale_while_revalidate == 0);
  }
  if (!p.shared_cache_freshness || !p.heuristic) FUZZ_CHECK(!t.heuristic);
  if (t.heuristic) FUZZ_CHECK(t.lifetime <= p.heuristic_max);
}

std::array<RequestFreshness, 6> requests() {
  std::array<RequestFreshness, 6> r{};
  r[1].no_cache = true;
  r[2].max_age = 5;
  r[3].min_fresh = 5;
  r[4].max_stale = 5;
  r[5].max_stale_any = true;
  return r;
}

void check_reuse(const EntryTiming& t) {
  for (const double now : {kNow - 100, kNow, kNow + 0.5, kNow + t.lifetime, kNow + t.lifetime + 1,
                           kNow + 1e6}) {
    for (const RequestFreshness& req : requests()) {
      for (const bool validator : {false, true}) {
        const auto d = fcr::http::decide_reuse(t, now, validator, req);
        FUZZ_CHECK(finite_non_negative(d.age) && d.age >= t.initial_age);
        FUZZ_CHECK(std::isfinite(d.ttl_left));
        if (!validator) FUZZ_CHECK(d.reuse != Reuse::revalidate);
        if (validator) FUZZ_CHECK(d.reuse != Reuse::miss);
        const bool must_validate = t.no_cache || req.no_cache;
        if (must_validate) FUZZ_CHECK(d.reuse == Reuse::revalidate || d.reuse == Reuse::miss);
        const bool stale = !t.unbounded && d.age >= t.lifetime;
        if (stale && t.must_revalidate) FUZZ_CHECK(d.reuse != Reuse::fresh);
        if (stale && !req.max_stale && !req.max_stale_any) FUZZ_CHECK(d.reuse != Reuse::fresh);
        if (d.reuse == Reuse::stale_while_revalidate) {
          FUZZ_CHECK(stale && !t.must_revalidate && !t.no_cache);
          FUZZ_CHECK(d.age < t.lifetime + t.stale_while_revalidate);
        }
      }
    }
    const double ttl = fcr::http::store_ttl(t, now, 30);
    FUZZ_CHECK(std::isfinite(ttl));
    FUZZ_CHECK(t.unbounded ? ttl == 0 : ttl >= fcr::http::kMinStoreTtl);
    fcr::http::serves_stale_on_error(t, now);
  }
  if (t.unbounded && !t.no_cache) FUZZ_CHECK(fcr::http::worth_storing(t, false));
  if (t.no_cache) FUZZ_CHECK(!fcr::http::worth_storing(t, false));
  FUZZ_CHECK(fcr::http::worth_storing(t, true));
}

void check_freshness(const Input& in) {
  fcr::http::ResponseTimes r;
  r.cache_control = in.value[kCacheControl];
  r.expires = in.value[kExpires];
  r.has_expires = in.present[kExpires];
  r.date = in.value[kDate];
  r.has_date = in.present[kDate];
  r.age = in.value[kAge];
  r.has_age = in.present[kAge];
  r.last_modified = in.value[kLastModified];
  r.has_last_modified = in.present[kLastModified];
  r.status = status_of(in.value[kStatus]);
  r.response_time = kNow;
  for (int variant = 0; variant < 16; ++variant) {
    fcr::http::FreshnessPolicy p;
    p.route_ttl = (variant & 1) ? 30 : 0;
    p.ignore_response_cache_control = (variant & 2) != 0;
    p.shared_cache_freshness = (variant & 4) != 0;
    p.heuristic = (variant & 8) != 0;
    const EntryTiming t = fcr::http::entry_timing(r, p);
    check_timing(t, p);
    check_reuse(t);
  }

  const auto age = fcr::http::parse_age(in.value[kAge]);
  if (age) {
    FUZZ_CHECK(*age >= 0 && *age <= kTwo31);
    // Only the first member counts.
    FUZZ_CHECK(fcr::http::parse_age(std::string(in.value[kAge]) + ", 7") == age);
  }
  fcr::http::parse_request_freshness(in.value[kCacheControl], true, in.value[kExpires]);
}

void check_range(const Input& in) {
  const auto lm = fcr::http::parse_http_date(in.value[kLastModified], 1767225600);
  const std::int64_t last_modified = lm ? *lm : -1;
  for (const std::uint64_t length : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{100},
                                     std::uint64_t{10000}, kMaxLength}) {
    const auto plain = fcr::http::evaluate_range(in.value[kRange], length, "", false, "\"e\"",
                                                 last_modified, true);
    for (const std::string_view etag : {std::string_view("\"e\""), in.value[kIfRange]}) {
      for (const bool strong : {false, true}) {
        const auto r = fcr::http::evaluate_range(in.value[kRange], length, in.value[kIfRange],
                                                 in.present[kIfRange], etag, last_modified, strong);
        if (r.answer == RangeAnswer::partial) FUZZ_CHECK(r.first <= r.last && r.last < length);
        if (r.answer != RangeAnswer::partial) FUZZ_CHECK(r.first == 0 && r.last == 0);
        // If-Range only ever turns an answer into full.
        FUZZ_CHECK(r.answer == RangeAnswer::full || r.answer == plain.answer);
        if (r.answer == plain.answer) FUZZ_CHECK(r.first == plain.first && r.last == plain.last);
      }
    }
    if (plain.answer == RangeAnswer::partial) FUZZ_CHECK(length > 0);
  }
}

// "name: value" lines.
std::vector<FieldView> fields_of(std::string_view s) {
  std::vector<FieldView> fields;
  while (!s.empty()) {
    const std::size_t nl = s.find('\n');
    const std::string_view line = s.substr(0, nl);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      fields.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return fields;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] + 32) : name[i];
    if (c != lower[i]) return false;
  }
  return true;
}

void check_fields(std::string_view s) {
  const std::vector<FieldView> stored = fields_of(s);
  const std::vector<FieldView> fresh(stored.rbegin(), stored.rend());
  const auto listed = fcr::http::connection_listed(stored);
  const auto kept = fcr::http::storable_fields(stored);
  for (std::size_t k = 0; k < kept.size(); ++k) {
    FUZZ_CHECK(kept[k] < stored.size());
    if (k > 0) FUZZ_CHECK(kept[k - 1] < kept[k]);
    FUZZ_CHECK(!fcr::http::is_unstorable_field(stored[kept[k]].first, listed));
  }
  const auto fresh_listed = fcr::http::connection_listed(fresh);
  for (const auto& [from_fresh, i] : fcr::http::refreshed_fields(stored, fresh)) {
    const auto& source = from_fresh ? fresh : stored;
    FUZZ_CHECK(i < source.size());
    const std::string_view name = trim(source[i].first);
    FUZZ_CHECK(!fcr::http::is_unstorable_field(name, from_fresh ? fresh_listed : listed));
    if (from_fresh) FUZZ_CHECK(!is(name, "content-length"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Input in = split(input);
  check_freshness(in);
  check_range(in);
  check_fields(input);
  return 0;
}
