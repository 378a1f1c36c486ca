// KeySpec binding: builds a canonical key straight from an ASGI scope, so the
// hit path needs no Starlette Request/QueryParams/Headers objects.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "fcr/encoding.hpp"
#include "fcr/hash.hpp"
#include "fcr/http.hpp"
#include "fcr/key.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {

std::string_view str_view(PyObject* obj, const char* what) {
  if (!PyUnicode_Check(obj)) throw nb::type_error(what);
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(obj, &size);
  if (!data) throw nb::python_error();
  return {data, static_cast<std::size_t>(size)};
}

std::string_view bytes_view(PyObject* obj, const char* what) {
  if (!PyBytes_Check(obj)) throw nb::type_error(what);
  return {PyBytes_AS_STRING(obj), static_cast<std::size_t>(PyBytes_GET_SIZE(obj))};
}

namespace {

// Scope keys as interned str objects, made once: PyDict_GetItemString would
// build and hash a new str on every lookup (several per hit). Module-lifetime
// constants, never released (releasing at exit could run after the interpreter).
PyObject* interned(const char* name) {
  PyObject* key = PyUnicode_InternFromString(name);
  if (!key) throw nb::python_error();
  return key;
}

PyObject* scope_key(const char* name) {
  static PyObject* const headers = interned("headers");
  static PyObject* const method = interned("method");
  static PyObject* const path = interned("path");
  static PyObject* const query_string = interned("query_string");
  const std::string_view n(name);
  if (n == "headers") return headers;
  if (n == "method") return method;
  if (n == "path") return path;
  if (n == "query_string") return query_string;
  return nullptr;
}

}  // namespace

PyObject* scope_item(PyObject* scope, const char* name) {
  PyObject* key = scope_key(name);
  PyObject* item = key ? PyDict_GetItemWithError(scope, key) : PyDict_GetItemString(scope, name);
  if (!item) {
    if (PyErr_Occurred()) throw nb::python_error();
    throw nb::key_error(name);
  }
  return item;  // borrowed
}

std::vector<HeaderView> header_views(PyObject* headers) {
  std::vector<HeaderView> views;
  nb::object seq = nb::steal(PySequence_Fast(headers, "scope['headers'] must be a sequence"));
  if (!seq.is_valid()) throw nb::python_error();
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  views.reserve(static_cast<std::size_t>(n));
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* pair = items[i];
    if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2) {  // the common case, no new refs
      views.emplace_back(bytes_view(PyTuple_GET_ITEM(pair, 0), "header names must be bytes"),
                         bytes_view(PyTuple_GET_ITEM(pair, 1), "header values must be bytes"));
      continue;
    }
    if (!PySequence_Check(pair) || PySequence_Size(pair) != 2) {
      throw nb::type_error("each header must be a (name, value) pair of bytes");
    }
    nb::object name = nb::steal(PySequence_GetItem(pair, 0));
    nb::object value = nb::steal(PySequence_GetItem(pair, 1));
    if (!name.is_valid() || !value.is_valid()) throw nb::python_error();
    // A list pair owns name/value, so the views outlive these references.
    views.emplace_back(bytes_view(name.ptr(), "header names must be bytes"),
                       bytes_view(value.ptr(), "header values must be bytes"));
  }
  return views;
}

std::string_view any_str_view(PyObject* obj, const char* what, nb::object& holder) {
  if (!PyUnicode_Check(obj)) throw nb::type_error(what);
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(obj, &size);
  if (data) return {data, static_cast<std::size_t>(size)};
  // Lone surrogates (a path an ASGI server decoded with surrogateescape, or
  // built by hand) have no UTF-8 form: take their bytes as surrogatepass
  // writes them. No valid UTF-8 text has those bytes, so no key collides.
  PyErr_Clear();
  holder = nb::steal(PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass"));
  if (!holder.is_valid()) throw nb::python_error();
  return bytes_view(holder.ptr(), what);
}

std::string_view scope_query(PyObject* scope) {
  PyObject* query_obj = PyDict_GetItemWithError(scope, scope_key("query_string"));
  if (!query_obj && PyErr_Occurred()) throw nb::python_error();
  return query_obj ? bytes_view(query_obj, "scope['query_string'] must be bytes") : std::string_view{};
}

std::string canonical_key(const KeySpec& spec, PyObject* scope, std::string_view method,
                          const std::vector<HeaderView>* headers) {
  nb::object method_holder, path_holder;
  if (method.empty()) {
    method = any_str_view(scope_item(scope, "method"), "scope['method'] must be str", method_holder);
  }
  const std::string_view path = any_str_view(scope_item(scope, "path"), "scope['path'] must be str", path_holder);
  const std::string_view query = scope_query(scope);
  if (!spec.reads_headers()) return spec.canonical(method, path, query, {});
  if (headers) return spec.canonical(method, path, query, *headers);
  std::vector<HeaderView> views = header_views(scope_item(scope, "headers"));
  return spec.canonical(method, path, query, views);
}

namespace {

std::string canonical_from_scope(const KeySpec& spec, nb::dict scope,
                                 std::optional<std::string_view> method_override) {
  return canonical_key(spec, scope.ptr(), method_override.value_or(std::string_view{}), nullptr);
}

std::string canonical_from_parts(const KeySpec& spec, nb::handle method, nb::handle path,
                                 nb::bytes query, nb::handle headers) {
  nb::object method_holder, path_holder;
  const std::string_view m = any_str_view(method.ptr(), "method must be str", method_holder);
  const std::string_view p = any_str_view(path.ptr(), "path must be str", path_holder);
  std::vector<HeaderView> views = header_views(headers.ptr());
  return spec.canonical(m, p, {query.c_str(), query.size()}, views);
}

KeySpec make_key_spec(std::vector<QueryParamSpec> params, std::vector<std::string> headers,
                      std::vector<std::string> cookies, bool all_query, bool all_headers,
                      bool all_cookies, bool by_coding, bool br_available) {
  return KeySpec(KeyInputs{std::move(params), std::move(headers), std::move(cookies), all_query,
                           all_headers, all_cookies, by_coding, br_available});
}

CredentialSpec make_credentials(std::vector<std::string> headers, std::vector<std::string> cookies,
                                std::vector<std::string> query) {
  CredentialSpec spec;
  for (const std::string& name : headers) spec.headers.push_back(http::to_lower(name));
  spec.cookies = std::move(cookies);
  spec.query = std::move(query);
  return spec;
}

bool carried_in_scope(const CredentialSpec& spec, nb::dict scope) {
  if (spec.empty()) return false;
  std::vector<HeaderView> views = header_views(scope_item(scope.ptr(), "headers"));
  return spec.carried_by(views, scope_query(scope.ptr()));
}

std::vector<QueryItem> parse_query_bytes(nb::bytes raw) {
  return parse_query({raw.c_str(), raw.size()});
}

}  // namespace

void bind_key(nb::module_& m) {
  nb::class_<QueryParamSpec>(m, "QueryParamSpec",
                             "A declared query parameter: alias and default values "
                             "(None for a None default).")
      .def(nb::init<std::string, std::optional<std::vector<std::string>>>(), nb::arg("alias"),
           nb::arg("defaults").none())
      .def_ro("alias", &QueryParamSpec::alias)
      .def_ro("defaults", &QueryParamSpec::defaults);

  nb::class_<KeySpec>(m, "KeySpec", "Canonical-key builder for one route.")
      .def("__init__",
           [](KeySpec* self, std::vector<QueryParamSpec> params, std::vector<std::string> headers,
              std::vector<std::string> cookies, bool all_query, bool all_headers, bool all_cookies,
              bool by_coding, bool br_available) {
             new (self) KeySpec(make_key_spec(std::move(params), std::move(headers),
                                              std::move(cookies), all_query, all_headers,
                                              all_cookies, by_coding, br_available));
           },
           nb::arg("params"), nb::arg("vary_headers"), nb::arg("cookies") = std::vector<std::string>{},
           nb::arg("all_query") = false, nb::arg("all_headers") = false,
           nb::arg("all_cookies") = false, nb::arg("by_coding") = false,
           nb::arg("br_available") = false,
           "`params`: declared query parameters; `vary_headers`: header names in the key "
           "(declared header parameters and the route's vary_headers); `cookies`: declared "
           "cookie names; `all_*`: every member of that part (a parameter model that reads "
           "undeclared members); `by_coding`: the key ends with the content coding the "
           "request's Accept-Encoding gets (' enc=br|gzip|identity').")
      .def("from_scope", &canonical_from_scope, nb::arg("scope"),
           nb::arg("method") = nb::none(),
           nb::sig("def from_scope(self, scope: collections.abc.MutableMapping[str, typing.Any], "
                   "method: str | None = None) -> str"),
           "Canonical key of the request described by an ASGI HTTP scope; `method` "
           "replaces the scope's (HEAD is answered from the GET entry).")
      .def("canonical", &canonical_from_parts, nb::arg("method"), nb::arg("path"),
           nb::arg("query_string"), nb::arg("headers"),
           nb::sig("def canonical(self, method: str, path: str, query_string: bytes, "
                   "headers: collections.abc.Sequence[tuple[bytes, bytes]]) -> str"),
           "Canonical key from request parts (headers: sequence of (bytes, bytes)).")
      .def_prop_ro("params", &KeySpec::params)
      .def_prop_ro("vary_headers", &KeySpec::vary_headers)
      .def_prop_ro("cookies", &KeySpec::cookies);

  nb::class_<CredentialSpec>(m, "CredentialSpec",
                             "Credentials whose presence sends a request past the cache.")
      .def("__init__",
           [](CredentialSpec* self, std::vector<std::string> headers,
              std::vector<std::string> cookies, std::vector<std::string> query) {
             new (self) CredentialSpec(
                 make_credentials(std::move(headers), std::move(cookies), std::move(query)));
           },
           nb::arg("headers") = std::vector<std::string>{},
           nb::arg("cookies") = std::vector<std::string>{},
           nb::arg("query") = std::vector<std::string>{})
      .def("carried_by", &carried_in_scope, nb::arg("scope"),
           nb::sig("def carried_by(self, scope: collections.abc.MutableMapping[str, typing.Any]) "
                   "-> bool"),
           "Whether the request of an ASGI scope carries one of the credentials.")
      .def_prop_ro("headers", [](const CredentialSpec& c) { return c.headers; })
      .def_prop_ro("cookies", [](const CredentialSpec& c) { return c.cookies; })
      .def_prop_ro("query", [](const CredentialSpec& c) { return c.query; });

  m.def(
      "key_digest",
      [](std::string_view key) { return to_hex(hash128(key)); }, nb::arg("key"),
      "The stable 128-bit digest of a canonical key, as 32 hex digits (shared-store keys).");
  m.def(
      "preferred_coding",
      [](std::optional<std::string_view> accept_encoding, bool br_available) {
        const http::Coding coding = http::preferred_coding(
            accept_encoding.value_or(""), accept_encoding.has_value(), br_available);
        return std::string(http::coding_name(coding));
      },
      nb::arg("accept_encoding").none(), nb::arg("br_available"),
      "'br', 'gzip' or 'identity': the coding a request with this Accept-Encoding (None: "
      "absent) gets (RFC 9110 section 12.5.3).");
  m.def("parse_query", &parse_query_bytes, nb::arg("query_string"),
        "Decode a raw query string exactly as Starlette's QueryParams does.");
}

}  // namespace fcr::py
