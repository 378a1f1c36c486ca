// Freshness and reuse (RFC 9111 section 4.2 and its neighbours). Every `now`
// is a fixed instant: no test reads a clock.
#include "fcr/freshness.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "fcr/conditional.hpp"

namespace {

using fcr::http::current_age;
using fcr::http::decide_reuse;
using fcr::http::entry_timing;
using fcr::http::EntryTiming;
using fcr::http::FreshnessPolicy;
using fcr::http::kMinStoreTtl;
using fcr::http::kUnboundedTtlLeft;
using fcr::http::parse_age;
using fcr::http::parse_request_freshness;
using fcr::http::RequestFreshness;
using fcr::http::ResponseTimes;
using fcr::http::Reuse;
using fcr::http::serves_stale_on_error;
using fcr::http::store_ttl;
using fcr::http::worth_storing;

constexpr std::int64_t kNow = 1767225600;  // Thu, 01 Jan 2026 00:00:00 GMT
constexpr double kT = static_cast<double>(kNow);
constexpr std::int64_t kTwo31 = std::int64_t{1} << 31;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string date(std::int64_t offset) { return fcr::http::format_http_date(kNow + offset); }

// A response received at kNow with this Cache-Control and nothing else.
ResponseTimes response(std::string_view cache_control = "") {
  ResponseTimes r;
  r.cache_control = cache_control;
  r.response_time = kT;
  return r;
}

EntryTiming timing(std::string_view cache_control, FreshnessPolicy policy = {}) {
  return entry_timing(response(cache_control), policy);
}

FreshnessPolicy shared(bool heuristic = false) {
  FreshnessPolicy p;
  p.shared_cache_freshness = true;
  p.heuristic = heuristic;
  return p;
}

// An entry stored at kNow with this lifetime (initial age 0).
EntryTiming lived(double lifetime) {
  EntryTiming t;
  t.stored_at = kT;
  t.lifetime = lifetime;
  return t;
}

// ---------------------------------------------------------------- lifetime

TEST(FreshnessLifetime, RouteTtlWinsOverTheResponse) {
  FreshnessPolicy p;
  p.route_ttl = 30;
  EXPECT_EQ(timing("max-age=60, s-maxage=90", p).lifetime, 30);
  ResponseTimes r = response();
  r.expires = "0";
  r.has_expires = true;
  EXPECT_EQ(entry_timing(r, p).lifetime, 30);
  EXPECT_FALSE(entry_timing(r, p).unbounded);
}

TEST(FreshnessLifetime, RouteTtlMustBePositiveAndFinite) {
  for (const double ttl : {0.0, -5.0, kNaN, kInf}) {
    FreshnessPolicy p;
    p.route_ttl = ttl;
    EXPECT_EQ(timing("max-age=7", p).lifetime, 7) << ttl;
  }
}

// RFC 9111 section 4.2.1: "If the cache is shared and the s-maxage response
// directive (Section 5.2.2.10) is present, use its value".
TEST(FreshnessLifetime, SMaxageFirst) {
  EXPECT_EQ(timing("max-age=60, s-maxage=5").lifetime, 5);
  EXPECT_EQ(timing("s-maxage=0, max-age=60").lifetime, 0);
  EXPECT_EQ(timing("s-maxage=junk, max-age=60").lifetime, 0);  // invalid means stale
}

// Section 4.2.1: "If the max-age response directive (Section 5.2.2.1) is
// present, use its value".
TEST(FreshnessLifetime, MaxAgeNext) {
  EXPECT_EQ(timing("max-age=60").lifetime, 60);
  EXPECT_EQ(timing("max-age=99999999999").lifetime, static_cast<double>(kTwo31));
  EXPECT_FALSE(timing("max-age=60").unbounded);
}

// Section 5.3: "If a response includes a Cache-Control header field with the
// max-age directive ..., a recipient MUST ignore the Expires header field."
TEST(FreshnessLifetime, MaxAgeAndSMaxageOverrideExpires) {
  const std::string expires = date(3600);
  ResponseTimes r = response("max-age=10");
  r.expires = expires;
  r.has_expires = true;
  EXPECT_EQ(entry_timing(r, {}).lifetime, 10);
  r.cache_control = "s-maxage=20";
  EXPECT_EQ(entry_timing(r, {}).lifetime, 20);
  r.expires = "0";
  EXPECT_EQ(entry_timing(r, {}).lifetime, 20);
}

// Section 4.2.1: "If the Expires response header field ... is present, use
// its value minus the value of the Date response header field".
TEST(FreshnessLifetime, ExpiresMinusDate) {
  const std::string d = date(-100);  // the origin's clock is 100 s behind ours
  const std::string expires = date(500);
  ResponseTimes r = response();
  r.date = d;
  r.has_date = true;
  r.expires = expires;
  r.has_expires = true;
  const EntryTiming t = entry_timing(r, {});
  EXPECT_EQ(t.lifetime, 600);
  EXPECT_FALSE(t.unbounded);
  EXPECT_FALSE(t.heuristic);
}

// Section 4.2.1: "(using the time the message was received if it is not
// present ...)"; an invalid Date is no Date.
TEST(FreshnessLifetime, ExpiresWithoutValidDateUsesTheResponseTime) {
  const std::string expires = date(300);
  ResponseTimes r = response();
  r.expires = expires;
  r.has_expires = true;
  EXPECT_EQ(entry_timing(r, {}).lifetime, 300);
  r.date = "yesterday";
  r.has_date = true;
  EXPECT_EQ(entry_timing(r, {}).lifetime, 300);
  // Several Date lines combined are not one date either.
  const std::string two_dates = date(-50) + ", " + date(-40);
  r.date = two_dates;
  EXPECT_EQ(entry_timing(r, {}).lifetime, 300);
}

// Section 5.3: "A cache recipient MUST interpret invalid date formats,
// especially the value "0", as representing a time in the past".
TEST(FreshnessLifetime, InvalidExpiresIsAlreadyStale) {
  for (const char* v : {"0", "", "-1", "tomorrow", "Thu, 01 Jan 2026 00:00:00 UTC",
                        "Thu, 32 Jan 2026 00:00:00 GMT"}) {
    ResponseTimes r = response();
    r.expires = v;
    r.has_expires = true;
    const EntryTiming t = entry_timing(r, shared(true));
    EXPECT_EQ(t.lifetime, 0) << v;
    EXPECT_FALSE(t.unbounded) << v;
    EXPECT_FALSE(t.heuristic) << v;  // explicit, though stale
  }
}

// Section 4.2.1: "When there is more than one value present for a given
// directive (e.g., two Expires header field lines ...), either the first
// occurrence should be used or the response should be considered stale."
TEST(FreshnessLifetime, SeveralExpiresLinesAreStale) {
  const std::string both = date(100) + ", " + date(200);
  ResponseTimes r = response();
  r.expires = both;
  r.has_expires = true;
  EXPECT_EQ(entry_timing(r, {}).lifetime, 0);
}

TEST(FreshnessLifetime, ExpiresAtOrBeforeDateIsStale) {
  const std::string d = date(0);
  for (const std::int64_t offset : {0, -1, -86400}) {
    const std::string expires = date(offset);
    ResponseTimes r = response();
    r.date = d;
    r.has_date = true;
    r.expires = expires;
    r.has_expires = true;
    EXPECT_EQ(entry_timing(r, {}).lifetime, 0) << offset;
  }
}

TEST(FreshnessLifetime, WithoutExplicitFreshnessUnboundedByDefault) {
  const EntryTiming t = timing("public");
  EXPECT_TRUE(t.unbounded);
  EXPECT_FALSE(t.heuristic);
  EXPECT_TRUE(timing("").unbounded);
  EXPECT_TRUE(timing("stale-while-revalidate=5").unbounded);
}

TEST(FreshnessLifetime, SharedCacheFreshnessWithoutHeuristicIsZero) {
  const EntryTiming t = timing("", shared());
  EXPECT_FALSE(t.unbounded);
  EXPECT_EQ(t.lifetime, 0);
  EXPECT_FALSE(t.heuristic);
}

TEST(FreshnessLifetime, IgnoringCacheControlIgnoresExpiresToo) {
  FreshnessPolicy p;
  p.ignore_response_cache_control = true;
  ResponseTimes r = response("no-cache, must-revalidate, max-age=0, stale-while-revalidate=9");
  r.expires = "0";
  r.has_expires = true;
  EntryTiming t = entry_timing(r, p);
  EXPECT_TRUE(t.unbounded);
  EXPECT_FALSE(t.no_cache || t.must_revalidate);
  EXPECT_EQ(t.stale_while_revalidate, 0);
  p.route_ttl = 12;
  t = entry_timing(r, p);
  EXPECT_EQ(t.lifetime, 12);
  EXPECT_FALSE(t.unbounded);
  // The rule for responses without explicit freshness still applies.
  p.route_ttl = 0;
  p.shared_cache_freshness = true;
  EXPECT_EQ(entry_timing(r, p).lifetime, 0);
  EXPECT_FALSE(entry_timing(r, p).unbounded);
}

// ---------------------------------------------------------------- heuristic

ResponseTimes modified(const std::string& last_modified, const std::string& d, int status = 200) {
  ResponseTimes r = response();
  r.last_modified = last_modified;
  r.has_last_modified = true;
  r.date = d;
  r.has_date = !d.empty();
  r.status = status;
  return r;
}

// Section 4.2.2: "caches are encouraged to use a heuristic expiration value
// that is no more than some fraction of the interval since that time. A
// typical setting of this fraction might be 10%."
TEST(HeuristicFreshness, FractionOfTheTimeSinceLastModified) {
  const std::string lm = date(-10000);
  const std::string d = date(0);
  const EntryTiming t = entry_timing(modified(lm, d), shared(true));
  EXPECT_TRUE(t.heuristic);
  EXPECT_FALSE(t.unbounded);
  EXPECT_DOUBLE_EQ(t.lifetime, 1000);
  FreshnessPolicy p = shared(true);
  p.heuristic_fraction = 0.5;
  EXPECT_DOUBLE_EQ(entry_timing(modified(lm, d), p).lifetime, 5000);
}

TEST(HeuristicFreshness, MeasuredFromDateOrTheResponseTime) {
  const std::string lm = date(-10000);
  const std::string d = date(-2000);  // Date 2000 s before we received it
  EXPECT_DOUBLE_EQ(entry_timing(modified(lm, d), shared(true)).lifetime, 800);
  EXPECT_DOUBLE_EQ(entry_timing(modified(lm, ""), shared(true)).lifetime, 1000);
}

TEST(HeuristicFreshness, CappedAtHeuristicMax) {
  const std::string lm = date(-100 * 86400);
  const std::string d = date(0);
  EXPECT_EQ(entry_timing(modified(lm, d), shared(true)).lifetime, 86400);
  FreshnessPolicy p = shared(true);
  p.heuristic_max = 60;
  EXPECT_EQ(entry_timing(modified(lm, d), p).lifetime, 60);
}

// RFC 9110 section 15.1: "Responses with status codes that are defined as
// heuristically cacheable (e.g., 200, 203, 204, 206, 300, 301, 308, 404, 405,
// 410, 414, and 501 in this specification) can be reused by a cache with
// heuristic expiration".
TEST(HeuristicFreshness, OnlyForHeuristicallyCacheableStatuses) {
  const std::string lm = date(-10000);
  const std::string d = date(0);
  for (const int status : {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501}) {
    EXPECT_TRUE(entry_timing(modified(lm, d, status), shared(true)).heuristic) << status;
  }
  for (const int status : {201, 302, 303, 307, 400, 403, 500, 502, 503}) {
    const EntryTiming t = entry_timing(modified(lm, d, status), shared(true));
    EXPECT_FALSE(t.heuristic) << status;
    EXPECT_EQ(t.lifetime, 0) << status;
  }
}

// RFC 9111 section 4.2.2: heuristics also apply to "responses without
// explicit freshness that have been marked as explicitly cacheable (e.g., with
// a public response directive)".
TEST(HeuristicFreshness, PublicMakesAnyStatusHeuristicallyCacheable) {
  const std::string lm = date(-10000);
  const std::string d = date(0);
  ResponseTimes r = modified(lm, d, 302);
  r.cache_control = "public";
  const EntryTiming t = entry_timing(r, shared(true));
  EXPECT_TRUE(t.heuristic);
  EXPECT_DOUBLE_EQ(t.lifetime, 1000);
}

// Section 4.2.2: "A cache MUST NOT use heuristics to determine freshness when
// an explicit expiration time is present in the stored response."
TEST(HeuristicFreshness, NeverWithExplicitFreshness) {
  const std::string lm = date(-10000);
  const std::string d = date(0);
  ResponseTimes r = modified(lm, d);
  r.cache_control = "max-age=3";
  EntryTiming t = entry_timing(r, shared(true));
  EXPECT_FALSE(t.heuristic);
  EXPECT_EQ(t.lifetime, 3);
  r.cache_control = "";
  r.expires = "0";
  r.has_expires = true;
  t = entry_timing(r, shared(true));
  EXPECT_FALSE(t.heuristic);
  EXPECT_EQ(t.lifetime, 0);
}

// RFC 9110 section 8.8.2.1: an origin "MUST NOT generate a Last-Modified date
// that is later than the server's time of message origination (Date)".
TEST(HeuristicFreshness, NeedsAValidLastModifiedNotAfterDate) {
  const std::string d = date(0);
  const std::string later = date(1);
  EXPECT_FALSE(entry_timing(modified(later, d), shared(true)).heuristic);
  EXPECT_FALSE(entry_timing(modified("last week", d), shared(true)).heuristic);
  EXPECT_EQ(entry_timing(modified("last week", d), shared(true)).lifetime, 0);
  ResponseTimes absent = response();
  EXPECT_FALSE(entry_timing(absent, shared(true)).heuristic);
  // Equal to Date: a heuristic lifetime of 0.
  const EntryTiming t = entry_timing(modified(d, d), shared(true));
  EXPECT_TRUE(t.heuristic);
  EXPECT_EQ(t.lifetime, 0);
}

TEST(HeuristicFreshness, OnlyUnderSharedCacheFreshnessAndHeuristic) {
  const std::string lm = date(-10000);
  const std::string d = date(0);
  EXPECT_TRUE(entry_timing(modified(lm, d), {}).unbounded);
  EXPECT_FALSE(entry_timing(modified(lm, d), shared(false)).heuristic);
  FreshnessPolicy odd = shared(true);
  odd.heuristic_fraction = kNaN;
  EXPECT_EQ(entry_timing(modified(lm, d), odd).lifetime, 0);
  odd.heuristic_fraction = -1;
  EXPECT_EQ(entry_timing(modified(lm, d), odd).lifetime, 0);
  odd.heuristic_fraction = 0.1;
  odd.heuristic_max = -5;
  EXPECT_EQ(entry_timing(modified(lm, d), odd).lifetime, 0);
}

// ---------------------------------------------------------------- age

// Section 4.2.3: "apparent_age = max(0, response_time - date_value);".
TEST(InitialAge, ApparentAgeFromDate) {
  const std::string d = date(-30);
  ResponseTimes r = response("max-age=60");
  r.date = d;
  r.has_date = true;
  EXPECT_EQ(entry_timing(r, {}).initial_age, 30);
  const std::string future = date(+30);  // the origin's clock runs ahead
  r.date = future;
  EXPECT_EQ(entry_timing(r, {}).initial_age, 0);
  r.date = "garbage";
  EXPECT_EQ(entry_timing(r, {}).initial_age, 0);
  r.has_date = false;
  EXPECT_EQ(entry_timing(r, {}).initial_age, 0);
}

// Section 4.2.3: "corrected_initial_age = max(apparent_age,
// corrected_age_value);" (response_delay is 0: the endpoint is in process).
TEST(InitialAge, TheLargerOfApparentAgeAndAge) {
  const std::string d = date(-30);
  ResponseTimes r = response("max-age=60");
  r.date = d;
  r.has_date = true;
  r.age = "45";
  r.has_age = true;
  EXPECT_EQ(entry_timing(r, {}).initial_age, 45);
  r.age = "10";
  EXPECT_EQ(entry_timing(r, {}).initial_age, 30);
  r.age = "bogus";
  EXPECT_EQ(entry_timing(r, {}).initial_age, 30);
  r.has_date = false;
  r.age = "99999999999";
  EXPECT_EQ(entry_timing(r, {}).initial_age, static_cast<double>(kTwo31));
}

TEST(InitialAge, NonFiniteResponseTimeCountsAsZero) {
  ResponseTimes r = response("max-age=60");
  r.response_time = kNaN;
  EntryTiming t = entry_timing(r, {});
  EXPECT_EQ(t.stored_at, 0);
  EXPECT_EQ(t.initial_age, 0);
  r.response_time = -kInf;
  r.date = "Thu, 01 Jan 1970 00:01:00 GMT";
  r.has_date = true;
  t = entry_timing(r, {});
  EXPECT_EQ(t.stored_at, 0);
  EXPECT_EQ(t.initial_age, 0);
}

// Section 5.1: "Age = delta-seconds".
TEST(ParseAge, DeltaSeconds) {
  EXPECT_EQ(parse_age("0"), 0);
  EXPECT_EQ(parse_age("120"), 120);
  EXPECT_EQ(parse_age(" \t120 "), 120);
  EXPECT_EQ(parse_age("000017"), 17);
}

// Section 5.1: "a cache encountering a message with a list-based Age field
// value SHOULD use the first member of the field value, discarding
// subsequent ones."
TEST(ParseAge, FirstMemberOfAList) {
  EXPECT_EQ(parse_age("5, 7"), 5);
  EXPECT_EQ(parse_age("5,7"), 5);
  EXPECT_EQ(parse_age("9, junk"), 9);
  EXPECT_EQ(parse_age(", , 3, 4"), 3);  // empty members are not members
}

// Section 5.1: "If the field value (after discarding additional members, as
// per above) is invalid ..., a cache SHOULD ignore the field."
TEST(ParseAge, InvalidFirstMemberIgnoresTheField) {
  for (const char* v : {"", " ", ",", "-1", "+5", "1.5", "5s", "0x10", "1 2", "\"5\"",
                        "junk, 7"}) {
    EXPECT_FALSE(parse_age(v)) << v;
  }
}

// Section 1.2.2: "the cache MUST consider the value to be 2147483648 (2^31)".
TEST(ParseAge, LargeValuesSaturateAt2Pow31) {
  EXPECT_EQ(parse_age("2147483647"), 2147483647);
  EXPECT_EQ(parse_age("2147483648"), kTwo31);
  EXPECT_EQ(parse_age("18446744073709551616"), kTwo31);
  EXPECT_EQ(parse_age("999999999999999999999999999999999"), kTwo31);
}

// Section 4.2.3: "resident_time = now - response_time; current_age =
// corrected_initial_age + resident_time;".
TEST(CurrentAge, InitialAgePlusResidentTime) {
  EntryTiming t = lived(60);
  t.initial_age = 5;
  EXPECT_EQ(current_age(t, kT), 5);
  EXPECT_EQ(current_age(t, kT + 10.5), 15.5);
  EXPECT_EQ(current_age(t, kT - 100), 5);  // a clock that went back adds nothing
  EXPECT_EQ(current_age(t, kNaN), 5);
}

// ---------------------------------------------------------------- flags

// Section 5.2.2.4: no-cache "indicates that the response MUST NOT be used to
// satisfy any other request without forwarding it for validation".
TEST(EntryFlags, NoCacheIncludingFieldQualified) {
  EXPECT_TRUE(timing("no-cache, max-age=60").no_cache);
  EXPECT_TRUE(timing("no-cache=\"set-cookie\"").no_cache);
  EXPECT_FALSE(timing("max-age=60").no_cache);
}

// Sections 5.2.2.2 (must-revalidate), 5.2.2.8 (proxy-revalidate) and
// 5.2.2.10: "The s-maxage directive incorporates the semantics of the
// proxy-revalidate response directive ... for a shared cache."
TEST(EntryFlags, MustRevalidate) {
  EXPECT_TRUE(timing("must-revalidate").must_revalidate);
  EXPECT_TRUE(timing("proxy-revalidate").must_revalidate);
  EXPECT_TRUE(timing("s-maxage=10").must_revalidate);
  EXPECT_FALSE(timing("max-age=10, public").must_revalidate);
  FreshnessPolicy p;
  p.route_ttl = 60;  // the route's ttl replaces the lifetime, not the directive
  EXPECT_TRUE(timing("s-maxage=10", p).must_revalidate);
}

// RFC 5861 sections 3 and 4; RFC 9111 section 4.2.4: "A cache MUST NOT
// generate a stale response if it is prohibited by an explicit in-protocol
// directive (e.g., ... a must-revalidate response directive ...)".
TEST(EntryFlags, StaleWindowsUnlessMustRevalidate) {
  EntryTiming t = timing("max-age=60, stale-while-revalidate=30, stale-if-error=600");
  EXPECT_EQ(t.stale_while_revalidate, 30);
  EXPECT_EQ(t.stale_if_error, 600);
  for (const char* cc : {"max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=9",
                         "proxy-revalidate, stale-while-revalidate=30, stale-if-error=9",
                         "s-maxage=60, stale-while-revalidate=30, stale-if-error=9"}) {
    t = timing(cc);
    EXPECT_EQ(t.stale_while_revalidate, 0) << cc;
    EXPECT_EQ(t.stale_if_error, 0) << cc;
  }
}

// ---------------------------------------------------------------- reuse

// Section 4.2: "response_is_fresh = (freshness_lifetime > current_age)".
TEST(DecideReuse, FreshWhileAgeIsBelowTheLifetime) {
  const EntryTiming t = lived(60);
  auto d = decide_reuse(t, kT + 59.5, true);
  EXPECT_EQ(d.reuse, Reuse::fresh);
  EXPECT_EQ(d.age, 59.5);
  EXPECT_EQ(d.ttl_left, 0.5);
  EXPECT_EQ(decide_reuse(t, kT + 60, true).reuse, Reuse::revalidate);  // age == lifetime: stale
}

// Section 4.3.1: a stale entry is validated with its stored validators;
// without one, it is of no use.
TEST(DecideReuse, StaleRevalidatesWithAValidatorElseMiss) {
  const EntryTiming t = lived(60);
  auto d = decide_reuse(t, kT + 90, true);
  EXPECT_EQ(d.reuse, Reuse::revalidate);
  EXPECT_EQ(d.ttl_left, -30);
  EXPECT_EQ(decide_reuse(t, kT + 90, false).reuse, Reuse::miss);
  EXPECT_EQ(decide_reuse(lived(0), kT, false).reuse, Reuse::miss);
}

TEST(DecideReuse, InitialAgeCounts) {
  EntryTiming t = lived(60);
  t.initial_age = 50;
  EXPECT_EQ(decide_reuse(t, kT + 5, true).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(t, kT + 10, true).reuse, Reuse::revalidate);
  EXPECT_EQ(decide_reuse(t, kT + 5, true).age, 55);
}

TEST(DecideReuse, UnboundedIsFreshUntilInvalidated) {
  EntryTiming t;
  t.stored_at = kT;
  t.unbounded = true;
  const auto d = decide_reuse(t, kT + 1e9, false);
  EXPECT_EQ(d.reuse, Reuse::fresh);
  EXPECT_EQ(d.ttl_left, kUnboundedTtlLeft);
  EXPECT_EQ(d.age, 1e9);
}

// Section 5.2.2.4: a no-cache response "MUST NOT be used to satisfy any other
// request without forwarding it for validation".
TEST(DecideReuse, NoCacheAlwaysValidates) {
  EntryTiming t = lived(60);
  t.no_cache = true;
  t.stale_while_revalidate = 100;
  EXPECT_EQ(decide_reuse(t, kT + 1, true).reuse, Reuse::revalidate);
  EXPECT_EQ(decide_reuse(t, kT + 1, false).reuse, Reuse::miss);
  EXPECT_EQ(decide_reuse(t, kT + 70, true).reuse, Reuse::revalidate);  // never stale-served
  t.unbounded = true;
  EXPECT_EQ(decide_reuse(t, kT + 1, true).reuse, Reuse::revalidate);
}

// RFC 5861 section 3: stale-while-revalidate "indicates that caches MAY serve
// the response in which it appears after it becomes stale, up to the
// indicated number of seconds".
TEST(DecideReuse, StaleWhileRevalidateWindow) {
  EntryTiming t = lived(60);
  t.stale_while_revalidate = 30;
  EXPECT_EQ(decide_reuse(t, kT + 59, false).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(t, kT + 60, false).reuse, Reuse::stale_while_revalidate);
  EXPECT_EQ(decide_reuse(t, kT + 89.9, true).reuse, Reuse::stale_while_revalidate);
  EXPECT_EQ(decide_reuse(t, kT + 90, true).reuse, Reuse::revalidate);
  EXPECT_EQ(decide_reuse(t, kT + 90, false).reuse, Reuse::miss);
}

// Section 5.2.2.2: "once the response has become stale, a cache MUST NOT
// reuse that response to satisfy another request until it has been
// successfully validated by the origin".
TEST(DecideReuse, MustRevalidateIsNeverServedStale) {
  EntryTiming t = lived(60);
  t.must_revalidate = true;
  t.stale_while_revalidate = 30;  // even if a caller left a window
  EXPECT_EQ(decide_reuse(t, kT + 10, true).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(t, kT + 61, true).reuse, Reuse::revalidate);
  RequestFreshness any_stale;
  any_stale.max_stale_any = true;
  EXPECT_EQ(decide_reuse(t, kT + 61, false, any_stale).reuse, Reuse::miss);
}

// Section 5.2.1.4: request no-cache "indicates that the client prefers a
// stored response not be used to satisfy the request without successful
// validation on the origin server".
TEST(DecideReuse, RequestNoCacheValidates) {
  RequestFreshness r;
  r.no_cache = true;
  EXPECT_EQ(decide_reuse(lived(60), kT + 1, true, r).reuse, Reuse::revalidate);
  EXPECT_EQ(decide_reuse(lived(60), kT + 1, false, r).reuse, Reuse::miss);
}

// Section 5.2.1.1: max-age "indicates that the client prefers a response
// whose age is less than or equal to the specified number of seconds".
TEST(DecideReuse, RequestMaxAge) {
  RequestFreshness r;
  r.max_age = 10;
  EXPECT_EQ(decide_reuse(lived(60), kT + 10, true, r).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(lived(60), kT + 11, true, r).reuse, Reuse::revalidate);
  EXPECT_EQ(decide_reuse(lived(60), kT + 11, false, r).reuse, Reuse::miss);
  EntryTiming unbounded = lived(0);
  unbounded.unbounded = true;
  EXPECT_EQ(decide_reuse(unbounded, kT + 11, true, r).reuse, Reuse::revalidate);
  r.max_age = 0;
  EXPECT_EQ(decide_reuse(lived(60), kT, true, r).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(lived(60), kT + 0.5, true, r).reuse, Reuse::revalidate);
}

// Section 5.2.1.3: min-fresh "indicates that the client prefers a response
// whose freshness lifetime is no less than its current age plus the specified
// time in seconds".
TEST(DecideReuse, RequestMinFresh) {
  RequestFreshness r;
  r.min_fresh = 20;
  EXPECT_EQ(decide_reuse(lived(60), kT + 40, true, r).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(lived(60), kT + 41, true, r).reuse, Reuse::revalidate);
  EntryTiming unbounded = lived(0);
  unbounded.unbounded = true;
  EXPECT_EQ(decide_reuse(unbounded, kT + 1e6, true, r).reuse, Reuse::fresh);
}

// Section 5.2.1.2: with max-stale=N "the client is willing to accept a
// response that has exceeded its freshness lifetime by no more than the
// specified number of seconds"; bare, "a stale response of any age".
TEST(DecideReuse, RequestMaxStale) {
  RequestFreshness r;
  r.max_stale = 10;
  EXPECT_EQ(decide_reuse(lived(60), kT + 70, false, r).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(lived(60), kT + 71, true, r).reuse, Reuse::revalidate);
  RequestFreshness any;
  any.max_stale_any = true;
  EXPECT_EQ(decide_reuse(lived(60), kT + 1e6, false, any).reuse, Reuse::fresh);
  EntryTiming no_cache = lived(60);
  no_cache.no_cache = true;
  EXPECT_EQ(decide_reuse(no_cache, kT + 61, true, any).reuse, Reuse::revalidate);
  // max-age and max-stale together: both limits hold.
  r.max_age = 65;
  EXPECT_EQ(decide_reuse(lived(60), kT + 65, false, r).reuse, Reuse::fresh);
  EXPECT_EQ(decide_reuse(lived(60), kT + 66, false, r).reuse, Reuse::miss);
}

// A request that states what it accepts (max-age, min-fresh, max-stale,
// no-cache) is not answered beyond it by a stale-while-revalidate window.
TEST(DecideReuse, RequestLimitsCloseTheStaleWhileRevalidateWindow) {
  EntryTiming t = lived(60);
  t.stale_while_revalidate = 100;
  RequestFreshness max_age;
  max_age.max_age = 1000;
  RequestFreshness min_fresh;
  min_fresh.min_fresh = 0;
  RequestFreshness max_stale;
  max_stale.max_stale = 5;
  for (const RequestFreshness& r : {max_age, min_fresh, max_stale}) {
    EXPECT_EQ(decide_reuse(t, kT + 70, true, r).reuse, Reuse::revalidate);
  }
  EXPECT_EQ(decide_reuse(t, kT + 70, true).reuse, Reuse::stale_while_revalidate);
}

TEST(ParseRequestFreshness, DirectivesAndPragma) {
  RequestFreshness r = parse_request_freshness("max-age=5, min-fresh=3, max-stale=9", true, "");
  EXPECT_FALSE(r.no_cache);
  EXPECT_EQ(r.max_age, 5);
  EXPECT_EQ(r.min_fresh, 3);
  EXPECT_EQ(r.max_stale, 9);
  EXPECT_FALSE(r.max_stale_any);
  r = parse_request_freshness("no-cache, max-stale", true, "");
  EXPECT_TRUE(r.no_cache);
  EXPECT_TRUE(r.max_stale_any);
  // An invalid max-age is 0 (the strictest), as for responses.
  EXPECT_EQ(parse_request_freshness("max-age=soon", true, "").max_age, 0);
  EXPECT_FALSE(parse_request_freshness("", true, "").max_age);
}

// Section 5.4: "When the Cache-Control header field is not present in a
// request, caches MUST consider the no-cache request pragma-directive as
// having the same effect as if "Cache-Control: no-cache" were present".
TEST(ParseRequestFreshness, PragmaOnlyWithoutCacheControl) {
  EXPECT_TRUE(parse_request_freshness("", false, "no-cache").no_cache);
  EXPECT_FALSE(parse_request_freshness("max-age=5", true, "no-cache").no_cache);
  EXPECT_FALSE(parse_request_freshness("max-age=5", false, "").max_age);
}

// ---------------------------------------------------------------- stale on error

// RFC 5861 section 4: "when an error is encountered, a cached stale response
// MAY be used to satisfy the request, regardless of other freshness
// information".
TEST(StaleOnError, WithinTheStaleIfErrorWindow) {
  EntryTiming t = lived(60);
  t.stale_if_error = 100;
  EXPECT_TRUE(serves_stale_on_error(t, kT + 10));
  EXPECT_TRUE(serves_stale_on_error(t, kT + 159));
  EXPECT_FALSE(serves_stale_on_error(t, kT + 160));
  EXPECT_FALSE(serves_stale_on_error(lived(60), kT + 61));
  t.must_revalidate = true;
  EXPECT_FALSE(serves_stale_on_error(t, kT + 61));
  t.must_revalidate = false;
  t.no_cache = true;
  EXPECT_FALSE(serves_stale_on_error(t, kT + 10));
  EntryTiming unbounded = lived(0);
  unbounded.unbounded = true;
  EXPECT_TRUE(serves_stale_on_error(unbounded, kT + 1e6));
}

// ---------------------------------------------------------------- storage

TEST(WorthStoring, ReusableOrRevalidatable) {
  EntryTiming t = lived(60);
  EXPECT_TRUE(worth_storing(t, false));
  t.initial_age = 60;  // stale on arrival
  EXPECT_FALSE(worth_storing(t, false));
  EXPECT_TRUE(worth_storing(t, true));
  t.stale_while_revalidate = 10;  // still servable while a refresh runs
  EXPECT_TRUE(worth_storing(t, false));
  t.stale_while_revalidate = 0;
  t.stale_if_error = 10;
  EXPECT_TRUE(worth_storing(t, false));
  EntryTiming no_cache = lived(60);
  no_cache.no_cache = true;  // every reuse validates: useless without a validator
  EXPECT_FALSE(worth_storing(no_cache, false));
  EXPECT_TRUE(worth_storing(no_cache, true));
  EntryTiming unbounded = lived(0);
  unbounded.unbounded = true;
  EXPECT_TRUE(worth_storing(unbounded, false));
  EXPECT_FALSE(worth_storing(lived(0), false));
}

TEST(StoreTtl, UntilStalePlusKeep) {
  EXPECT_EQ(store_ttl(lived(60), kT, 0), 60);
  EXPECT_EQ(store_ttl(lived(60), kT + 20, 30), 70);
  EntryTiming aged = lived(60);
  aged.initial_age = 15;  // stale 45 s after storage
  EXPECT_EQ(store_ttl(aged, kT, 10), 55);
}

TEST(StoreTtl, TheEntrysOwnStaleWindowsAreKept) {
  EntryTiming t = lived(60);
  t.stale_while_revalidate = 30;
  EXPECT_EQ(store_ttl(t, kT, 0), 90);
  t.stale_if_error = 600;
  EXPECT_EQ(store_ttl(t, kT, 100), 660);
  EXPECT_EQ(store_ttl(t, kT, 1000), 1060);
}

TEST(StoreTtl, UnboundedNeverExpires) {
  EntryTiming t = lived(0);
  t.unbounded = true;
  EXPECT_EQ(store_ttl(t, kT, 30), 0);
}

TEST(StoreTtl, AlreadyPastIsDroppedSoon) {
  EXPECT_EQ(store_ttl(lived(60), kT + 1000, 10), kMinStoreTtl);
  EXPECT_EQ(store_ttl(lived(0), kT, 0), kMinStoreTtl);
  EXPECT_EQ(store_ttl(lived(60), kT, -100), 60);  // a negative keep is 0
  EXPECT_EQ(store_ttl(lived(60), kT, kNaN), 60);
  EXPECT_EQ(store_ttl(lived(60), kNaN, 0), kMinStoreTtl);
  EXPECT_GT(store_ttl(lived(60), kT - 100, 0), 0);
}

}  // namespace

// RFC 5861 section 3 with the route's own window: the route's value wins over
// the response's stale-while-revalidate / stale-if-error, and neither lifts
// section 4.2.4's must-revalidate ("A cache MUST NOT generate a stale
// response if it is prohibited by an explicit in-protocol directive").
TEST(EntryTimingStaleWindows, TheRoutesWindowsWinButNotOverMustRevalidate) {
  FreshnessPolicy route;
  route.route_stale_while_revalidate = 30;
  route.route_stale_if_error = 600;
  const EntryTiming own = timing("max-age=10, stale-while-revalidate=5, stale-if-error=7", route);
  EXPECT_EQ(own.stale_while_revalidate, 30);
  EXPECT_EQ(own.stale_if_error, 600);
  const EntryTiming unset = timing("max-age=10, stale-while-revalidate=5, stale-if-error=7");
  EXPECT_EQ(unset.stale_while_revalidate, 5);
  EXPECT_EQ(unset.stale_if_error, 7);
  const EntryTiming forbidden = timing("max-age=10, must-revalidate", route);
  EXPECT_EQ(forbidden.stale_while_revalidate, 0);
  EXPECT_EQ(forbidden.stale_if_error, 0);
  FreshnessPolicy zero;
  zero.route_stale_while_revalidate = 0;  // the route turns the response's window off
  EXPECT_EQ(timing("max-age=10, stale-while-revalidate=5", zero).stale_while_revalidate, 0);
  EXPECT_EQ(decide_reuse(own, kT + 20, false).reuse, Reuse::stale_while_revalidate);
  EXPECT_EQ(decide_reuse(own, kT + 40, false).reuse, Reuse::miss);
  EXPECT_TRUE(serves_stale_on_error(own, kT + 500));
  EXPECT_FALSE(serves_stale_on_error(own, kT + 700));
}
