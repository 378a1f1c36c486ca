// Freshness (RFC 9111 section 4.2) and reuse (sections 4, 4.2.4, 4.3): when
// a stored response may answer a request as it is, when it must first be
// validated with the endpoint, and how old it is.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace fcr::http {

// How the route treats responses that carry no explicit freshness.
struct FreshnessPolicy {
  double route_ttl = 0;  // > 0: the route's ttl, which wins over the response
  // Ignore the response's Cache-Control (and Expires) altogether: the route's
  // ttl, or nothing, decides the lifetime.
  bool ignore_response_cache_control = false;
  // Without explicit freshness (no route ttl, s-maxage, max-age or Expires):
  // false keeps 0.6.0's contract (fresh until invalidated); true behaves as a
  // shared cache: reused only after validation, or with a heuristic lifetime
  // when `heuristic` allows it.
  bool shared_cache_freshness = false;
  // RFC 9111 section 4.2.2: a heuristic lifetime of `heuristic_fraction` of
  // the time since Last-Modified, capped at `heuristic_max`, for statuses
  // that are heuristically cacheable (RFC 9110 section 15.1). Only with
  // shared_cache_freshness.
  bool heuristic = false;
  double heuristic_fraction = 0.1;
  double heuristic_max = 86400;
  // The route's stale windows (RFC 5861), in seconds; negative: the
  // response's own stale-while-revalidate / stale-if-error decide. Either
  // way they are 0 when the response forbids serving stale (must-revalidate,
  // proxy-revalidate, s-maxage).
  double route_stale_while_revalidate = -1;
  double route_stale_if_error = -1;
};

// What a response's headers say about its freshness, read once when it is
// stored (or refreshed by a 304). The header values are the combined field
// lines; `has_*` tells an absent field from an empty one.
struct ResponseTimes {
  std::string_view cache_control;
  std::string_view expires;
  bool has_expires = false;
  std::string_view date;
  bool has_date = false;
  std::string_view age;
  bool has_age = false;
  std::string_view last_modified;
  bool has_last_modified = false;
  int status = 200;
  double response_time = 0;  // when the response was received (wall clock, seconds)
};

// The freshness of a stored response, fixed at storage.
struct EntryTiming {
  double stored_at = 0;    // response_time
  // corrected_initial_age (section 4.2.3): max(apparent age from Date, the
  // received Age), in seconds, at stored_at.
  double initial_age = 0;
  double lifetime = 0;     // freshness lifetime (section 4.2.1), when bounded
  bool unbounded = false;  // fresh until invalidated (no explicit freshness, 0.6.0 contract)
  bool heuristic = false;  // the lifetime is heuristic (section 4.2.2)
  bool no_cache = false;   // validate before every reuse (section 5.2.2.4)
  // Never served stale: must-revalidate, proxy-revalidate, or s-maxage
  // (sections 5.2.2.2, 5.2.2.8, 5.2.2.10).
  bool must_revalidate = false;
  double stale_while_revalidate = 0;  // RFC 5861 windows, 0 when must_revalidate
  double stale_if_error = 0;
};

// The timing of a response with these headers under this policy. Never
// fails: a malformed field counts as absent, except Expires, where anything
// but one valid HTTP-date means already stale (section 5.3). The lifetime is
// the route ttl, else s-maxage, max-age, Expires - Date (section 4.2.1);
// without any, unbounded, or under shared_cache_freshness 0 or heuristic.
// ignore_response_cache_control drops Cache-Control and Expires (the flags
// stay false) but still applies the policy's rule for responses without
// explicit freshness. Date, Age and Last-Modified are read under every
// policy. A non-finite response_time counts as 0.
EntryTiming entry_timing(const ResponseTimes& response, const FreshnessPolicy& policy);

// The received Age (section 5.1): the first non-empty member of the field
// value when it is a valid delta-seconds, else nullopt ("a cache SHOULD
// ignore the field"; a later valid member is not used). Values too large for
// 31 bits saturate at 2^31 (section 1.2.2).
std::optional<std::int64_t> parse_age(std::string_view age);

// current_age (section 4.2.3) at `now`: initial_age plus the time resident.
double current_age(const EntryTiming& timing, double now) noexcept;

// What a request's own Cache-Control asks of a stored response, when the
// route honours request directives (section 5.2.1).
struct RequestFreshness {
  bool no_cache = false;                     // validate first
  std::optional<std::int64_t> max_age;       // no older than this
  std::optional<std::int64_t> min_fresh;     // fresh for at least this much longer
  std::optional<std::int64_t> max_stale;     // may be stale by this much
  bool max_stale_any = false;                // a bare max-stale: stale by any amount
};

// The request's Cache-Control (when `has_cache_control`), or its Pragma
// otherwise ("Pragma: no-cache" is "Cache-Control: no-cache" only without a
// Cache-Control field, section 5.4). An invalid max-age counts as 0, invalid
// min-fresh/max-stale values are ignored (parse_cache_control's rules).
RequestFreshness parse_request_freshness(std::string_view cache_control, bool has_cache_control,
                                         std::string_view pragma);

enum class Reuse : std::uint8_t {
  fresh,                   // answer from the entry as it is
  stale_while_revalidate,  // answer now, refresh in the background (RFC 5861)
  revalidate,              // ask the endpoint with the entry's validators first
  miss,                    // the entry cannot serve: run the endpoint as on a miss
};

// ttl_left of an unbounded entry: 2^31 seconds, the largest delta-seconds
// (RFC 9111 section 1.2.2), so that it fits Cache-Status's ttl and any int.
inline constexpr double kUnboundedTtlLeft = 2147483648.0;

struct ReuseDecision {
  Reuse reuse = Reuse::miss;
  double age = 0;       // current_age, for the Age field
  // lifetime - age (negative when stale), for Cache-Status; kUnboundedTtlLeft
  // when unbounded.
  double ttl_left = 0;
};

// Whether the entry may answer a request now (sections 4.2.4, 4.3, 5.2.2):
// fresh when age < lifetime (or unbounded) and no no-cache; stale entries are
// revalidated when they have a validator (`has_validator`: an ETag or a
// Last-Modified), else a miss; must_revalidate entries are never served
// stale; a stale entry with age < lifetime + stale_while_revalidate is served
// while a refresh runs, unless the request has any of no-cache, max-age,
// min-fresh or max-stale (each states what the client accepts, and a stale
// response beyond it is not). The request's no-cache, or a response
// no-cache, always revalidates (or misses). max-age=N: acceptable only when
// age <= N; min-fresh=N: only when lifetime - age >= N (always for
// unbounded); max-stale[=N]: a stale entry is served as fresh when stale by
// at most N seconds (or any), never when must_revalidate.
ReuseDecision decide_reuse(const EntryTiming& timing, double now, bool has_validator,
                           const RequestFreshness& request = {});

// Whether a stale entry may answer when the endpoint fails (RFC 5861 section
// 4, stale-if-error): not under no_cache or must_revalidate, and only while
// age < lifetime + stale_if_error (always when unbounded).
bool serves_stale_on_error(const EntryTiming& timing, double now) noexcept;

// Whether a response is worth storing: it can answer a later request as it
// is (unbounded, or fresh or within a stale window on arrival, and not
// no-cache), or it can be revalidated (`has_validator`). A response that is
// stale on arrival, has no validator and no stale window would only ever be
// a miss.
bool worth_storing(const EntryTiming& timing, bool has_validator) noexcept;

// How long the store keeps the entry from `now`: until it is stale plus
// max(keep, stale_while_revalidate, stale_if_error) seconds (for revalidation
// and stale serving: the entry's own stale windows are never cut short), or 0
// (no expiry) when unbounded. An entry already past that moment gets
// kMinStoreTtl, so that the store drops it soon rather than keeping it
// forever. A negative or NaN `keep` counts as 0.
inline constexpr double kMinStoreTtl = 0.001;
double store_ttl(const EntryTiming& timing, double now, double keep) noexcept;

}  // namespace fcr::http
