// HTTP helpers: validators and Vary.
#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "fcr/conditional.hpp"
#include "fcr/http.hpp"
#include "fcr/vary.hpp"
#include "scope.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

// Hashing is linear in the body; above this size the GIL is released so other
// threads run meanwhile (below it, the release costs more than it saves).
constexpr std::size_t kReleaseGilAbove = 64 * 1024;

std::string etag_for(nb::bytes body) {
  std::string_view view(body.c_str(), body.size());
  if (view.size() < kReleaseGilAbove) return http::etag_for_body(view);
  nb::gil_scoped_release release;  // `body` is immutable and kept alive by the caller
  return http::etag_for_body(view);
}

std::pair<bool, std::vector<std::string>> vary_of(std::string_view value) {
  http::Vary v = http::parse_vary(value);
  return {v.star, std::move(v.names)};
}

std::string secondary_of(std::vector<std::string> names, nb::handle headers) {
  std::vector<HeaderView> views = header_views(headers.ptr());
  return vary::secondary_key(names, views);
}

std::pair<bool, std::vector<std::string>> secondary_names_of(std::vector<std::string> vary_lines,
                                                            std::vector<std::string> in_primary_key) {
  std::vector<std::string_view> lines(vary_lines.begin(), vary_lines.end());
  vary::SecondaryNames names = vary::secondary_names(lines, in_primary_key);
  return {names.star, std::move(names.names)};
}

}  // namespace

void bind_http(nb::module_& m) {
  m.def("etag_for_body", &etag_for, nb::arg("body"),
        "Strong ETag (quoted hex of a 128-bit hash) for a response body.");
  m.def("if_none_match_matches", &http::if_none_match_matches, nb::arg("if_none_match"),
        nb::arg("etag"), "Weak comparison of an If-None-Match field value against an ETag.");
  m.def("parse_vary", &vary_of, nb::arg("value"),
        "(star, names): a Vary value's names lower-cased and de-duplicated.");
  m.def("merge_vary", &http::merge_vary, nb::arg("existing"), nb::arg("extra"),
        "Merge names into a Vary value; '' when nothing is to be sent.");
  m.def("answers_range_request", &http::answers_range_request, nb::arg("status"),
        "Whether a stored response with this status may answer a Range request (a 200).");
  m.def("secondary_names", &secondary_names_of, nb::arg("vary_lines"), nb::arg("in_primary_key"),
        "(star, names) of a response's Vary field lines: the names a stored response must "
        "be matched on (lower-cased, de-duplicated), minus those already in the primary key.");
  m.def("secondary_key", &secondary_of, nb::arg("names"), nb::arg("headers"),
        nb::sig("def secondary_key(names: collections.abc.Sequence[str], "
                "headers: collections.abc.Sequence[tuple[bytes, bytes]]) -> str"),
        "The normalised values of `names` in request header fields (RFC 9111 section 4.1).");
}

}  // namespace fcr::py
