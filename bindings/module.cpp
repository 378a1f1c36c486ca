#include "bindings.hpp"

NB_MODULE(_core, m) {
  m.doc() = "The C++ engine of fastapi-caching-route (store, keys, HTTP rules).";
  fcr::py::bind_store(m);
  fcr::py::bind_key(m);
  fcr::py::bind_http(m);
  fcr::py::bind_hit(m);
  fcr::py::bind_policy(m);
  fcr::py::bind_codec(m);
  fcr::py::bind_freshness(m);
}
