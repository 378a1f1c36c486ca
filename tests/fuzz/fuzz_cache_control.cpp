// Cache-Control parsing, request directives and the storage decision.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fcr/cache_control.hpp"
#include "fuzz_check.hpp"

namespace {

using fcr::http::CacheControl;
using fcr::http::StoreVerdict;

constexpr std::int64_t kMaxDelta = std::int64_t{1} << 31;

bool delta_ok(const std::optional<std::int64_t>& v) { return !v || (*v >= 0 && *v <= kMaxDelta); }

bool same(const CacheControl& a, const CacheControl& b) {
  return a.no_store == b.no_store && a.no_cache == b.no_cache && a.private_ == b.private_ &&
         a.public_ == b.public_ && a.must_revalidate == b.must_revalidate &&
         a.proxy_revalidate == b.proxy_revalidate && a.immutable == b.immutable &&
         a.max_age == b.max_age && a.s_maxage == b.s_maxage &&
         a.stale_while_revalidate == b.stale_while_revalidate &&
         a.stale_if_error == b.stale_if_error && a.min_fresh == b.min_fresh &&
         a.max_stale == b.max_stale && a.max_stale_any == b.max_stale_any;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  const CacheControl cc = fcr::http::parse_cache_control(value);
  FUZZ_CHECK(same(cc, fcr::http::parse_cache_control(value)));
  FUZZ_CHECK(delta_ok(cc.max_age) && delta_ok(cc.s_maxage));
  FUZZ_CHECK(delta_ok(cc.stale_while_revalidate) && delta_ok(cc.stale_if_error));
  FUZZ_CHECK(delta_ok(cc.min_fresh) && delta_ok(cc.max_stale));

  // Whatever precedes it, a later no-store or private is never hidden (not
  // even by an unterminated quoted-string).
  FUZZ_CHECK(fcr::http::parse_cache_control(std::string(value) + ", no-store").no_store);
  FUZZ_CHECK(fcr::http::parse_cache_control(std::string(value) + ",private").private_);
  // Appending an unrelated member never withdraws a restriction.
  const CacheControl widened = fcr::http::parse_cache_control(std::string(value) + ", x-ext=1");
  FUZZ_CHECK(!cc.no_store || widened.no_store);
  FUZZ_CHECK(!cc.private_ || widened.private_);

  for (int variant = 0; variant < 16; ++variant) {
    fcr::http::StoragePolicy policy;
    policy.route_ttl = (variant & 1) ? 30.0 : 0.0;
    policy.ignore_response_cache_control = (variant & 2) != 0;
    policy.store_set_cookie = (variant & 4) != 0;
    policy.request_has_authorization = policy.shared_authorization_rules = (variant & 8) != 0;
    // RFC 9111 section 3.5: only public, s-maxage or must-revalidate lift it.
    const bool authorization_blocks =
        policy.request_has_authorization && !(cc.public_ || cc.s_maxage || cc.must_revalidate);
    for (const bool set_cookie : {false, true}) {
      const auto d = fcr::http::decide_storage(cc, set_cookie, policy);
      FUZZ_CHECK(d.ttl >= 0 && d.ttl <= static_cast<double>(kMaxDelta));
      FUZZ_CHECK(d.stale_while_revalidate >= 0 && d.stale_if_error >= 0);
      if (policy.route_ttl > 0) FUZZ_CHECK(d.ttl == policy.route_ttl);
      if (!policy.ignore_response_cache_control && cc.no_store) {
        FUZZ_CHECK(d.verdict == StoreVerdict::no_store);
      }
      if (!policy.ignore_response_cache_control && cc.private_) {
        FUZZ_CHECK(d.verdict != StoreVerdict::store);
      }
      if (set_cookie && !policy.store_set_cookie) FUZZ_CHECK(d.verdict != StoreVerdict::store);
      if (authorization_blocks) FUZZ_CHECK(d.verdict != StoreVerdict::store);
      if (d.verdict == StoreVerdict::authorization) FUZZ_CHECK(authorization_blocks);
      if (policy.ignore_response_cache_control) {
        FUZZ_CHECK(d.verdict == StoreVerdict::store || d.verdict == StoreVerdict::set_cookie ||
                   d.verdict == StoreVerdict::authorization);
        FUZZ_CHECK(!d.revalidate);
      }
      if (d.verdict == StoreVerdict::zero_lifetime) FUZZ_CHECK(d.ttl == 0);
      FUZZ_CHECK(!fcr::http::verdict_name(d.verdict).empty());
    }
  }

  // Request directives: the input split into Cache-Control and Pragma.
  const std::size_t cut = value.find('\n');
  const std::string_view head = value.substr(0, cut);
  const std::string_view tail =
      cut == std::string_view::npos ? std::string_view{} : value.substr(cut + 1);
  const auto with_cc = fcr::http::parse_request_directives(head, true, tail);
  const CacheControl head_cc = fcr::http::parse_cache_control(head);
  FUZZ_CHECK(with_cc.skip_store == head_cc.no_store);
  FUZZ_CHECK(with_cc.bypass_lookup == (head_cc.no_cache || head_cc.max_age == 0));
  const auto pragma_only = fcr::http::parse_request_directives(head, false, tail);
  FUZZ_CHECK(!pragma_only.skip_store);
  FUZZ_CHECK(pragma_only.bypass_lookup == fcr::http::parse_cache_control(tail).no_cache);
  return 0;
}
