// The hit path: one call from an ASGI scope (or a known key) to the status,
// header list and body a hit sends. Header fields are the stored tuples
// themselves; only the ETag, Age and cache-status fields are added per hit.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <optional>
#include <string>
#include <string_view>

#include "bindings.hpp"
#include "fcr/cache_control.hpp"
#include "fcr/conditional.hpp"
#include "fcr/http.hpp"
#include "py_store.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

// Request fields the hit path reads; repeated fields are one list (RFC 9110 5.3).
struct RequestFacts {
  bool authorization = false;
  std::optional<std::string> if_none_match;
  std::optional<std::string> if_modified_since;
  std::optional<std::string> cache_control;
  std::optional<std::string> pragma;
};

void append_field(std::optional<std::string>& field, std::string_view value) {
  if (field) {
    field->append(", ").append(value);
  } else {
    field.emplace(value);
  }
}

RequestFacts scan(const std::vector<HeaderView>& headers) {
  RequestFacts facts;
  for (const auto& [name, value] : headers) {
    // ASGI servers send lower-case names; compare case-insensitively anyway.
    const std::string lower = http::to_lower(name);
    if (lower == "authorization") {
      facts.authorization = true;
    } else if (lower == "if-none-match") {
      append_field(facts.if_none_match, value);
    } else if (lower == "if-modified-since") {
      append_field(facts.if_modified_since, value);
    } else if (lower == "cache-control") {
      append_field(facts.cache_control, value);
    } else if (lower == "pragma") {
      append_field(facts.pragma, value);
    }
  }
  return facts;
}

bool sent_with_304(std::string_view name) {
  // RFC 9110 section 15.4.5: validators and caching fields, nothing about the body.
  return name == "cache-control" || name == "content-location" || name == "date" ||
         name == "expires" || name == "last-modified" || name == "vary";
}

class HitPath {
 public:
  HitPath(nb::object store, std::uint32_t ns, const KeySpec& spec, nb::tuple hit_header,
          bool allow_authorization, bool honor_request_cache_control, std::size_t max_key_length)
      : store_owner_(std::move(store)),
        store_(nb::cast<PyStore&>(store_owner_)),
        ns_(ns),
        spec_(spec),
        hit_header_(std::move(hit_header)),
        allow_authorization_(allow_authorization),
        honor_request_cache_control_(honor_request_cache_control),
        max_key_length_(max_key_length),
        age_name_(nb::bytes("age", 3)),
        etag_name_(nb::bytes("etag", 4)) {}

  // The fast lane: a (status, headers, body) hit, the key (str) of a miss, or
  // None when the request must go through the route (bypass rules).
  nb::object answer(nb::dict scope, double now) {
    PyObject* s = scope.ptr();
    const std::vector<HeaderView> headers = header_views(scope_item(s, "headers"));
    const RequestFacts facts = scan(headers);
    if (facts.authorization && !allow_authorization_) return nb::none();
    const std::string_view method = str_view(scope_item(s, "method"), "scope['method'] must be str");
    const bool head = method == "HEAD";
    const std::string key = canonical_key(spec_, s, head ? "GET" : "", &headers);
    if (key.size() > max_key_length_) return nb::none();
    if (honor_request_cache_control_ &&
        http::parse_request_directives(facts.cache_control.value_or(""),
                                       facts.cache_control.has_value(), facts.pragma.value_or(""))
            .bypass_lookup) {
      return nb::none();
    }
    nb::object hit = lookup(key, method, facts.if_none_match, facts.if_modified_since, head, now);
    if (hit.is_none()) return nb::str(key.data(), key.size());
    return hit;
  }

  // The route's path, the key being known: a (status, headers, body) hit or None.
  nb::object lookup(std::string_view key, std::string_view method,
                    const std::optional<std::string>& if_none_match,
                    const std::optional<std::string>& if_modified_since, bool head, double now) {
    PayloadPtr found = store_.get(ns_, key);
    auto* entry = dynamic_cast<const ResponsePayload*>(found.get());
    if (!entry || entry->revalidate) return nb::none();
    return respond(*entry, method, if_none_match, if_modified_since, head, now);
  }

 private:
  nb::object respond(const ResponsePayload& entry, std::string_view method,
                     const std::optional<std::string>& if_none_match,
                     const std::optional<std::string>& if_modified_since, bool head,
                     double now) const {
    const std::string age_text = std::to_string(http::age_seconds(entry.stored_at, now));
    nb::object age = nb::make_tuple(age_name_, nb::bytes(age_text.data(), age_text.size()));
    nb::object etag;
    if (!entry.etag.empty()) {
      etag = nb::make_tuple(etag_name_, nb::bytes(entry.etag.data(), entry.etag.size()));
    }
    const bool conditional = if_none_match.has_value() || if_modified_since.has_value();
    if (conditional && entry.status >= 200 && entry.status < 300 &&
        http::is_not_modified(method, if_none_match.value_or(""), if_none_match.has_value(),
                              if_modified_since.value_or(""), entry.etag, entry.last_modified,
                              static_cast<std::int64_t>(now))) {
      nb::list fields;
      for (nb::handle field : nb::borrow<nb::tuple>(entry.headers)) {
        std::string_view name = bytes_view(PyTuple_GET_ITEM(field.ptr(), 0), "header name");
        if (sent_with_304(name)) fields.append(field);
      }
      if (etag.is_valid()) fields.append(etag);
      fields.append(age);
      fields.append(hit_header_);
      return nb::make_tuple(304, fields, nb::bytes("", 0));
    }
    const Py_ssize_t stored = PyTuple_GET_SIZE(entry.headers.ptr());
    const Py_ssize_t extra = etag.is_valid() ? 3 : 2;
    nb::list fields = nb::steal<nb::list>(PyList_New(stored + extra));
    Py_ssize_t out = 0;
    for (Py_ssize_t i = 0; i < stored; ++i) {
      if (etag.is_valid() && i == entry.etag_index) {
        PyList_SET_ITEM(fields.ptr(), out++, etag.inc_ref().ptr());
      }
      PyList_SET_ITEM(fields.ptr(), out++, nb::borrow(PyTuple_GET_ITEM(entry.headers.ptr(), i)).release().ptr());
    }
    if (etag.is_valid() && entry.etag_index >= stored) {
      PyList_SET_ITEM(fields.ptr(), out++, etag.inc_ref().ptr());
    }
    PyList_SET_ITEM(fields.ptr(), out++, age.release().ptr());
    PyList_SET_ITEM(fields.ptr(), out++, hit_header_.inc_ref().ptr());
    return nb::make_tuple(entry.status, fields, head ? nb::bytes("", 0) : entry.body);
  }

  nb::object store_owner_;
  PyStore& store_;
  std::uint32_t ns_;
  KeySpec spec_;
  nb::object hit_header_;
  bool allow_authorization_;
  bool honor_request_cache_control_;
  std::size_t max_key_length_;
  nb::object age_name_;
  nb::object etag_name_;
};

}  // namespace

void bind_hit(nb::module_& m) {
  nb::class_<HitPath>(m, "HitPath",
                      "Answers hits of one route from the native store in a single call.")
      .def(nb::init<nb::object, std::uint32_t, const KeySpec&, nb::tuple, bool, bool, std::size_t>(),
           nb::arg("store"), nb::arg("ns"), nb::arg("key_spec"), nb::arg("hit_header"),
           nb::arg("allow_authorization"), nb::arg("honor_request_cache_control"),
           nb::arg("max_key_length"),
           nb::sig("def __init__(self, store: Store, ns: int, key_spec: KeySpec, "
                   "hit_header: tuple[bytes, bytes], allow_authorization: bool, "
                   "honor_request_cache_control: bool, max_key_length: int) -> None"))
      .def("answer", &HitPath::answer, nb::arg("scope"), nb::arg("now"),
           nb::sig("def answer(self, scope: collections.abc.MutableMapping[str, typing.Any], "
                   "now: float) -> tuple[int, list[tuple[bytes, bytes]], bytes] | str | None"),
           "A hit as (status, headers, body); the key (str) on a miss; None when the "
           "route must decide (Authorization, key length, request directives).")
      .def("lookup", &HitPath::lookup, nb::arg("key"), nb::arg("method"),
           nb::arg("if_none_match").none(), nb::arg("if_modified_since").none(), nb::arg("head"),
           nb::arg("now"),
           nb::sig("def lookup(self, key: str, method: str, if_none_match: str | None, "
                   "if_modified_since: str | None, head: bool, now: float) -> "
                   "tuple[int, list[tuple[bytes, bytes]], bytes] | None"),
           "A hit as (status, headers, body) for a known key, or None.");
}

}  // namespace fcr::py
