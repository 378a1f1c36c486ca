// Deterministic request traces for eviction tests and the eviction benchmark
// (benchmarks/eviction): Zipf-distributed key ids, optionally with a one-pass
// scan of fresh keys mixed in. Same seed, same trace, on every platform with
// IEEE doubles (the golden miss counts of eviction_test.cpp depend on it).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fcr::trace {

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, good enough for traces.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) from the top 53 bits.
  double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

// Ids 0..keys-1 with P(id k) proportional to 1 / (k + 1)^alpha, drawn by
// inverting the cumulative distribution.
class Zipf {
 public:
  Zipf(std::size_t keys, double alpha) : cdf_(keys) {
    double total = 0;
    for (std::size_t k = 0; k < keys; ++k) {
      total += 1.0 / std::pow(static_cast<double>(k + 1), alpha);
      cdf_[k] = total;
    }
    for (double& c : cdf_) c /= total;
  }
  std::uint32_t draw(SplitMix64& rng) const {
    const double u = rng.uniform();
    const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<std::uint32_t>(std::min<std::size_t>(it - cdf_.begin(), cdf_.size() - 1));
  }

 private:
  std::vector<double> cdf_;
};

struct Spec {
  std::size_t keys = 10000;      // distinct Zipf keys (ids 0..keys-1)
  std::size_t requests = 100000; // Zipf requests
  double alpha = 1.0;
  std::size_t scan = 0;  // fresh ids keys..keys+scan-1, each requested once
  bool scan_burst = false;  // the scan in one block, else one scan id per Zipf request
  std::uint64_t seed = 42;
};

// The Zipf requests and the scan (if any), which starts a quarter of the way
// in, either as one block or interleaved one for one with the Zipf requests.
// The trace has requests + scan entries.
inline std::vector<std::uint32_t> make(const Spec& spec) {
  SplitMix64 rng(spec.seed);
  const Zipf zipf(spec.keys, spec.alpha);
  std::vector<std::uint32_t> out;
  out.reserve(spec.requests + spec.scan);
  std::size_t scanned = 0;
  for (std::size_t i = 0; i < spec.requests; ++i) {
    out.push_back(zipf.draw(rng));
    if (i + 1 == spec.requests / 4 && spec.scan_burst) {
      while (scanned < spec.scan) out.push_back(static_cast<std::uint32_t>(spec.keys + scanned++));
    } else if (i >= spec.requests / 4 && scanned < spec.scan) {
      out.push_back(static_cast<std::uint32_t>(spec.keys + scanned++));
    }
  }
  while (scanned < spec.scan) out.push_back(static_cast<std::uint32_t>(spec.keys + scanned++));
  return out;
}

}  // namespace fcr::trace
