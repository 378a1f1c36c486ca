// Each bound area registers itself on the module from its own file.
#pragma once

#include <nanobind/nanobind.h>

namespace fcr::py {

void bind_store(nanobind::module_& m);
void bind_key(nanobind::module_& m);
void bind_http(nanobind::module_& m);
void bind_hit(nanobind::module_& m);
void bind_policy(nanobind::module_& m);
void bind_codec(nanobind::module_& m);
void bind_freshness(nanobind::module_& m);

}  // namespace fcr::py
