// The hit path: one call from an ASGI scope (or a known key) to the status,
// header list and body a hit sends. Header fields are the stored tuples
// themselves; only ETag, Age, the cache-status fields and, for a Range
// request, Content-Range are added per hit.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include <cmath>
#include <optional>
#include <string>
#include <string_view>

#include "bindings.hpp"
#include "fcr/cache_control.hpp"
#include "fcr/conditional.hpp"
#include "fcr/freshness.hpp"
#include "fcr/http.hpp"
#include "fcr/range.hpp"
#include "fcr/vary.hpp"
#include "py_store.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

// Request fields the hit path reads; repeated fields are one list (RFC 9110 5.3).
struct RequestFacts {
  std::optional<std::string> range;
  std::optional<std::string> if_range;
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

// `lower` is a lower-case literal; ASGI servers send lower-case names, but the
// comparison stays case-insensitive without allocating on the hit path.
bool is_field(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

RequestFacts scan(const std::vector<HeaderView>& headers) {
  RequestFacts facts;
  for (const auto& [name, value] : headers) {
    if (is_field(name, "range")) {
      append_field(facts.range, value);
    } else if (is_field(name, "if-range")) {
      append_field(facts.if_range, value);
    } else if (is_field(name, "if-none-match")) {
      append_field(facts.if_none_match, value);
    } else if (is_field(name, "if-modified-since")) {
      append_field(facts.if_modified_since, value);
    } else if (is_field(name, "cache-control")) {
      append_field(facts.cache_control, value);
    } else if (is_field(name, "pragma")) {
      append_field(facts.pragma, value);
    }
  }
  return facts;
}

bool sent_with_304(std::string_view name) {
  // RFC 9110 section 15.4.5: validators and caching fields, nothing about the body.
  return name == "cache-control" || name == "content-location" || name == "date" ||
         name == "etag" || name == "expires" || name == "last-modified" || name == "vary";
}

// Field names added per hit. Created once and never released: module-lifetime
// constants (releasing them at exit could run after the interpreter is gone).
PyObject* field_name(const char* name) {
  PyObject* bytes = PyBytes_FromString(name);
  if (!bytes) throw nb::python_error();
  return bytes;
}

nb::object field(PyObject* name, std::string_view value) {
  return nb::make_tuple(nb::handle(name), nb::bytes(value.data(), value.size()));
}

// The (b"age", b"<seconds>") field. Ages under an hour are made once and
// reused (module-lifetime constants, like the field names): most hits are
// that young, and building two objects per hit shows in the hit cost.
nb::object age_field(double age) {
  static PyObject* const age_name = field_name("age");
  constexpr std::int64_t kCached = 3600;
  static PyObject* cached[kCached] = {};
  const auto whole = static_cast<std::int64_t>(std::floor(std::max(0.0, std::min(age, 9e18))));
  if (whole < kCached) {
    PyObject*& slot = cached[whole];
    if (slot == nullptr) slot = field(age_name, std::to_string(whole)).release().ptr();
    return nb::borrow(slot);
  }
  return field(age_name, std::to_string(whole));
}

// What a hit needs of a stored response, from either store.
struct Stored {
  std::uint16_t status = 200;
  PyObject* headers = nullptr;  // tuple of (bytes, bytes) tuples
  PyObject* body = nullptr;     // bytes
  std::string_view etag;        // compared with If-None-Match and If-Range
  bool insert_etag = false;     // the ETag field is not in `headers`: add it ...
  std::size_t etag_index = 0;   // ... at this position
  std::int64_t last_modified = -1;
};

// What the request asks beyond the plain stored response.
struct Ask {
  std::string_view method;
  const std::optional<std::string>* if_none_match = nullptr;
  const std::optional<std::string>* if_modified_since = nullptr;
  const std::optional<std::string>* range = nullptr;
  const std::optional<std::string>* if_range = nullptr;
  bool head = false;
  double now = 0;
  // What the request accepts (RFC 9111 section 5.2.1), when the route honours
  // its Cache-Control; empty otherwise.
  http::RequestFreshness freshness{};
};

// Per-hit fields: Age (section 4.2.3: the current age), the cache-status
// field (X-Cache by default) and, when on, Cache-Status (RFC 9211).
struct Marks {
  double age = 0;
  nb::handle hit_header;
  nb::handle cache_status;  // a ready (name, value) tuple, or invalid
};

std::string_view opt(const std::optional<std::string>* value) {
  return value && *value ? std::string_view(**value) : std::string_view{};
}
bool has(const std::optional<std::string>* value) { return value && value->has_value(); }

// The (status, header list, body) a hit sends: a 304 with the validator and
// caching fields when the request's conditions say not modified; a 206 or 416
// for a Range request on a stored 200 (conditions first: RFC 9110 section
// 13.2.2 evaluates Range after them); else the stored response (no body for
// HEAD). The list is new; its fields are the stored tuples plus what a hit adds.
nb::object replay_stored(const Stored& entry, const Ask& ask, const Marks& marks) {
  static PyObject* const etag_name = field_name("etag");
  static PyObject* const range_name = field_name("content-range");
  static PyObject* const length_name = field_name("content-length");
  nb::object age = age_field(marks.age);
  nb::object etag;
  if (entry.insert_etag && !entry.etag.empty()) etag = field(etag_name, entry.etag);
  const Py_ssize_t stored = PyTuple_GET_SIZE(entry.headers);

  const auto finish = [&](nb::list& fields) {
    fields.append(age);
    fields.append(marks.hit_header);
    if (marks.cache_status.is_valid()) fields.append(marks.cache_status);
  };

  const bool conditional = has(ask.if_none_match) || has(ask.if_modified_since);
  if (conditional && entry.status >= 200 && entry.status < 300 &&
      http::is_not_modified(ask.method, opt(ask.if_none_match), has(ask.if_none_match),
                            opt(ask.if_modified_since), entry.etag, entry.last_modified,
                            static_cast<std::int64_t>(ask.now))) {
    nb::list fields;
    for (Py_ssize_t i = 0; i < stored; ++i) {
      PyObject* f = PyTuple_GET_ITEM(entry.headers, i);
      if (sent_with_304(bytes_view(PyTuple_GET_ITEM(f, 0), "header name"))) fields.append(nb::handle(f));
    }
    if (etag.is_valid()) fields.append(etag);
    finish(fields);
    return nb::make_tuple(304, fields, nb::bytes("", 0));
  }

  const std::uint64_t length = static_cast<std::uint64_t>(PyBytes_GET_SIZE(entry.body));
  http::ByteRange byte_range;
  if (has(ask.range) && entry.status == 200) {
    byte_range = http::evaluate_range(opt(ask.range), length, opt(ask.if_range), has(ask.if_range),
                                      entry.etag, entry.last_modified, false);
  }
  if (byte_range.answer != http::RangeAnswer::full) {
    // RFC 9110 sections 14.4, 15.3.7, 15.5.17: the part (or none) with its
    // Content-Range; the body is a view of the stored bytes, never a copy.
    const bool partial = byte_range.answer == http::RangeAnswer::partial;
    const std::string content_range =
        partial ? "bytes " + std::to_string(byte_range.first) + "-" + std::to_string(byte_range.last) +
                      "/" + std::to_string(length)
                : "bytes */" + std::to_string(length);
    const std::uint64_t part = partial ? byte_range.last - byte_range.first + 1 : 0;
    nb::list fields;
    if (partial) {  // the stored fields but the whole body's length
      for (Py_ssize_t i = 0; i < stored; ++i) {
        if (etag.is_valid() && static_cast<std::size_t>(i) == entry.etag_index) fields.append(etag);
        PyObject* f = PyTuple_GET_ITEM(entry.headers, i);
        if (!is_field(bytes_view(PyTuple_GET_ITEM(f, 0), "header name"), "content-length")) {
          fields.append(nb::handle(f));
        }
      }
    }
    const bool etag_at_end = !partial || entry.etag_index >= static_cast<std::size_t>(stored);
    if (etag.is_valid() && etag_at_end) fields.append(etag);
    fields.append(field(range_name, content_range));
    fields.append(field(length_name, std::to_string(part)));
    finish(fields);
    nb::object body = nb::bytes("", 0);
    if (partial && !ask.head) {
      nb::object view = nb::steal(PyMemoryView_FromObject(entry.body));
      if (!view.is_valid()) throw nb::python_error();
      nb::object slice = nb::steal(PySlice_New(nb::int_(byte_range.first).ptr(),
                                               nb::int_(byte_range.last + 1).ptr(), nullptr));
      body = nb::steal(PyObject_GetItem(view.ptr(), slice.ptr()));
      if (!body.is_valid()) throw nb::python_error();
    }
    return nb::make_tuple(partial ? 206 : 416, fields, body);
  }

  const Py_ssize_t extra = (etag.is_valid() ? 3 : 2) + (marks.cache_status.is_valid() ? 1 : 0);
  nb::list fields = nb::steal<nb::list>(PyList_New(stored + extra));
  Py_ssize_t out = 0;
  for (Py_ssize_t i = 0; i < stored; ++i) {
    if (etag.is_valid() && static_cast<std::size_t>(i) == entry.etag_index) {
      PyList_SET_ITEM(fields.ptr(), out++, etag.inc_ref().ptr());
    }
    PyList_SET_ITEM(fields.ptr(), out++, nb::borrow(PyTuple_GET_ITEM(entry.headers, i)).release().ptr());
  }
  if (etag.is_valid() && entry.etag_index >= static_cast<std::size_t>(stored)) {
    PyList_SET_ITEM(fields.ptr(), out++, etag.inc_ref().ptr());
  }
  PyList_SET_ITEM(fields.ptr(), out++, age.release().ptr());
  PyList_SET_ITEM(fields.ptr(), out++, nb::borrow(marks.hit_header).release().ptr());
  if (marks.cache_status.is_valid()) {
    PyList_SET_ITEM(fields.ptr(), out++, nb::borrow(marks.cache_status).release().ptr());
  }
  nb::object body = ask.head ? nb::bytes("", 0) : nb::borrow(entry.body);
  return nb::make_tuple(entry.status, fields, body);
}

// Cache-Status for a hit (RFC 9211 section 2): "<cache>; hit; ttl=<seconds>".
nb::object hit_status(nb::handle name, double ttl_left) {
  static PyObject* const status_name = field_name("cache-status");
  std::string value(bytes_view(name.ptr(), "cache status name"));
  value += "; hit";
  if (std::isfinite(ttl_left) && ttl_left < 1e15) {
    value += "; ttl=" + std::to_string(static_cast<std::int64_t>(std::floor(ttl_left)));
  }
  return field(status_name, value);
}

// Cache-Status for a stale answer (RFC 9211 section 2.2: "fwd=stale").
nb::object stale_status(nb::handle name) {
  static PyObject* const status_name = field_name("cache-status");
  std::string value(bytes_view(name.ptr(), "cache status name"));
  value += "; fwd=stale";
  return field(status_name, value);
}

// For stores that hand back StoredResponse objects (Redis, aiocache): the
// same replay, with the ETag among the stored header fields.
nb::object replay_fields(int status, nb::tuple headers, nb::bytes body, std::string_view etag,
                         std::int64_t last_modified, double age, double ttl_left,
                         std::string_view method, const std::optional<std::string>& if_none_match,
                         const std::optional<std::string>& if_modified_since,
                         const std::optional<std::string>& range,
                         const std::optional<std::string>& if_range, bool head, double now,
                         nb::tuple hit_header, nb::object cache_status_name, bool stale) {
  require_header_fields(headers);
  Stored entry;
  entry.status = static_cast<std::uint16_t>(status);
  entry.headers = headers.ptr();
  entry.body = body.ptr();
  entry.etag = etag;
  entry.last_modified = last_modified;
  Ask ask{method, &if_none_match, &if_modified_since, &range, &if_range, head, now};
  nb::object cache_status;
  if (!cache_status_name.is_none()) {
    cache_status = stale ? stale_status(cache_status_name) : hit_status(cache_status_name, ttl_left);
  }
  Marks marks{age, hit_header, cache_status};
  return replay_stored(entry, ask, marks);
}

std::string_view reuse_name(http::Reuse reuse) {
  switch (reuse) {
    case http::Reuse::fresh: return "fresh";
    case http::Reuse::stale_while_revalidate: return "stale_while_revalidate";
    case http::Reuse::revalidate: return "revalidate";
    case http::Reuse::miss: return "miss";
  }
  return "miss";
}

bool has_validator(const ResponsePayload& entry) {
  return !entry.etag.empty() || entry.last_modified >= 0;
}

class HitPath {
 public:
  HitPath(nb::object store, std::uint32_t ns, const KeySpec& spec, const CredentialSpec& credentials,
          nb::tuple hit_header, bool honor_request_cache_control, std::size_t max_key_length,
          nb::object cache_status_name, nb::object stale_header)
      : store_owner_(std::move(store)),
        store_(nb::cast<PyStore&>(store_owner_)),
        ns_(ns),
        spec_(spec),
        credentials_(credentials),
        hit_header_(std::move(hit_header)),
        cache_status_name_(std::move(cache_status_name)),
        stale_header_(std::move(stale_header)),
        honor_request_cache_control_(honor_request_cache_control),
        max_key_length_(max_key_length) {}

  // The fast lane: a (status, headers, body) hit; the key (str) when nothing
  // is stored for it; None when the route must decide (bypass rules, or an
  // entry that is not fresh).
  nb::object answer(nb::dict scope, double now) {
    PyObject* s = scope.ptr();
    const std::vector<HeaderView> headers = header_views(scope_item(s, "headers"));
    if (credentials_.carried_by(headers, scope_query(s))) return nb::none();
    const RequestFacts facts = scan(headers);
    const std::string_view method = str_view(scope_item(s, "method"), "scope['method'] must be str");
    const bool head = method == "HEAD";
    const std::string key = canonical_key(spec_, s, head ? "GET" : "", &headers);
    if (key.size() > max_key_length_) return nb::none();
    Ask ask{method, &facts.if_none_match, &facts.if_modified_since, &facts.range, &facts.if_range,
            head, now};
    if (honor_request_cache_control_) {
      if (http::parse_request_directives(facts.cache_control.value_or(""),
                                         facts.cache_control.has_value(), facts.pragma.value_or(""))
              .bypass_lookup) {
        return nb::none();
      }
      ask.freshness = http::parse_request_freshness(
          facts.cache_control.value_or(""), facts.cache_control.has_value(), facts.pragma.value_or(""));
    }
    nb::object hit = find(key, ask, &headers, nb::handle());
    if (hit.is_none()) return nb::str(key.data(), key.size());
    if (PyUnicode_Check(hit.ptr())) return nb::none();  // stored, not fresh
    if (PyTuple_GET_SIZE(hit.ptr()) == 4) {  // a stale answer: the key to refresh goes with it
      return nb::make_tuple(hit[0], hit[1], hit[2], nb::str(key.data(), key.size()));
    }
    return hit;
  }

  // The route's path, the key being known: a (status, headers, body) hit;
  // None when nothing is stored; the reuse decision's name ("revalidate",
  // "stale_while_revalidate", "miss") when an entry is stored but not fresh.
  // `headers` (the request's fields) select among Vary'd variants.
  nb::object lookup(std::string_view key, std::string_view method,
                    const std::optional<std::string>& if_none_match,
                    const std::optional<std::string>& if_modified_since,
                    const std::optional<std::string>& range,
                    const std::optional<std::string>& if_range, bool head, double now,
                    nb::handle headers, const std::optional<std::string>& request_cache_control,
                    const std::optional<std::string>& request_pragma) {
    Ask ask{method, &if_none_match, &if_modified_since, &range, &if_range, head, now};
    if (request_cache_control || request_pragma) {
      ask.freshness = http::parse_request_freshness(request_cache_control.value_or(""),
                                                    request_cache_control.has_value(),
                                                    request_pragma.value_or(""));
    }
    return find(key, ask, nullptr, headers);
  }

 private:
  nb::object find(std::string_view key, const Ask& ask, const std::vector<HeaderView>* headers,
                  nb::handle raw_headers) {
    PayloadPtr found = store_.get(ns_, key);
    // Only a Vary'd key needs the request's fields: read them then, not per hit.
    std::vector<HeaderView> views;
    if (headers == nullptr && raw_headers.is_valid() && !raw_headers.is_none() &&
        dynamic_cast<const vary::VariantSet*>(found.get()) != nullptr) {
      views = header_views(raw_headers.ptr());
      headers = &views;
    }
    const ResponsePayload* entry = response_for(found, headers, ask.now);
    if (!entry) return nb::none();
    const http::ReuseDecision decision = http::decide_reuse(entry->timing, ask.now, has_validator(*entry), ask.freshness);
    const bool stale = decision.reuse == http::Reuse::stale_while_revalidate && !stale_header_.is_none();
    if (decision.reuse != http::Reuse::fresh && !stale) {
      const std::string_view name = reuse_name(decision.reuse);
      return nb::str(name.data(), name.size());
    }
    // A Range request is answered only from a complete 200 (a stored 206 or
    // other status is not known to be the whole resource).
    if (has(ask.range) && !http::answers_range_request(entry->status)) return nb::str("miss");
    Stored stored;
    stored.status = entry->status;
    stored.headers = entry->headers.ptr();
    stored.body = entry->body.ptr();
    stored.etag = entry->etag;
    stored.insert_etag = true;
    stored.etag_index = entry->etag_index;
    stored.last_modified = entry->last_modified;
    nb::object cache_status;
    if (!cache_status_name_.is_none()) {
      cache_status = stale ? stale_status(cache_status_name_)
                           : hit_status(cache_status_name_, decision.ttl_left);
    }
    Marks marks{decision.age, stale ? nb::handle(stale_header_) : nb::handle(hit_header_), cache_status};
    nb::object answer = replay_stored(stored, ask, marks);
    // RFC 5861 section 3: served stale while the caller refreshes it; the
    // fourth member tells it so.
    if (stale) return nb::make_tuple(answer[0], answer[1], answer[2], true);
    return answer;
  }

  nb::object store_owner_;
  PyStore& store_;
  std::uint32_t ns_;
  KeySpec spec_;
  CredentialSpec credentials_;
  nb::object hit_header_;
  nb::object cache_status_name_;  // bytes, or None when Cache-Status is off
  nb::object stale_header_;       // (name, value) for stale answers; None: no stale serving
  bool honor_request_cache_control_;
  std::size_t max_key_length_;
};

}  // namespace

void bind_hit(nb::module_& m) {
  nb::class_<HitPath>(m, "HitPath",
                      "Answers hits of one route from the native store in a single call.")
      .def(nb::init<nb::object, std::uint32_t, const KeySpec&, const CredentialSpec&, nb::tuple, bool,
                    std::size_t, nb::object, nb::object>(),
           nb::arg("store"), nb::arg("ns"), nb::arg("key_spec"), nb::arg("credentials"),
           nb::arg("hit_header"), nb::arg("honor_request_cache_control"),
           nb::arg("max_key_length"), nb::arg("cache_status").none() = nb::none(),
           nb::arg("stale_header").none() = nb::none(),
           nb::sig("def __init__(self, store: Store, ns: int, key_spec: KeySpec, "
                   "credentials: CredentialSpec, hit_header: tuple[bytes, bytes], "
                   "honor_request_cache_control: bool, max_key_length: int, "
                   "cache_status: bytes | None = None, "
                   "stale_header: tuple[bytes, bytes] | None = None) -> None"))
      .def("answer", &HitPath::answer, nb::arg("scope"), nb::arg("now"),
           nb::sig("def answer(self, scope: collections.abc.MutableMapping[str, typing.Any], "
                   "now: float) -> tuple[int, list[tuple[bytes, bytes]], bytes] | "
                   "tuple[int, list[tuple[bytes, bytes]], bytes, str] | str | None"),
           "A hit as (status, headers, body) -- with the key as a fourth member when it is a "
           "stale answer to refresh; the key (str) when nothing is stored; None when the "
           "route must decide (credentials, key length, request directives, an entry that "
           "is not fresh).")
      .def("lookup", &HitPath::lookup, nb::arg("key"), nb::arg("method"),
           nb::arg("if_none_match").none(), nb::arg("if_modified_since").none(),
           nb::arg("range").none(), nb::arg("if_range").none(), nb::arg("head"), nb::arg("now"),
           nb::arg("headers").none(), nb::arg("request_cache_control").none() = nb::none(),
           nb::arg("request_pragma").none() = nb::none(),
           nb::sig("def lookup(self, key: str, method: str, if_none_match: str | None, "
                   "if_modified_since: str | None, range: str | None, if_range: str | None, "
                   "head: bool, now: float, "
                   "headers: collections.abc.Sequence[tuple[bytes, bytes]] | None, "
                   "request_cache_control: str | None = None, "
                   "request_pragma: str | None = None) -> "
                   "tuple[int, list[tuple[bytes, bytes]], bytes | memoryview] | "
                   "tuple[int, list[tuple[bytes, bytes]], bytes | memoryview, bool] | str | None"),
           "A hit as (status, headers, body) for a known key -- with True as a fourth member "
           "when it is a stale answer (stale-while-revalidate) to refresh; None when nothing "
           "is stored; "
           "the reuse decision ('revalidate', 'stale_while_revalidate', 'miss') of an "
           "entry that is stored but cannot be answered as it is. The request's "
           "Cache-Control (or Pragma), when given, limits what it accepts (RFC 9111 "
           "section 5.2.1).");
  m.def("replay", &replay_fields, nb::arg("status"), nb::arg("headers"), nb::arg("body"),
        nb::arg("etag"), nb::arg("last_modified"), nb::arg("age"), nb::arg("ttl_left"),
        nb::arg("method"), nb::arg("if_none_match").none(), nb::arg("if_modified_since").none(),
        nb::arg("range").none(), nb::arg("if_range").none(), nb::arg("head"), nb::arg("now"),
        nb::arg("hit_header"), nb::arg("cache_status").none(), nb::arg("stale") = false,
        nb::sig("def replay(status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, "
                "etag: str, last_modified: int, age: float, ttl_left: float, method: str, "
                "if_none_match: str | None, if_modified_since: str | None, range: str | None, "
                "if_range: str | None, head: bool, now: float, "
                "hit_header: tuple[bytes, bytes], cache_status: bytes | None, "
                "stale: bool = False) -> "
                "tuple[int, list[tuple[bytes, bytes]], bytes | memoryview]"),
        "What a hit of a stored response sends (a 304 when the conditions say so, a 206/416 "
        "for a Range request on a 200), for stores outside the engine; the ETag is among "
        "`headers`.");
}

}  // namespace fcr::py
