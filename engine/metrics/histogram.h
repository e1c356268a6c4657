#pragma once
// Histogram: a log-linear (HDR-style) histogram of non-negative integer
// values, used for latencies in microseconds.
//
// Contract:
//  * Values in [0, kMaxValue] are recorded with a relative error below
//    1/2048 (better than 3 significant digits); larger values are clamped to
//    kMaxValue and counted (clamped_count()). kMaxValue is one hour in us.
//    Values below 4096 are exact.
//  * value_at_percentile(p) returns the smallest recorded-bucket value v such
//    that at least p% of recorded values are <= v (reported as the highest
//    value equivalent to that bucket, clamped to max()), exactly as a sorted
//    array would within the bucket resolution: the reference is the value at
//    rank ceil(p/100 * count()), at least 1. p=0 gives min(), p=100 max().
//  * merge() is exact: merging A and B equals recording A's and B's values
//    into one histogram. Counts, min, max and sum are exact (sum wraps only
//    past 2^64 us, about 584,000 years of latency).
//  * Storage is allocated lazily, one 16 KiB chunk per power-of-two range of
//    values actually seen, so empty histograms (idle tasks, idle workers) cost
//    a few bytes and a typical latency histogram a few chunks rather than the
//    ~350 KiB a flat table over [0, 1 h] would take. record() allocates only
//    the first time a value lands in a new range.
//  * A moved-from histogram is empty.
// Thread-safety: none; one owner at a time (workers hand histograms to the
// collector by moving them).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json_fwd.hpp>

namespace loadpilot::metrics {

class Histogram {
 public:
  static constexpr std::uint64_t kMaxValue = 3'600'000'000ULL;  // 1 h in us
  static constexpr int kSubBucketBits = 11;                     // 2048 sub-buckets

  Histogram() = default;
  Histogram(const Histogram& other);
  Histogram& operator=(const Histogram& other);
  Histogram(Histogram&& other) noexcept;
  Histogram& operator=(Histogram&& other) noexcept;
  ~Histogram() = default;

  // `count` == 0 is a no-op.
  void record(std::uint64_t value, std::uint64_t count = 1);
  void merge(const Histogram& other);
  void reset();

  std::uint64_t count() const { return total_; }
  bool empty() const { return total_ == 0; }
  std::uint64_t min() const { return total_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return total_ ? static_cast<double>(sum_) / total_ : 0.0; }
  std::uint64_t sum() const { return sum_; }
  std::uint64_t clamped_count() const { return clamped_; }
  std::uint64_t value_at_percentile(double percentile) const;

  // Calls f(value, count) for every non-empty bucket in ascending order,
  // with the bucket's lowest equivalent value.
  template <typename F>
  void for_each_bucket(F&& f) const {
    if (!chunks_) return;
    for (std::size_t c = 0; c < kChunkCount; ++c) {
      const std::uint64_t* chunk = chunks_[c].get();
      if (chunk == nullptr) continue;
      for (std::size_t i = 0; i < kChunkSize; ++i)
        if (chunk[i] != 0) f(lowest_equivalent((c << kChunkBits) + i), chunk[i]);
    }
  }

  // Same count in every bucket and same min, max, sum and clamped count.
  bool operator==(const Histogram& other) const;

  // Sparse, lossless serialization: {"v":[bucket values...],"c":[counts...],
  // "min","max","sum","clamped"}. "v" holds each non-empty bucket's lowest
  // equivalent value, ascending. Used for results files and agents.
  // from_json throws std::invalid_argument naming the bad field.
  nlohmann::json to_json() const;
  static Histogram from_json(const nlohmann::json& j);

  // Index <-> value mapping, exposed for tests. Values are grouped by
  // bit_width: [0, 4096) map one-to-one; each higher power-of-two range
  // [2^k, 2^(k+1)) is split into 2048 equal buckets. index_of clamps values
  // above kMaxValue.
  static constexpr std::size_t index_of(std::uint64_t value) {
    return index_unclamped(std::min(value, kMaxValue));
  }
  static constexpr std::uint64_t lowest_equivalent(std::size_t index) {
    const int shift = shift_of_index(index);
    return static_cast<std::uint64_t>(index - (static_cast<std::size_t>(shift) << kSubBucketBits))
           << shift;
  }
  static constexpr std::uint64_t highest_equivalent(std::size_t index) {
    return lowest_equivalent(index) + (std::uint64_t{1} << shift_of_index(index)) - 1;
  }
  static constexpr std::size_t bucket_count() { return index_unclamped(kMaxValue) + 1; }

 private:
  static constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << kSubBucketBits;
  static constexpr std::uint64_t kExactLimit = 2 * kSubBuckets;  // below: one bucket per value
  static constexpr int kChunkBits = kSubBucketBits;
  static constexpr std::size_t kChunkSize = std::size_t{1} << kChunkBits;
  // The last bucket is index_unclamped(kMaxValue), spelled out because the
  // member functions are not usable in constants before the class is complete.
  static constexpr int kMaxShift = std::bit_width(kMaxValue) - (kSubBucketBits + 1);
  static constexpr std::size_t kChunkCount =
      ((std::size_t{kMaxShift} << kSubBucketBits) + (kMaxValue >> kMaxShift)) / kChunkSize + 1;

  // OR-ing in kExactLimit - 1 makes every value below kExactLimit share
  // shift 0, so the index is one shift, one add and no branch.
  static constexpr std::size_t index_unclamped(std::uint64_t v) {
    const int shift = std::bit_width(v | (kExactLimit - 1)) - (kSubBucketBits + 1);
    return (static_cast<std::size_t>(shift) << kSubBucketBits) +
           static_cast<std::size_t>(v >> shift);
  }
  static constexpr int shift_of_index(std::size_t index) {
    const int group = static_cast<int>(index >> kSubBucketBits);
    return group > 1 ? group - 1 : 0;
  }

  std::uint64_t* add_chunk(std::size_t chunk);  // allocates table and/or chunk

  // chunks_[i] holds buckets [i * kChunkSize, (i + 1) * kChunkSize); null
  // until a value lands there. The table itself is null while empty.
  std::unique_ptr<std::unique_ptr<std::uint64_t[]>[]> chunks_;
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();  // valid when total_ > 0
  std::uint64_t max_ = 0;
  std::uint64_t clamped_ = 0;
};

// Inline: this runs once per request on the workers' hot path.
inline void Histogram::record(std::uint64_t value, std::uint64_t count) {
  if (count == 0) [[unlikely]]
    return;
  clamped_ += value > kMaxValue ? count : 0;
  value = std::min(value, kMaxValue);
  const std::size_t i = index_unclamped(value);
  std::uint64_t* chunk = chunks_ ? chunks_[i >> kChunkBits].get() : nullptr;
  if (chunk == nullptr) [[unlikely]]
    chunk = add_chunk(i >> kChunkBits);
  chunk[i & (kChunkSize - 1)] += count;
  total_ += count;
  sum_ += value * count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

}  // namespace loadpilot::metrics
