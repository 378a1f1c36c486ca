// Cache-Control parsing (RFC 9111 section 5.2) and the storage decision a
// shared cache makes for a response (RFC 9111 section 3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fcr::http {

// Directives we act on. Parsing never fails: unknown directives are ignored,
// malformed members are skipped, names are case-insensitive, the first
// occurrence of a directive wins. A delta-seconds value that is not a
// non-negative integer makes max-age/s-maxage 0 (RFC 9111 section 4.2.1: an
// invalid max-age means stale); other invalid numeric values are ignored.
// Values above 2^31 are clamped to 2^31 (RFC 9111 section 1.2.2).
// The request directives min-fresh and max-stale are parsed here too (one
// field syntax for both directions, RFC 9111 section 5.2); an invalid value
// is ignored, a bare max-stale sets max_stale_any.
// Field-qualified forms (private="set-cookie", no-cache="x") count as the
// unqualified directive: the conservative reading for a shared cache. An
// unterminated quoted-string ends at the next comma, so a stray quote cannot
// hide a later no-store.
struct CacheControl {
  bool no_store = false;
  bool no_cache = false;
  bool private_ = false;
  bool public_ = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  bool immutable = false;
  std::optional<std::int64_t> max_age;
  std::optional<std::int64_t> s_maxage;
  std::optional<std::int64_t> stale_while_revalidate;
  std::optional<std::int64_t> stale_if_error;
  // Request directives (RFC 9111 section 5.2.1).
  std::optional<std::int64_t> min_fresh;
  std::optional<std::int64_t> max_stale;  // max-stale=N
  bool max_stale_any = false;             // max-stale without a value
};

CacheControl parse_cache_control(std::string_view value);

// Request directives a server-side cache may honour (when the route opts in):
// Cache-Control no-cache or max-age=0, or Pragma: no-cache without a
// Cache-Control field, mean "do not answer from the cache"; no-store means
// "do not store the response to this request".
struct RequestDirectives {
  bool bypass_lookup = false;
  bool skip_store = false;
};

RequestDirectives parse_request_directives(std::string_view cache_control, bool has_cache_control,
                                           std::string_view pragma);

// What the route allows beyond the defaults.
struct StoragePolicy {
  double route_ttl = 0;                    // > 0: the route's explicit ttl, which wins
  // Ignore the response's Cache-Control altogether: no-store/private responses
  // are stored, and max-age, no-cache and stale-* have no effect either.
  bool ignore_response_cache_control = false;
  bool store_set_cookie = false;           // store responses carrying Set-Cookie
  // RFC 9111 section 3.5, when both are true: the response to a request with
  // Authorization is stored only if its Cache-Control has public, s-maxage or
  // must-revalidate. ignore_response_cache_control does not lift this rule
  // (those three directives still do): it is the shared cache's safety rule,
  // and the route opts into it (shared mode).
  bool request_has_authorization = false;
  bool shared_authorization_rules = false;
};

enum class StoreVerdict : std::uint8_t {
  store,
  no_store,         // Cache-Control: no-store
  private_,         // Cache-Control: private
  authorization,    // request with Authorization, no public/s-maxage/must-revalidate
  set_cookie,       // Set-Cookie present
  zero_lifetime,    // max-age/s-maxage of 0 and no route ttl: not a refusal by itself,
                    // worth_storing() decides (a validator or a stale window keeps it)
};

struct StorageDecision {
  StoreVerdict verdict = StoreVerdict::store;
  double ttl = 0;          // seconds; 0: no expiry beyond the store's own bounds
  bool revalidate = false; // no-cache: stored, but every request runs the endpoint
  double stale_while_revalidate = 0;
  double stale_if_error = 0;
};

// The decision for a response with this Cache-Control value. The route's ttl
// wins over max-age/s-maxage (s-maxage over max-age) when set. The stale-*
// windows are 0 under must-revalidate or proxy-revalidate (a stale entry must
// not be served). Verdict order, first match wins: no_store, private_,
// authorization, set_cookie, zero_lifetime.
StorageDecision decide_storage(const CacheControl& cache_control, bool has_set_cookie,
                               const StoragePolicy& policy);

std::string_view verdict_name(StoreVerdict verdict) noexcept;

}  // namespace fcr::http
