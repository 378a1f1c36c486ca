#include "fcr/cache_control.hpp"

#include <cmath>

#include "field_syntax.hpp"

namespace fcr::http {
namespace {

using detail::iequals;
using detail::is_tchar;

// A directive's argument: the token, or the unescaped content of a
// quoted-string. `valid` is false when the text after '=' is neither.
struct Argument {
  bool present = false;
  bool valid = false;
  std::string value;
};

Argument parse_argument(std::string_view raw) {
  Argument arg;
  arg.present = true;
  if (raw.empty()) return arg;
  if (raw.front() != '"') {
    for (char c : raw) {
      if (!is_tchar(c)) return arg;
    }
    arg.value.assign(raw);
    arg.valid = true;
    return arg;
  }
  for (std::size_t i = 1; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\') {
      if (++i == raw.size()) return arg;  // a lone trailing backslash
      arg.value.push_back(raw[i]);
    } else if (c == '"') {
      arg.valid = i + 1 == raw.size();  // nothing may follow the closing quote
      return arg;
    } else {
      arg.value.push_back(c);
    }
  }
  return arg;  // unterminated
}

// delta-seconds (RFC 9111 section 1.2.2): 1*DIGIT, clamped to 2^31.
std::optional<std::int64_t> delta_seconds(const Argument& arg) {
  if (!arg.valid) return std::nullopt;
  return detail::parse_delta_seconds(arg.value);
}

// max-age and s-maxage: an invalid or missing value means "stale" (0).
void set_lifetime(std::optional<std::int64_t>& slot, const Argument& arg) {
  if (slot) return;  // the first occurrence wins
  slot = delta_seconds(arg).value_or(0);
}

// stale-while-revalidate and stale-if-error: an invalid value is ignored.
void set_extension(std::optional<std::int64_t>& slot, const Argument& arg) {
  if (slot) return;
  slot = delta_seconds(arg);
}

double seconds(const std::optional<std::int64_t>& v) {
  return v ? static_cast<double>(*v) : 0.0;
}

}  // namespace

CacheControl parse_cache_control(std::string_view value) {
  CacheControl cc;
  detail::for_each_member<detail::Quoting::quoted_string>(value, [&](std::string_view member) {
    std::size_t n = 0;
    while (n < member.size() && is_tchar(member[n])) ++n;
    const std::string_view name = member.substr(0, n);
    if (name.empty()) return;
    Argument arg;
    if (n < member.size()) {
      if (member[n] != '=') return;  // e.g. "no store": not a directive
      arg = parse_argument(member.substr(n + 1));
    }
    // Flags ignore their argument: field-qualified forms count as the
    // unqualified directive.
    if (iequals(name, "no-store")) {
      cc.no_store = true;
    } else if (iequals(name, "no-cache")) {
      cc.no_cache = true;
    } else if (iequals(name, "private")) {
      cc.private_ = true;
    } else if (iequals(name, "public")) {
      cc.public_ = true;
    } else if (iequals(name, "must-revalidate")) {
      cc.must_revalidate = true;
    } else if (iequals(name, "proxy-revalidate")) {
      cc.proxy_revalidate = true;
    } else if (iequals(name, "immutable")) {
      cc.immutable = true;
    } else if (iequals(name, "max-age")) {
      set_lifetime(cc.max_age, arg);
    } else if (iequals(name, "s-maxage")) {
      set_lifetime(cc.s_maxage, arg);
    } else if (iequals(name, "stale-while-revalidate")) {
      set_extension(cc.stale_while_revalidate, arg);
    } else if (iequals(name, "stale-if-error")) {
      set_extension(cc.stale_if_error, arg);
    } else if (iequals(name, "min-fresh")) {
      set_extension(cc.min_fresh, arg);
    } else if (iequals(name, "max-stale")) {
      // RFC 9111 section 5.2.1.2: "If no value is assigned to max-stale,
      // then the client will accept a stale response of any age."
      if (!arg.present) {
        cc.max_stale_any = true;
      } else {
        set_extension(cc.max_stale, arg);
      }
    }
  });
  return cc;
}

RequestDirectives parse_request_directives(std::string_view cache_control, bool has_cache_control,
                                           std::string_view pragma) {
  RequestDirectives out;
  if (has_cache_control) {
    const CacheControl cc = parse_cache_control(cache_control);
    out.bypass_lookup = cc.no_cache || (cc.max_age && *cc.max_age == 0);
    out.skip_store = cc.no_store;
  } else {
    // RFC 9111 section 5.4: without Cache-Control, "Pragma: no-cache" means
    // "Cache-Control: no-cache". Pragma shares the directive syntax.
    out.bypass_lookup = parse_cache_control(pragma).no_cache;
  }
  return out;
}

namespace {

// RFC 9111 section 3.5: "A shared cache MUST NOT use a cached response to a
// request with an Authorization header field ... to satisfy any subsequent
// request unless the response contains a Cache-Control field with a response
// directive ... that allows it to be stored by a shared cache": "must-
// revalidate ..., public ..., and s-maxage".
bool authorization_forbids(const CacheControl& cc, const StoragePolicy& policy) {
  if (!policy.shared_authorization_rules || !policy.request_has_authorization) return false;
  return !(cc.public_ || cc.s_maxage || cc.must_revalidate);
}

}  // namespace

StorageDecision decide_storage(const CacheControl& cc, bool has_set_cookie,
                               const StoragePolicy& policy) {
  StorageDecision d;
  const bool route_ttl = policy.route_ttl > 0 && std::isfinite(policy.route_ttl);
  if (route_ttl) d.ttl = policy.route_ttl;
  const bool honor = !policy.ignore_response_cache_control;
  if (honor && cc.no_store) {
    d.verdict = StoreVerdict::no_store;
  } else if (honor && cc.private_) {
    d.verdict = StoreVerdict::private_;
  } else if (authorization_forbids(cc, policy)) {
    d.verdict = StoreVerdict::authorization;
  } else if (has_set_cookie && !policy.store_set_cookie) {
    d.verdict = StoreVerdict::set_cookie;
  }
  if (!honor) return d;
  // s-maxage overrides max-age for a shared cache (RFC 9111 section 5.2.2.10).
  const std::optional<std::int64_t>& lifetime = cc.s_maxage ? cc.s_maxage : cc.max_age;
  if (!route_ttl && lifetime) {
    d.ttl = static_cast<double>(*lifetime);
    if (*lifetime == 0 && d.verdict == StoreVerdict::store) d.verdict = StoreVerdict::zero_lifetime;
  }
  d.revalidate = cc.no_cache;
  // must-revalidate / proxy-revalidate forbid serving the entry once stale
  // (RFC 9111 sections 5.2.2.2 and 5.2.2.8), whatever stale-* grants.
  if (!cc.must_revalidate && !cc.proxy_revalidate) {
    d.stale_while_revalidate = seconds(cc.stale_while_revalidate);
    d.stale_if_error = seconds(cc.stale_if_error);
  }
  return d;
}

std::string_view verdict_name(StoreVerdict verdict) noexcept {
  switch (verdict) {
    case StoreVerdict::store: return "store";
    case StoreVerdict::no_store: return "no_store";
    case StoreVerdict::private_: return "private";
    case StoreVerdict::authorization: return "authorization";
    case StoreVerdict::set_cookie: return "set_cookie";
    case StoreVerdict::zero_lifetime: return "zero_lifetime";
  }
  return "store";
}

}  // namespace fcr::http
