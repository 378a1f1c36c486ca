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
#include "fcr/vary.hpp"
#include "py_store.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

// Request fields the hit path reads; repeated fields are one list (RFC 9110 5.3).
struct RequestFacts {
  bool range = false;
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
      facts.range = true;
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

// What a hit needs of a stored response, from either store.
struct Stored {
  std::uint16_t status = 200;
  PyObject* headers = nullptr;  // tuple of (bytes, bytes) tuples
  PyObject* body = nullptr;     // bytes
  std::string_view etag;        // compared with If-None-Match
  bool insert_etag = false;     // the ETag field is not in `headers`: add it ...
  std::size_t etag_index = 0;   // ... at this position
  double stored_at = 0;
  std::int64_t last_modified = -1;
};

// The (status, header list, body) a hit sends: a 304 with the validator and
// caching fields when the request's conditions say not modified, else the
// stored response (no body for HEAD). The list is new; its fields are the
// stored tuples plus ETag (when kept apart), Age and the cache-status field.
nb::object replay_stored(const Stored& entry, std::string_view method,
                         const std::optional<std::string>& if_none_match,
                         const std::optional<std::string>& if_modified_since, bool head,
                         double now, nb::handle hit_header) {
  static PyObject* const age_name = field_name("age");
  static PyObject* const etag_name = field_name("etag");
  const std::string age_text = std::to_string(http::age_seconds(entry.stored_at, now));
  nb::object age = nb::make_tuple(nb::handle(age_name), nb::bytes(age_text.data(), age_text.size()));
  nb::object etag;
  if (entry.insert_etag && !entry.etag.empty()) {
    etag = nb::make_tuple(nb::handle(etag_name), nb::bytes(entry.etag.data(), entry.etag.size()));
  }
  const Py_ssize_t stored = PyTuple_GET_SIZE(entry.headers);
  const bool conditional = if_none_match.has_value() || if_modified_since.has_value();
  if (conditional && entry.status >= 200 && entry.status < 300 &&
      http::is_not_modified(method, if_none_match.value_or(""), if_none_match.has_value(),
                            if_modified_since.value_or(""), entry.etag, entry.last_modified,
                            static_cast<std::int64_t>(now))) {
    nb::list fields;
    for (Py_ssize_t i = 0; i < stored; ++i) {
      PyObject* field = PyTuple_GET_ITEM(entry.headers, i);
      if (sent_with_304(bytes_view(PyTuple_GET_ITEM(field, 0), "header name"))) {
        fields.append(nb::handle(field));
      }
    }
    if (etag.is_valid()) fields.append(etag);
    fields.append(age);
    fields.append(hit_header);
    return nb::make_tuple(304, fields, nb::bytes("", 0));
  }
  const Py_ssize_t extra = etag.is_valid() ? 3 : 2;
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
  PyList_SET_ITEM(fields.ptr(), out++, nb::borrow(hit_header).release().ptr());
  nb::object body = head ? nb::bytes("", 0) : nb::borrow(entry.body);
  return nb::make_tuple(entry.status, fields, body);
}

// For stores that hand back StoredResponse objects (Redis, aiocache): the
// same replay, with the ETag among the stored header fields.
nb::object replay_fields(int status, nb::tuple headers, nb::bytes body, std::string_view etag,
                         std::int64_t last_modified, double stored_at, std::string_view method,
                         const std::optional<std::string>& if_none_match,
                         const std::optional<std::string>& if_modified_since, bool head,
                         double now, nb::tuple hit_header) {
  require_header_fields(headers);
  Stored entry;
  entry.status = static_cast<std::uint16_t>(status);
  entry.headers = headers.ptr();
  entry.body = body.ptr();
  entry.etag = etag;
  entry.stored_at = stored_at;
  entry.last_modified = last_modified;
  return replay_stored(entry, method, if_none_match, if_modified_since, head, now, hit_header);
}

class HitPath {
 public:
  HitPath(nb::object store, std::uint32_t ns, const KeySpec& spec, const CredentialSpec& credentials,
          nb::tuple hit_header, bool honor_request_cache_control, std::size_t max_key_length)
      : store_owner_(std::move(store)),
        store_(nb::cast<PyStore&>(store_owner_)),
        ns_(ns),
        spec_(spec),
        credentials_(credentials),
        hit_header_(std::move(hit_header)),
        honor_request_cache_control_(honor_request_cache_control),
        max_key_length_(max_key_length) {}

  // The fast lane: a (status, headers, body) hit, the key (str) of a miss, or
  // None when the request must go through the route (bypass rules).
  nb::object answer(nb::dict scope, double now) {
    PyObject* s = scope.ptr();
    const std::vector<HeaderView> headers = header_views(scope_item(s, "headers"));
    if (credentials_.carried_by(headers, scope_query(s))) return nb::none();
    const RequestFacts facts = scan(headers);
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
    nb::object hit = find(key, method, facts.if_none_match, facts.if_modified_since, head, now,
                          &headers, facts.range);
    if (hit.is_none()) return nb::str(key.data(), key.size());
    return hit;
  }

  // The route's path, the key being known: a (status, headers, body) hit or
  // None. `headers` (the request's fields) select among Vary'd variants.
  nb::object lookup(std::string_view key, std::string_view method,
                    const std::optional<std::string>& if_none_match,
                    const std::optional<std::string>& if_modified_since, bool head, double now,
                    nb::handle headers, bool range) {
    return find(key, method, if_none_match, if_modified_since, head, now, nullptr, range, headers);
  }

 private:
  nb::object find(std::string_view key, std::string_view method,
                  const std::optional<std::string>& if_none_match,
                  const std::optional<std::string>& if_modified_since, bool head, double now,
                  const std::vector<HeaderView>* headers, bool range,
                  nb::handle raw_headers = nb::handle()) {
    PayloadPtr found = store_.get(ns_, key);
    // Only a Vary'd key needs the request's fields: read them then, not per hit.
    std::vector<HeaderView> views;
    if (headers == nullptr && raw_headers.is_valid() && !raw_headers.is_none() &&
        dynamic_cast<const vary::VariantSet*>(found.get()) != nullptr) {
      views = header_views(raw_headers.ptr());
      headers = &views;
    }
    const ResponsePayload* entry = response_for(found, headers, now);
    if (!entry || entry->revalidate) return nb::none();
    // A Range request is answered only from a complete 200 (a stored 206 or
    // other status is never the whole resource; RFC 9110 section 14.2 lets
    // the full 200 answer a Range request).
    if (range && !http::answers_range_request(entry->status)) return nb::none();
    Stored stored;
    stored.status = entry->status;
    stored.headers = entry->headers.ptr();
    stored.body = entry->body.ptr();
    stored.etag = entry->etag;
    stored.insert_etag = true;
    stored.etag_index = entry->etag_index;
    stored.stored_at = entry->stored_at;
    stored.last_modified = entry->last_modified;
    return replay_stored(stored, method, if_none_match, if_modified_since, head, now, hit_header_);
  }

  nb::object store_owner_;
  PyStore& store_;
  std::uint32_t ns_;
  KeySpec spec_;
  CredentialSpec credentials_;
  nb::object hit_header_;
  bool honor_request_cache_control_;
  std::size_t max_key_length_;
};

}  // namespace

void bind_hit(nb::module_& m) {
  nb::class_<HitPath>(m, "HitPath",
                      "Answers hits of one route from the native store in a single call.")
      .def(nb::init<nb::object, std::uint32_t, const KeySpec&, const CredentialSpec&, nb::tuple, bool,
                    std::size_t>(),
           nb::arg("store"), nb::arg("ns"), nb::arg("key_spec"), nb::arg("credentials"),
           nb::arg("hit_header"), nb::arg("honor_request_cache_control"),
           nb::arg("max_key_length"),
           nb::sig("def __init__(self, store: Store, ns: int, key_spec: KeySpec, "
                   "credentials: CredentialSpec, hit_header: tuple[bytes, bytes], "
                   "honor_request_cache_control: bool, max_key_length: int) -> None"))
      .def("answer", &HitPath::answer, nb::arg("scope"), nb::arg("now"),
           nb::sig("def answer(self, scope: collections.abc.MutableMapping[str, typing.Any], "
                   "now: float) -> tuple[int, list[tuple[bytes, bytes]], bytes] | str | None"),
           "A hit as (status, headers, body); the key (str) on a miss; None when the "
           "route must decide (credentials, key length, request directives).")
      .def("lookup", &HitPath::lookup, nb::arg("key"), nb::arg("method"),
           nb::arg("if_none_match").none(), nb::arg("if_modified_since").none(), nb::arg("head"),
           nb::arg("now"), nb::arg("headers").none(), nb::arg("range"),
           nb::sig("def lookup(self, key: str, method: str, if_none_match: str | None, "
                   "if_modified_since: str | None, head: bool, now: float, "
                   "headers: collections.abc.Sequence[tuple[bytes, bytes]] | None, "
                   "range: bool) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None"),
           "A hit as (status, headers, body) for a known key, or None.");
  m.def("replay", &replay_fields, nb::arg("status"), nb::arg("headers"), nb::arg("body"),
        nb::arg("etag"), nb::arg("last_modified"), nb::arg("stored_at"), nb::arg("method"),
        nb::arg("if_none_match").none(), nb::arg("if_modified_since").none(), nb::arg("head"),
        nb::arg("now"), nb::arg("hit_header"),
        nb::sig("def replay(status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes, "
                "etag: str, last_modified: int, stored_at: float, method: str, "
                "if_none_match: str | None, if_modified_since: str | None, head: bool, "
                "now: float, hit_header: tuple[bytes, bytes]) -> "
                "tuple[int, list[tuple[bytes, bytes]], bytes]"),
        "What a hit of a stored response sends (a 304 when the conditions say so), for "
        "stores outside the engine; the ETag is among `headers`.");
}

}  // namespace fcr::py
