#include "fcr/freshness.hpp"

#include <algorithm>
#include <cmath>

#include "fcr/cache_control.hpp"
#include "fcr/conditional.hpp"
#include "field_syntax.hpp"

namespace fcr::http {
namespace {

// Durations from outside (policy values, differences of clocks): NaN and
// negatives count as 0.
double non_negative(double seconds) { return seconds > 0 ? seconds : 0.0; }

double delta(const std::optional<std::int64_t>& v) {
  return v ? static_cast<double>(*v) : 0.0;
}

// A whole epoch second for parse_http_date's RFC 850 century rule; `t` is
// finite, and anything beyond the four-digit years is clamped there anyway.
std::int64_t epoch_of(double t) {
  constexpr double kLimit = 1e15;
  return static_cast<std::int64_t>(std::clamp(t, -kLimit, kLimit));
}

// The clock readings a response carries, all in epoch seconds.
struct Clock {
  double received = 0;    // response_time
  double date_value = 0;  // the Date field, or `received` without a valid one
};

// RFC 9111 section 4.2.1: Expires minus "the value of the Date response header
// field (using the time the message was received if it is not present ...)";
// an invalid Date is treated as absent.
Clock clock_of(const ResponseTimes& r) {
  Clock c;
  c.received = std::isfinite(r.response_time) ? r.response_time : 0.0;
  const auto date = r.has_date ? parse_http_date(r.date, epoch_of(c.received)) : std::nullopt;
  c.date_value = date ? static_cast<double>(*date) : c.received;
  return c;
}

// RFC 9111 section 4.2.3: "apparent_age = max(0, response_time - date_value);
// ... corrected_initial_age = max(apparent_age, corrected_age_value);". The
// response_delay is 0: the endpoint answers in process, so the request and
// response times coincide and corrected_age_value is age_value.
double initial_age(const ResponseTimes& r, const Clock& c) {
  const double apparent_age = non_negative(c.received - c.date_value);
  const double age_value = r.has_age ? delta(parse_age(r.age)) : 0.0;
  return std::max(apparent_age, age_value);
}

// RFC 9111 section 4.2.1, in order; nullopt when the response has no explicit
// freshness.
std::optional<double> explicit_lifetime(const CacheControl& cc, const ResponseTimes& r,
                                        const Clock& c) {
  // "If the cache is shared and the s-maxage response directive ... is
  // present, use its value".
  if (cc.s_maxage) return delta(cc.s_maxage);
  // "If the max-age response directive ... is present, use its value".
  if (cc.max_age) return delta(cc.max_age);
  if (!r.has_expires) return std::nullopt;
  // Section 5.3: "A cache recipient MUST interpret invalid date formats,
  // especially the value "0", as representing a time in the past". Several
  // Expires lines combined with ", " are not one date, hence stale too
  // (section 4.2.1: "the response should be considered stale").
  const auto expires = parse_http_date(r.expires, epoch_of(c.received));
  if (!expires) return 0.0;
  // "use its value minus the value of the Date response header field".
  return non_negative(static_cast<double>(*expires) - c.date_value);
}

// RFC 9110 section 15.1: "200, 203, 204, 206, 300, 301, 308, 404, 405, 410,
// 414, and 501 in this specification" are heuristically cacheable.
bool heuristically_cacheable(int status) {
  switch (status) {
    case 200: case 203: case 204: case 206: case 300: case 301: case 308:
    case 404: case 405: case 410: case 414: case 501:
      return true;
    default:
      return false;
  }
}

// RFC 9111 section 4.2.2: "caches are encouraged to use a heuristic
// expiration value that is no more than some fraction of the interval since
// [Last-Modified]". Heuristics apply to "status codes [that] are defined as
// heuristically cacheable" and to responses "marked as explicitly cacheable
// (e.g., with a public response directive)". A Last-Modified later than Date
// is invalid (RFC 9110 section 8.8.2.1: an origin "MUST NOT generate a
// Last-Modified date that is later than the server's time of message
// origination"), so it gives no heuristic.
std::optional<double> heuristic_lifetime(const ResponseTimes& r, const CacheControl& cc,
                                         const FreshnessPolicy& policy, const Clock& c) {
  if (!policy.heuristic || !r.has_last_modified) return std::nullopt;
  if (!heuristically_cacheable(r.status) && !cc.public_) return std::nullopt;
  const auto last_modified = parse_http_date(r.last_modified, epoch_of(c.received));
  if (!last_modified || static_cast<double>(*last_modified) > c.date_value) return std::nullopt;
  const double interval = c.date_value - static_cast<double>(*last_modified);
  const double lifetime = non_negative(non_negative(policy.heuristic_fraction) * interval);
  return std::min(lifetime, non_negative(policy.heuristic_max));
}

// Directives that govern reuse beyond the lifetime.
void set_flags(EntryTiming& t, const CacheControl& cc, const FreshnessPolicy& policy) {
  // Section 5.2.2.4: a no-cache response "MUST NOT be used to satisfy any
  // other request without forwarding it for validation". Field-qualified
  // forms count as unqualified (the conservative reading, as parsed).
  t.no_cache = cc.no_cache;
  // Sections 5.2.2.2 and 5.2.2.8 (must-/proxy-revalidate, the latter for
  // shared caches) and 5.2.2.10: "The s-maxage directive incorporates the
  // semantics of the proxy-revalidate response directive ... for a shared
  // cache".
  t.must_revalidate = cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage.has_value();
  // Section 4.2.4: "A cache MUST NOT generate a stale response if it is
  // prohibited by an explicit in-protocol directive (e.g., ... a
  // must-revalidate response directive ...)".
  if (!t.must_revalidate) {
    // RFC 5861 section 3: "stale-while-revalidate ... indicates that caches
    // MAY serve the response ... after it becomes stale"; the route's own
    // window, when it sets one, is the server's word for the same thing.
    t.stale_while_revalidate = policy.route_stale_while_revalidate >= 0
                                   ? non_negative(policy.route_stale_while_revalidate)
                                   : delta(cc.stale_while_revalidate);
    t.stale_if_error = policy.route_stale_if_error >= 0 ? non_negative(policy.route_stale_if_error)
                                                        : delta(cc.stale_if_error);
  }
}

bool is_route_ttl(double ttl) { return ttl > 0 && std::isfinite(ttl); }

// Whether the request states limits on what it accepts (section 5.2.1); a
// stale-while-revalidate answer would not respect them.
bool request_limits_staleness(const RequestFreshness& request) {
  return request.no_cache || request.max_age || request.min_fresh || request.max_stale ||
         request.max_stale_any;
}

// Whether the entry, at `age`, may answer this request as it is.
bool acceptable(const EntryTiming& t, double age, const RequestFreshness& request) {
  // Section 5.2.1.1: max-age "indicates that the client prefers a response
  // whose age is less than or equal to the specified number of seconds".
  if (request.max_age && age > delta(request.max_age)) return false;
  // Section 5.2.1.3: min-fresh "indicates that the client prefers a response
  // whose freshness lifetime is no less than its current age plus the
  // specified time in seconds".
  if (request.min_fresh && !t.unbounded && t.lifetime - age < delta(request.min_fresh)) {
    return false;
  }
  // Section 4.2: "response_is_fresh = (freshness_lifetime > current_age)".
  if (t.unbounded || age < t.lifetime) return true;
  // Section 5.2.2.2: "once the response has become stale, a cache MUST NOT
  // reuse that response to satisfy another request until it has been
  // successfully validated by the origin", whatever the client accepts.
  if (t.must_revalidate) return false;
  // Section 5.2.1.2: with max-stale=N "the client is willing to accept a
  // response that has exceeded its freshness lifetime by no more than the
  // specified number of seconds"; bare, "a stale response of any age".
  return request.max_stale_any ||
         (request.max_stale && age - t.lifetime <= delta(request.max_stale));
}

// RFC 5861 section 3: stale-while-revalidate "indicates that caches MAY serve
// the response in which it appears after it becomes stale, up to the
// indicated number of seconds".
bool in_stale_while_revalidate(const EntryTiming& t, double age, const RequestFreshness& request) {
  if (t.unbounded || t.no_cache || t.must_revalidate || request_limits_staleness(request)) {
    return false;
  }
  return t.stale_while_revalidate > 0 && age < t.lifetime + t.stale_while_revalidate;
}

}  // namespace

EntryTiming entry_timing(const ResponseTimes& response, const FreshnessPolicy& policy) {
  EntryTiming t;
  const Clock clock = clock_of(response);
  t.stored_at = clock.received;
  t.initial_age = initial_age(response, clock);
  const bool honor = !policy.ignore_response_cache_control;
  const CacheControl cc = honor ? parse_cache_control(response.cache_control) : CacheControl{};
  if (is_route_ttl(policy.route_ttl)) {
    t.lifetime = policy.route_ttl;
  } else if (const auto stated = honor ? explicit_lifetime(cc, response, clock) : std::nullopt) {
    t.lifetime = *stated;
  } else if (!policy.shared_cache_freshness) {
    t.unbounded = true;  // 0.6.0's contract: fresh until invalidated
  } else if (const auto heuristic = heuristic_lifetime(response, cc, policy, clock)) {
    // Section 4.2.2: "A cache MUST NOT use heuristics to determine freshness
    // when an explicit expiration time is present": only reached without one.
    t.lifetime = *heuristic;
    t.heuristic = true;
  } else {
    t.lifetime = 0;  // stored, but validated before every reuse
  }
  set_flags(t, cc, policy);
  return t;
}

std::optional<std::int64_t> parse_age(std::string_view age) {
  // Section 5.1: "a cache encountering a message with a list-based Age field
  // value SHOULD use the first member of the field value, discarding
  // subsequent ones", and if that "is invalid ..., a cache SHOULD ignore the
  // field". Empty members do not count (RFC 9110 section 5.6.1).
  std::optional<std::int64_t> out;
  detail::for_each_plain_member(age, [&](std::string_view member) {
    out = detail::parse_delta_seconds(member);
    return true;  // the first member decides
  });
  return out;
}

double current_age(const EntryTiming& timing, double now) noexcept {
  // Section 4.2.3: "resident_time = now - response_time; current_age =
  // corrected_initial_age + resident_time;". A clock that went back adds
  // nothing.
  return non_negative(timing.initial_age) + non_negative(now - timing.stored_at);
}

RequestFreshness parse_request_freshness(std::string_view cache_control, bool has_cache_control,
                                         std::string_view pragma) {
  RequestFreshness out;
  if (!has_cache_control) {
    // Section 5.4: "When the Cache-Control header field is not present in a
    // request, caches MUST consider the no-cache request pragma-directive as
    // having the same effect as if "Cache-Control: no-cache" were present".
    out.no_cache = parse_cache_control(pragma).no_cache;
    return out;
  }
  const CacheControl cc = parse_cache_control(cache_control);
  out.no_cache = cc.no_cache;
  out.max_age = cc.max_age;
  out.min_fresh = cc.min_fresh;
  out.max_stale = cc.max_stale;
  out.max_stale_any = cc.max_stale_any;
  return out;
}

ReuseDecision decide_reuse(const EntryTiming& timing, double now, bool has_validator,
                           const RequestFreshness& request) {
  ReuseDecision d;
  d.age = current_age(timing, now);
  d.ttl_left = timing.unbounded ? kUnboundedTtlLeft : timing.lifetime - d.age;
  // Section 4.3.1: the stored validators let the endpoint answer 304; without
  // one, an entry that cannot be reused as it is, is of no use.
  const Reuse validate = has_validator ? Reuse::revalidate : Reuse::miss;
  // Section 5.2.1.4: request no-cache "indicates that the client prefers a
  // stored response not be used to satisfy the request without successful
  // validation on the origin server"; section 5.2.2.4 for response no-cache.
  if (timing.no_cache || request.no_cache) {
    d.reuse = validate;
  } else if (acceptable(timing, d.age, request)) {
    d.reuse = Reuse::fresh;
  } else if (in_stale_while_revalidate(timing, d.age, request)) {
    d.reuse = Reuse::stale_while_revalidate;
  } else {
    d.reuse = validate;
  }
  return d;
}

bool serves_stale_on_error(const EntryTiming& timing, double now) noexcept {
  // RFC 5861 section 4: "when an error is encountered, a cached stale response
  // MAY be used to satisfy the request"; RFC 9111 section 4.2.4 forbids it
  // under must-revalidate, and no-cache asks for a successful validation.
  if (timing.no_cache || timing.must_revalidate) return false;
  if (timing.unbounded) return true;
  return current_age(timing, now) < timing.lifetime + timing.stale_if_error;
}

bool worth_storing(const EntryTiming& timing, bool has_validator) noexcept {
  if (has_validator) return true;
  if (timing.no_cache) return false;
  const double window = std::max(timing.stale_while_revalidate, timing.stale_if_error);
  return timing.unbounded || timing.initial_age < timing.lifetime + window;
}

double store_ttl(const EntryTiming& timing, double now, double keep) noexcept {
  if (timing.unbounded) return 0;
  // The entry becomes stale when its age reaches the lifetime: at stored_at +
  // (lifetime - initial_age) on our clock.
  const double stale_at = timing.stored_at + (timing.lifetime - timing.initial_age);
  const double window =
      std::max({non_negative(keep), timing.stale_while_revalidate, timing.stale_if_error});
  const double ttl = stale_at + window - now;
  return ttl > kMinStoreTtl ? ttl : kMinStoreTtl;  // also NaN
}

}  // namespace fcr::http
