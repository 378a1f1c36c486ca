// Store binding: payloads are arbitrary Python objects kept by reference, so a
// hit hands back the very object that was stored (no copy of the body).
#include <nanobind/nanobind.h>
#include <nanobind/stl/string_view.h>

#include <cmath>
#include <stdexcept>

#include "bindings.hpp"
#include "fcr/store.hpp"

namespace nb = nanobind;

namespace fcr::py {
namespace {

struct PyPayload final : Payload {
  explicit PyPayload(nb::object v) : value(std::move(v)) {}
  nb::object value;
};

// Releasing payloads drops Python references, which needs the GIL; every
// binding call holds it, and the engine hands released payloads back only
// after its shard locks are gone.
class PyStore {
 public:
  PyStore(std::size_t max_bytes, std::size_t max_entries, std::size_t shards)
      : store_(make_config(max_bytes, max_entries, shards)) {}

  std::uint32_t namespace_id(std::string_view name) { return store_.namespace_id(name); }

  bool put(std::uint32_t ns, std::string_view key, nb::object value, std::size_t charge,
           double ttl) {
    if (std::isnan(ttl)) throw nb::value_error("ttl must be a number");
    Released released;
    auto payload = std::make_shared<PyPayload>(std::move(value));
    return store_.put(ns, key, std::move(payload), charge, ttl, released);
  }

  nb::object get(std::uint32_t ns, std::string_view key) {
    Released released;
    PayloadPtr found = store_.get(ns, key, released);
    if (!found) return nb::none();
    return static_cast<const PyPayload&>(*found).value;
  }

  std::size_t erase(std::uint32_t ns, std::string_view key) {
    Released released;
    return store_.erase(ns, key, released);
  }

  std::size_t clear(std::uint32_t ns) { return store_.clear(ns); }

  std::size_t clear_all() {
    Released released;
    return store_.clear_all(released);
  }

  std::size_t sweep(std::size_t budget) {
    Released released;
    return store_.sweep(budget, released);
  }

  nb::dict stats() const {
    StoreStats s = store_.stats();
    nb::dict d;
    d["hits"] = s.hits;
    d["misses"] = s.misses;
    d["inserts"] = s.inserts;
    d["updates"] = s.updates;
    d["evictions"] = s.evictions;
    d["expirations"] = s.expirations;
    d["deletes"] = s.deletes;
    d["collisions"] = s.collisions;
    d["rejections"] = s.rejections;
    d["bytes"] = s.bytes;
    d["entries"] = s.entries;
    d["max_bytes"] = store_.config().max_bytes;
    d["max_entries"] = store_.config().max_entries;
    return d;
  }

 private:
  static StoreConfig make_config(std::size_t max_bytes, std::size_t max_entries,
                                 std::size_t shards) {
    if (max_bytes == 0) throw nb::value_error("max_bytes must be positive");
    if (shards == 0) throw nb::value_error("shards must be positive");
    return StoreConfig{max_bytes, max_entries, shards};
  }

  Store store_;
};

}  // namespace

void bind_store(nb::module_& m) {
  nb::class_<PyStore>(m, "Store",
                      "Sharded, bounded in-process store of Python objects keyed by "
                      "(namespace id, canonical key).")
      .def(nb::init<std::size_t, std::size_t, std::size_t>(), nb::arg("max_bytes"),
           nb::arg("max_entries") = 0, nb::arg("shards") = 16)
      .def("namespace_id", &PyStore::namespace_id, nb::arg("name"),
           "Id of a namespace, created on first use.")
      .def("put", &PyStore::put, nb::arg("ns"), nb::arg("key"), nb::arg("value"),
           nb::arg("charge"), nb::arg("ttl"),
           "Store `value` under `key`; `ttl` <= 0 never expires. False if it cannot fit.")
      .def("get", &PyStore::get, nb::arg("ns"), nb::arg("key"),
           nb::sig("def get(self, ns: int, key: str) -> typing.Any"),
           "The stored object itself, or None.")
      .def("erase", &PyStore::erase, nb::arg("ns"), nb::arg("key"),
           "Remove one key; returns the number of entries removed (0 or 1).")
      .def("clear", &PyStore::clear, nb::arg("ns"),
           "Drop a namespace in O(1); returns how many entries it had.")
      .def("clear_all", &PyStore::clear_all, "Drop everything; returns the count removed.")
      .def("sweep", &PyStore::sweep, nb::arg("budget"),
           "Reclaim up to `budget` expired entries per shard.")
      .def("stats", &PyStore::stats, nb::sig("def stats(self) -> dict[str, int]"),
           "Counters and sizes.");
}

}  // namespace fcr::py
