// Codec binding: responses to and from the binary entry format that shared
// stores keep. Encoding writes straight into the resulting bytes object;
// decoding never raises for bad data (a malformed or foreign value is None).
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string_view.h>

#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "fcr/codec.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

// Encoding and decoding are linear in the body (checksum, copy); above this
// size the GIL is released meanwhile (below it, the release costs more).
constexpr std::size_t kReleaseGilAbove = 64 * 1024;

// A snapshot of a sequence argument as a tuple: it holds references to the
// items, so views into them stay valid even if the caller's list changes.
nb::tuple as_tuple(nb::handle seq, const char* what) {
  if (PyUnicode_Check(seq.ptr()) || PyBytes_Check(seq.ptr())) throw nb::type_error(what);
  PyObject* tuple = PySequence_Tuple(seq.ptr());
  if (!tuple) {
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
      PyErr_Clear();
      throw nb::type_error(what);
    }
    throw nb::python_error();
  }
  return nb::steal<nb::tuple>(tuple);
}

nb::bytes encode_response(std::string_view key, int status, nb::handle headers, nb::bytes body,
                          std::optional<std::string_view> media_type, double stored_at,
                          std::int64_t last_modified, double lifetime, bool revalidate,
                          nb::handle tags, nb::handle vary, std::string_view secondary,
                          bool vary_index, double initial_age, double stale_while_revalidate,
                          double stale_if_error, bool unbounded, bool must_revalidate,
                          bool heuristic) {
  if (status < 100 || status > 999) throw nb::value_error("status must be an HTTP status code");
  constexpr const char* kHeadersType = "headers must be a sequence of (bytes, bytes) pairs";
  constexpr const char* kTagsType = "tags must be a sequence of str";

  codec::RecordView view;
  view.key = key;
  view.status = static_cast<std::uint16_t>(status);
  view.body = {body.c_str(), body.size()};
  view.media_type = media_type;
  view.stored_at = stored_at;
  view.last_modified = last_modified;
  view.lifetime = lifetime;
  view.revalidate = revalidate;
  view.vary_index = vary_index;
  view.secondary = secondary;
  view.initial_age = initial_age;
  view.stale_while_revalidate = stale_while_revalidate;
  view.stale_if_error = stale_if_error;
  view.unbounded = unbounded;
  view.must_revalidate = must_revalidate;
  view.heuristic = heuristic;

  // Everything the views point into, kept alive until the end of the call.
  nb::tuple header_items = as_tuple(headers, kHeadersType);
  const std::size_t header_count = nb::len(header_items);
  if (header_count > codec::kMaxHeaders) throw nb::value_error("too many header fields (at most 1024)");
  std::vector<nb::object> pairs;  // tuples made from non-tuple pairs
  view.headers.reserve(header_count);
  for (nb::handle item : header_items) {
    PyObject* pair = item.ptr();
    if (!PyTuple_Check(pair)) {
      if (PyUnicode_Check(pair) || PyBytes_Check(pair) || !PySequence_Check(pair)) {
        throw nb::type_error(kHeadersType);
      }
      pairs.push_back(as_tuple(item, kHeadersType));
      pair = pairs.back().ptr();
    }
    if (PyTuple_GET_SIZE(pair) != 2) throw nb::type_error(kHeadersType);
    const std::string_view name = bytes_view(PyTuple_GET_ITEM(pair, 0), "header names must be bytes");
    const std::string_view value = bytes_view(PyTuple_GET_ITEM(pair, 1), "header values must be bytes");
    view.headers.emplace_back(name, value);
  }

  nb::tuple tag_items = as_tuple(tags, kTagsType);
  const std::size_t tag_count = nb::len(tag_items);
  if (tag_count > codec::kMaxTags) throw nb::value_error("too many tags (at most 1024)");
  view.tags.reserve(tag_count);
  for (nb::handle tag : tag_items) view.tags.push_back(str_view(tag.ptr(), "tags must be str"));

  constexpr const char* kVaryType = "vary must be a sequence of str";
  nb::tuple vary_items = as_tuple(vary, kVaryType);
  if (nb::len(vary_items) > codec::kMaxVaryNames) throw nb::value_error("too many Vary names (at most 256)");
  for (nb::handle name : vary_items) view.vary.push_back(str_view(name.ptr(), kVaryType));

  if (const char* reason = codec::invalid_reason(view)) throw nb::value_error(reason);
  const std::size_t size = codec::encoded_size(view);
  if (size > static_cast<std::size_t>(PY_SSIZE_T_MAX)) throw nb::value_error("entry too large");
  PyObject* out = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(size));
  if (!out) throw nb::python_error();
  nb::bytes result = nb::steal<nb::bytes>(out);
  char* dst = PyBytes_AS_STRING(out);
  if (view.body.size() > kReleaseGilAbove) {
    // The inputs are immutable str/bytes objects referenced by the arguments
    // and the snapshots above; `result` is not visible to anyone else yet.
    nb::gil_scoped_release release;
    codec::encode_into(view, dst);
  } else {
    codec::encode_into(view, dst);
  }
  return result;
}

nb::bytes bytes_of(std::string_view s) {
  PyObject* obj = PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
  if (!obj) throw nb::python_error();
  return nb::steal<nb::bytes>(obj);
}

nb::str str_of(std::string_view s) {  // the codec has checked it is UTF-8
  PyObject* obj = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "strict");
  if (!obj) throw nb::python_error();
  return nb::steal<nb::str>(obj);
}

nb::object decode_response(nb::bytes data, std::string_view key,
                           std::optional<std::string_view> secondary) {
  const std::string_view raw(data.c_str(), data.size());
  std::optional<codec::RecordView> view;
  if (raw.size() > kReleaseGilAbove) {
    nb::gil_scoped_release release;  // `data` is immutable and referenced by the caller
    view = codec::decode(raw);
  } else {
    view = codec::decode(raw);
  }
  // Malformed, foreign, or another key's entry under a colliding digest; or
  // the variant of another request (the secondary keys differ).
  if (!view || view->key != key) return nb::none();
  if (secondary && !view->vary_index && view->secondary != *secondary) return nb::none();

  nb::object headers = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(view->headers.size())));
  if (!headers.is_valid()) throw nb::python_error();
  Py_ssize_t i = 0;
  for (const auto& [name, value] : view->headers) {
    nb::object pair = nb::make_tuple(bytes_of(name), bytes_of(value));
    PyTuple_SET_ITEM(headers.ptr(), i++, pair.release().ptr());
  }

  const std::string_view body_view = view->body;
  PyObject* body_obj = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(body_view.size()));
  if (!body_obj) throw nb::python_error();
  nb::bytes body = nb::steal<nb::bytes>(body_obj);
  if (!body_view.empty()) {
    char* dst = PyBytes_AS_STRING(body_obj);
    if (body_view.size() > kReleaseGilAbove) {
      nb::gil_scoped_release release;
      std::memcpy(dst, body_view.data(), body_view.size());
    } else {
      std::memcpy(dst, body_view.data(), body_view.size());
    }
  }

  nb::object media_type = view->media_type ? nb::object(str_of(*view->media_type)) : nb::none();

  nb::object tags = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(view->tags.size())));
  if (!tags.is_valid()) throw nb::python_error();
  i = 0;
  for (std::string_view tag : view->tags) {
    PyTuple_SET_ITEM(tags.ptr(), i++, str_of(tag).release().ptr());
  }

  nb::object vary = nb::steal(PyTuple_New(static_cast<Py_ssize_t>(view->vary.size())));
  if (!vary.is_valid()) throw nb::python_error();
  i = 0;
  for (std::string_view name : view->vary) {
    PyTuple_SET_ITEM(vary.ptr(), i++, str_of(name).release().ptr());
  }

  nb::object timing = nb::make_tuple(view->initial_age, view->stale_while_revalidate,
                                     view->stale_if_error, view->unbounded,
                                     view->must_revalidate, view->heuristic);
  return nb::make_tuple(view->status, headers, body, media_type, view->stored_at,
                        view->last_modified, view->lifetime, view->revalidate, tags, vary,
                        str_of(view->secondary), view->vary_index, timing);
}

}  // namespace

void bind_codec(nb::module_& m) {
  m.def("encode_response", &encode_response, nb::arg("key"), nb::arg("status"),
        nb::arg("headers"), nb::arg("body"), nb::arg("media_type").none(), nb::arg("stored_at"),
        nb::arg("last_modified"), nb::arg("lifetime"), nb::arg("revalidate"),
        nb::arg("tags") = nb::tuple(), nb::arg("vary") = nb::tuple(), nb::arg("secondary") = "",
        nb::arg("vary_index") = false, nb::arg("initial_age") = 0.0,
        nb::arg("stale_while_revalidate") = 0.0, nb::arg("stale_if_error") = 0.0,
        nb::arg("unbounded") = false, nb::arg("must_revalidate") = false,
        nb::arg("heuristic") = false,
        nb::sig("def encode_response(key: str, status: int, "
                "headers: collections.abc.Sequence[tuple[bytes, bytes]], body: bytes, "
                "media_type: str | None, stored_at: float, last_modified: int, lifetime: float, "
                "revalidate: bool, tags: collections.abc.Sequence[str] = (), "
                "vary: collections.abc.Sequence[str] = (), secondary: str = '', "
                "vary_index: bool = False, initial_age: float = 0.0, "
                "stale_while_revalidate: float = 0.0, stale_if_error: float = 0.0, "
                "unbounded: bool = False, must_revalidate: bool = False, "
                "heuristic: bool = False) -> bytes"),
        "A response in the versioned binary entry format of shared stores; `vary` and "
        "`secondary` make it the variant of `key` for one request (RFC 9111 section 4.1); "
        "`vary_index` marks a record that only names the Vary fields of `key`'s variants. "
        "Raises ValueError for what could not be decoded back (status outside 100..999, "
        "more than 1024 header fields or tags, more than 256 Vary names).");
  m.def("decode_response", &decode_response, nb::arg("data"), nb::arg("key"),
        nb::arg("secondary").none() = nb::none(),
        nb::sig("def decode_response(data: bytes, key: str, secondary: str | None = None) -> "
                "tuple[int, tuple[tuple[bytes, bytes], ...], bytes, str | None, float, int, "
                "float, bool, tuple[str, ...], tuple[str, ...], str, bool, "
                "tuple[float, float, float, bool, bool, bool]] | None"),
        "(status, headers, body, media_type, stored_at, last_modified, lifetime, revalidate, "
        "tags, vary, secondary, vary_index, (initial_age, stale_while_revalidate, "
        "stale_if_error, unbounded, must_revalidate, heuristic)) of an entry encoded by "
        "encode_response() for "
        "`key`; None when `data` is malformed, corrupt, of another format version, stored "
        "for another key, or (with `secondary`) a variant for another request.");
}

}  // namespace fcr::py
