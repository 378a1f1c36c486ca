// Reading an ASGI HTTP scope without building Starlette objects.
#pragma once

#include <nanobind/nanobind.h>

#include <string_view>
#include <vector>

#include "fcr/key.hpp"

namespace fcr::py {

std::string_view str_view(PyObject* obj, const char* what);
std::string_view bytes_view(PyObject* obj, const char* what);

// A str's UTF-8 bytes; a str holding lone surrogates is encoded with
// surrogatepass into `holder`, whose bytes the view then points into.
std::string_view any_str_view(PyObject* obj, const char* what, nanobind::object& holder);

// scope['query_string'], empty when absent.
std::string_view scope_query(PyObject* scope);

// A required scope item (borrowed reference).
PyObject* scope_item(PyObject* scope, const char* name);

// Views into the scope's header byte strings; valid while the scope is alive.
std::vector<HeaderView> header_views(PyObject* headers);

// Canonical key of the request a scope describes; `method` replaces the scope's
// when not empty (HEAD is answered from the GET entry).
std::string canonical_key(const KeySpec& spec, PyObject* scope, std::string_view method,
                          const std::vector<HeaderView>* headers);

}  // namespace fcr::py
