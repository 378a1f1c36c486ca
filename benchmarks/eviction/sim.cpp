// The eviction simulator of benchmark scenario 6: replays seeded traces
// through a single-shard fcr::Store per policy and prints one JSON object per
// (trace, capacity, policy) line with the miss count, after a first line
// naming the store's default policy and the trace sizes. A miss is followed by a
// put of the key, as the response cache does. `python -m benchmarks.eviction`
// builds and runs it and prints the table.
//
//   fcr_eviction_sim [--keys N] [--requests N] [--seed N]
//                    [--small F] [--ghost F] [--max-freq N] [--promote N]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fcr/store.hpp"
#include "zipf_trace.hpp"

namespace {

struct Blob final : fcr::Payload {};

struct Options {
  std::size_t keys = 100000;
  std::size_t requests = 2000000;
  std::uint64_t seed = 42;
  fcr::S3FifoParams s3fifo;
};

struct Policy {
  const char* name;
  fcr::EvictionPolicy kind;
};
constexpr Policy kPolicies[] = {
    {"lru", fcr::EvictionPolicy::lru},
    {"sieve", fcr::EvictionPolicy::sieve},
    {"s3fifo", fcr::EvictionPolicy::s3fifo},
};

// Payload bytes of a key in the variable-size traces: 64 B to 8 KiB, spread
// evenly over powers of two and independent of popularity.
std::size_t size_of(std::uint32_t id) {
  fcr::trace::SplitMix64 mix(id);
  return std::size_t{64} << (mix.next() % 8);
}

std::uint64_t replay(const std::vector<std::uint32_t>& trace, const std::vector<std::string>& keys,
                     bool sized, fcr::StoreConfig config) {
  config.shards = 1;
  fcr::Store store(config);
  const auto ns = store.namespace_id("sim");
  const auto blob = std::make_shared<const Blob>();
  fcr::Released released;
  std::uint64_t misses = 0;
  for (const std::uint32_t id : trace) {
    if (store.get(ns, keys[id], released) != nullptr) continue;
    ++misses;
    store.put(ns, keys[id], blob, sized ? size_of(id) : 0, 0, released);
    if (released.size() > 1024) released.clear();
  }
  return misses;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* flag = argv[i];
    const char* value = argv[i + 1];
    if (std::strcmp(flag, "--keys") == 0) {
      o.keys = std::strtoull(value, nullptr, 10);
    } else if (std::strcmp(flag, "--requests") == 0) {
      o.requests = std::strtoull(value, nullptr, 10);
    } else if (std::strcmp(flag, "--seed") == 0) {
      o.seed = std::strtoull(value, nullptr, 10);
    } else if (std::strcmp(flag, "--small") == 0) {
      o.s3fifo.small_fraction = std::strtod(value, nullptr);
    } else if (std::strcmp(flag, "--ghost") == 0) {
      o.s3fifo.ghost_ratio = std::strtod(value, nullptr);
    } else if (std::strcmp(flag, "--max-freq") == 0) {
      o.s3fifo.max_freq = static_cast<std::uint8_t>(std::atoi(value));
    } else if (std::strcmp(flag, "--promote") == 0) {
      o.s3fifo.promote_reads = static_cast<std::uint8_t>(std::atoi(value));
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && o.keys > 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: %s [--keys N] [--requests N] [--seed N] [--small F] [--ghost F] "
                 "[--max-freq N] [--promote N]\n", argv[0]);
    return 2;
  }
  struct Trace {
    const char* name;
    double alpha;
    bool scan;
    bool burst;  // the scan in one block, else interleaved
    bool sized;  // variable sizes and a byte budget, else a count budget
  };
  const Trace traces[] = {
      {"zipf 0.9", 0.9, false, false, false},
      {"zipf 1.1", 1.1, false, false, false},
      {"zipf 1.0 + one-pass scan (interleaved)", 1.0, true, false, false},
      {"zipf 1.0 + one-pass scan (one burst)", 1.0, true, true, false},
      {"zipf 0.9, 64 B-8 KiB sizes", 0.9, false, false, true},
  };
  const double percents[] = {1, 10};

  std::vector<std::string> keys(2 * o.keys);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = "/items/" + std::to_string(i);
  std::size_t catalog_bytes = 0;  // what every Zipf key would charge at once
  for (std::uint32_t i = 0; i < o.keys; ++i) catalog_bytes += size_of(i) + keys[i].size() + fcr::kEntryOverhead;

  const fcr::EvictionPolicy standard = fcr::StoreConfig{}.policy;
  const char* standard_name = "?";
  for (const Policy& p : kPolicies) {
    if (p.kind == standard) standard_name = p.name;
  }
  std::printf("{\"default\": \"%s\", \"keys\": %zu, \"requests\": %zu, \"seed\": %llu}\n", standard_name,
              o.keys, o.requests, static_cast<unsigned long long>(o.seed));

  for (const Trace& t : traces) {
    const auto trace = fcr::trace::make(
        {.keys = o.keys, .requests = o.requests, .alpha = t.alpha, .scan = t.scan ? o.keys : 0,
                           .scan_burst = t.burst, .seed = o.seed});
    for (const double pct : percents) {
      fcr::StoreConfig config{.s3fifo = o.s3fifo};
      std::size_t capacity = 0;
      if (t.sized) {
        capacity = static_cast<std::size_t>(static_cast<double>(catalog_bytes) * pct / 100);
        config.max_bytes = capacity;
      } else {
        capacity = static_cast<std::size_t>(static_cast<double>(o.keys) * pct / 100);
        config.max_bytes = std::size_t{1} << 62;
        config.max_entries = capacity;
      }
      for (const Policy& p : kPolicies) {
        config.policy = p.kind;
        const std::uint64_t misses = replay(trace, keys, t.sized, config);
        std::printf("{\"trace\": \"%s\", \"capacity_pct\": %g, \"budget\": \"%s\", \"capacity\": %zu, "
                    "\"policy\": \"%s\", \"requests\": %zu, \"misses\": %llu}\n",
                    t.name, pct, t.sized ? "bytes" : "entries", capacity, p.name, trace.size(),
                    static_cast<unsigned long long>(misses));
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
