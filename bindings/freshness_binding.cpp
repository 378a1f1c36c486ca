// Freshness, reuse and stored fields (RFC 9111 sections 3.1, 4.2, 4.3.4) for
// the Python flow; the one-call hit path uses the same engine functions.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "fcr/freshness.hpp"
#include "fcr/stored_fields.hpp"
#include "py_store.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

nb::tuple entry_timing_of(std::string_view cache_control, std::optional<std::string_view> expires,
                          std::optional<std::string_view> date, std::optional<std::string_view> age,
                          std::optional<std::string_view> last_modified, int status,
                          double response_time, double route_ttl,
                          bool ignore_response_cache_control, bool shared_cache_freshness,
                          bool heuristic, double heuristic_max, double stale_while_revalidate,
                          double stale_if_error) {
  http::ResponseTimes times;
  times.cache_control = cache_control;
  times.expires = expires.value_or("");
  times.has_expires = expires.has_value();
  times.date = date.value_or("");
  times.has_date = date.has_value();
  times.age = age.value_or("");
  times.has_age = age.has_value();
  times.last_modified = last_modified.value_or("");
  times.has_last_modified = last_modified.has_value();
  times.status = status;
  times.response_time = response_time;
  http::FreshnessPolicy policy;
  policy.route_ttl = route_ttl;
  policy.ignore_response_cache_control = ignore_response_cache_control;
  policy.shared_cache_freshness = shared_cache_freshness;
  policy.heuristic = heuristic;
  policy.heuristic_max = heuristic_max;
  policy.route_stale_while_revalidate = stale_while_revalidate;
  policy.route_stale_if_error = stale_if_error;
  return timing_tuple(http::entry_timing(times, policy));
}

nb::tuple decide_reuse_of(nb::handle timing, double now, bool has_validator,
                          const std::optional<std::string>& request_cache_control,
                          const std::optional<std::string>& request_pragma) {
  // Without either field the request states nothing (the route passes them
  // only when it honours the request's Cache-Control).
  http::RequestFreshness request;
  if (request_cache_control || request_pragma) {
    request = http::parse_request_freshness(request_cache_control.value_or(""),
                                            request_cache_control.has_value(),
                                            request_pragma.value_or(""));
  }
  const http::ReuseDecision d = http::decide_reuse(timing_from(timing), now, has_validator, request);
  const char* name = "miss";
  switch (d.reuse) {
    case http::Reuse::fresh: name = "fresh"; break;
    case http::Reuse::stale_while_revalidate: name = "stale_while_revalidate"; break;
    case http::Reuse::revalidate: name = "revalidate"; break;
    case http::Reuse::miss: name = "miss"; break;
  }
  return nb::make_tuple(nb::str(name), d.age, d.ttl_left);
}

std::vector<http::FieldView> field_views(nb::handle fields) {
  require_header_fields(fields);
  std::vector<http::FieldView> views;
  const Py_ssize_t n = PyTuple_GET_SIZE(fields.ptr());
  views.reserve(static_cast<std::size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* f = PyTuple_GET_ITEM(fields.ptr(), i);
    views.emplace_back(bytes_view(PyTuple_GET_ITEM(f, 0), "header name"),
                       bytes_view(PyTuple_GET_ITEM(f, 1), "header value"));
  }
  return views;
}

// The fields a cache may store, the same tuples, in order.
nb::tuple storable_of(nb::tuple fields) {
  const std::vector<std::size_t> keep = http::storable_fields(field_views(fields));
  if (keep.size() == static_cast<std::size_t>(PyTuple_GET_SIZE(fields.ptr()))) return fields;
  nb::object out = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(keep.size())));
  if (!out.is_valid()) throw nb::python_error();
  Py_ssize_t i = 0;
  for (std::size_t index : keep) {
    PyObject* f = PyTuple_GET_ITEM(fields.ptr(), static_cast<Py_ssize_t>(index));
    PyTuple_SET_ITEM(out.ptr(), i++, nb::borrow(f).release().ptr());
  }
  return nb::borrow<nb::tuple>(out);
}

nb::tuple refreshed_of(nb::tuple stored, nb::tuple fresh) {
  const auto order = http::refreshed_fields(field_views(stored), field_views(fresh));
  nb::object out = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(order.size())));
  if (!out.is_valid()) throw nb::python_error();
  Py_ssize_t i = 0;
  for (const auto& [from_fresh, index] : order) {
    PyObject* source = (from_fresh ? fresh : stored).ptr();
    PyObject* f = PyTuple_GET_ITEM(source, static_cast<Py_ssize_t>(index));
    PyTuple_SET_ITEM(out.ptr(), i++, nb::borrow(f).release().ptr());
  }
  return nb::borrow<nb::tuple>(out);
}

}  // namespace

void bind_freshness(nb::module_& m) {
  m.def("entry_timing", &entry_timing_of, nb::arg("cache_control"), nb::arg("expires").none(),
        nb::arg("date").none(), nb::arg("age").none(), nb::arg("last_modified").none(),
        nb::arg("status"), nb::arg("response_time"), nb::arg("route_ttl"),
        nb::arg("ignore_response_cache_control"), nb::arg("shared_cache_freshness"),
        nb::arg("heuristic"), nb::arg("heuristic_max"), nb::arg("stale_while_revalidate") = -1.0,
        nb::arg("stale_if_error") = -1.0,
        nb::sig("def entry_timing(cache_control: str, expires: str | None, date: str | None, "
                "age: str | None, last_modified: str | None, status: int, "
                "response_time: float, route_ttl: float, ignore_response_cache_control: bool, "
                "shared_cache_freshness: bool, heuristic: bool, heuristic_max: float, "
                "stale_while_revalidate: float = -1.0, stale_if_error: float = -1.0) -> "
                "tuple[float, float, float, bool, bool, bool, bool, float, float]"),
        "The freshness of a response with these fields (RFC 9111 section 4.2): (stored_at, "
        "initial_age, lifetime, unbounded, heuristic, no_cache, must_revalidate, "
        "stale_while_revalidate, stale_if_error). The route's stale windows, when >= 0, "
        "replace the response's (RFC 5861).");
  m.def("decide_reuse", &decide_reuse_of, nb::arg("timing"), nb::arg("now"),
        nb::arg("has_validator"), nb::arg("request_cache_control").none() = nb::none(),
        nb::arg("request_pragma").none() = nb::none(),
        nb::sig("def decide_reuse(timing: tuple[float, float, float, bool, bool, bool, bool, "
                "float, float], now: float, has_validator: bool, request_cache_control: str | "
                "None = None, request_pragma: str | None = None) -> tuple[str, float, float]"),
        "(reuse, age, ttl_left): 'fresh', 'stale_while_revalidate', 'revalidate' or 'miss' "
        "for an entry with this timing at `now`, its current age and the seconds of "
        "freshness left. The request's Cache-Control (or, without it, its Pragma), when "
        "given, limits what it accepts (RFC 9111 section 5.2.1: no-cache, max-age, "
        "min-fresh, max-stale).");
  m.def(
      "store_ttl",
      [](nb::handle timing, double now, double keep) {
        return http::store_ttl(timing_from(timing), now, keep);
      },
      nb::arg("timing"), nb::arg("now"), nb::arg("keep"),
      nb::sig("def store_ttl(timing: tuple[float, float, float, bool, bool, bool, bool, float, "
              "float], now: float, keep: float) -> float"),
      "Seconds the store keeps an entry: until stale plus `keep`; 0 when it never expires.");
  m.def(
      "worth_storing",
      [](nb::handle timing, bool has_validator) {
        return http::worth_storing(timing_from(timing), has_validator);
      },
      nb::arg("timing"), nb::arg("has_validator"),
      nb::sig("def worth_storing(timing: tuple[float, float, float, bool, bool, bool, bool, "
              "float, float], has_validator: bool) -> bool"),
      "Whether a response with this timing can ever answer a request (fresh or within a "
      "stale window on arrival, or revalidatable).");
  m.def(
      "serves_stale_on_error",
      [](nb::handle timing, double now) {
        return http::serves_stale_on_error(timing_from(timing), now);
      },
      nb::arg("timing"), nb::arg("now"),
      nb::sig("def serves_stale_on_error(timing: tuple[float, float, float, bool, bool, bool, "
              "bool, float, float], now: float) -> bool"),
      "Whether a stale entry may answer when the endpoint fails (RFC 5861 stale-if-error).");
  m.def("storable_fields", &storable_of, nb::arg("fields"),
        nb::sig("def storable_fields(fields: tuple[tuple[bytes, bytes], ...]) -> "
                "tuple[tuple[bytes, bytes], ...]"),
        "The fields without those a cache must not store (hop-by-hop, Connection-listed, "
        "proxy authentication).");
  m.def("refreshed_fields", &refreshed_of, nb::arg("stored"), nb::arg("fresh"),
        nb::sig("def refreshed_fields(stored: tuple[tuple[bytes, bytes], ...], "
                "fresh: tuple[tuple[bytes, bytes], ...]) -> tuple[tuple[bytes, bytes], ...]"),
        "The stored fields updated by a 304's (RFC 9111 section 4.3.4).");
}

}  // namespace fcr::py
