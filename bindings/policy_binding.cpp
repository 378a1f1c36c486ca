// HTTP caching policy: Cache-Control, storage decisions, HTTP-dates and
// conditional requests. All calls are sub-microsecond: the GIL is kept.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/tuple.h>

#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "bindings.hpp"
#include "fcr/cache_control.hpp"
#include "fcr/conditional.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

std::tuple<std::string_view, double, bool, double, double> decide(
    std::string_view cache_control, bool has_set_cookie, double route_ttl,
    bool ignore_response_cache_control, bool store_set_cookie, bool request_has_authorization,
    bool shared_authorization_rules) {
  http::StoragePolicy policy;
  policy.route_ttl = route_ttl;
  policy.ignore_response_cache_control = ignore_response_cache_control;
  policy.store_set_cookie = store_set_cookie;
  policy.request_has_authorization = request_has_authorization;
  policy.shared_authorization_rules = shared_authorization_rules;
  const http::StorageDecision d =
      http::decide_storage(http::parse_cache_control(cache_control), has_set_cookie, policy);
  return {http::verdict_name(d.verdict), d.ttl, d.revalidate, d.stale_while_revalidate,
          d.stale_if_error};
}

std::tuple<bool, bool> request_directives(const std::optional<std::string>& cache_control,
                                          const std::optional<std::string>& pragma) {
  const http::RequestDirectives d = http::parse_request_directives(
      cache_control.value_or(""), cache_control.has_value(), pragma.value_or(""));
  return {d.bypass_lookup, d.skip_store};
}

bool not_modified(std::string_view method, const std::optional<std::string>& if_none_match,
                  const std::optional<std::string>& if_modified_since, std::string_view etag,
                  std::int64_t last_modified, std::int64_t now) {
  return http::is_not_modified(method, if_none_match.value_or(""), if_none_match.has_value(),
                               if_modified_since.value_or(""), etag, last_modified, now);
}

}  // namespace

void bind_policy(nb::module_& m) {
  using http::CacheControl;
  nb::class_<CacheControl>(m, "CacheControl",
                           "Parsed Cache-Control directives; numeric ones are None when absent.")
      .def_ro("no_store", &CacheControl::no_store)
      .def_ro("no_cache", &CacheControl::no_cache)
      .def_ro("private", &CacheControl::private_)
      .def_ro("public", &CacheControl::public_)
      .def_ro("must_revalidate", &CacheControl::must_revalidate)
      .def_ro("proxy_revalidate", &CacheControl::proxy_revalidate)
      .def_ro("immutable", &CacheControl::immutable)
      .def_ro("max_age", &CacheControl::max_age)
      .def_ro("s_maxage", &CacheControl::s_maxage)
      .def_ro("stale_while_revalidate", &CacheControl::stale_while_revalidate)
      .def_ro("stale_if_error", &CacheControl::stale_if_error);

  m.def("parse_cache_control", &http::parse_cache_control, nb::arg("value"),
        "Parse a Cache-Control field value; never fails (malformed members are skipped).");
  m.def("decide_storage", &decide, nb::arg("cache_control"), nb::arg("has_set_cookie"),
        nb::arg("route_ttl"), nb::arg("ignore_response_cache_control"),
        nb::arg("store_set_cookie"), nb::arg("request_has_authorization") = false,
        nb::arg("shared_authorization_rules") = false,
        "(verdict, ttl, revalidate, stale_while_revalidate, stale_if_error) for a response.\n\n"
        "verdict is 'store', 'no_store', 'private', 'authorization', 'set_cookie' or "
        "'zero_lifetime'; ttl 0 means the response set no lifetime and the route no ttl. "
        "With both Authorization flags (RFC 9111 section 3.5, shared mode), a response to a "
        "request with Authorization is stored only if it says public, s-maxage or "
        "must-revalidate.");
  m.def("request_directives", &request_directives, nb::arg("cache_control").none(),
        nb::arg("pragma").none(),
        "(bypass_lookup, skip_store) from a request's Cache-Control and Pragma (None: absent).");
  m.def("parse_http_date", &http::parse_http_date, nb::arg("value"), nb::arg("now"),
        "Seconds since the epoch of an HTTP-date in any of its three formats, or None.");
  m.def("format_http_date", &http::format_http_date, nb::arg("epoch"),
        "IMF-fixdate for seconds since the epoch (clamped to years 0000-9999).");
  m.def("is_not_modified", &not_modified, nb::arg("method"), nb::arg("if_none_match").none(),
        nb::arg("if_modified_since").none(), nb::arg("etag"), nb::arg("last_modified"),
        nb::arg("now"),
        "Whether a GET/HEAD hit is answered 304 (RFC 9110 section 13.2.2). None: header absent; "
        "last_modified < 0: the entry has no Last-Modified.");
  m.def("age_seconds", &http::age_seconds, nb::arg("stored_at"), nb::arg("now"),
        "Age header value: whole seconds since stored_at, never negative.");
}

}  // namespace fcr::py
