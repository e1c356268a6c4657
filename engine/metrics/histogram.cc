#include "metrics/histogram.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>

namespace loadpilot::metrics {

namespace {

using Table = std::unique_ptr<std::unique_ptr<std::uint64_t[]>[]>;

// A non-negative literal parsed from text is unsigned; one built in C++ from
// a signed int is not, so accept both when >= 0.
std::uint64_t as_u64(const nlohmann::json& x, const std::string& what) {
  if (x.is_number_unsigned()) return x.get<std::uint64_t>();
  if (x.is_number_integer() && x.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(x.get<std::int64_t>());
  throw std::invalid_argument("histogram: " + what + " must be a non-negative integer (got " +
                              x.dump() + ")");
}

std::uint64_t field_u64(const nlohmann::json& j, const char* field) {
  const auto it = j.find(field);
  const std::string what = std::string("\"") + field + "\"";
  if (it == j.end()) throw std::invalid_argument("histogram: missing " + what);
  return as_u64(*it, what);
}

}  // namespace

Histogram::Histogram(const Histogram& other)
    : total_(other.total_),
      sum_(other.sum_),
      min_(other.min_),
      max_(other.max_),
      clamped_(other.clamped_) {
  if (!other.chunks_) return;
  for (std::size_t c = 0; c < kChunkCount; ++c) {
    const std::uint64_t* src = other.chunks_[c].get();
    if (src == nullptr) continue;
    std::copy(src, src + kChunkSize, add_chunk(c));
  }
}

Histogram& Histogram::operator=(const Histogram& other) {
  if (this != &other) *this = Histogram(other);
  return *this;
}

Histogram::Histogram(Histogram&& other) noexcept
    : chunks_(std::move(other.chunks_)),
      total_(other.total_),
      sum_(other.sum_),
      min_(other.min_),
      max_(other.max_),
      clamped_(other.clamped_) {
  other.reset();
}

Histogram& Histogram::operator=(Histogram&& other) noexcept {
  if (this != &other) {
    chunks_ = std::move(other.chunks_);
    total_ = other.total_;
    sum_ = other.sum_;
    min_ = other.min_;
    max_ = other.max_;
    clamped_ = other.clamped_;
    other.reset();
  }
  return *this;
}

std::uint64_t* Histogram::add_chunk(std::size_t chunk) {
  static_assert(kChunkCount == (bucket_count() + kChunkSize - 1) / kChunkSize);
  if (!chunks_) chunks_ = std::make_unique<std::unique_ptr<std::uint64_t[]>[]>(kChunkCount);
  auto& slot = chunks_[chunk];
  if (!slot) slot = std::make_unique<std::uint64_t[]>(kChunkSize);  // zero-filled
  return slot.get();
}

void Histogram::merge(const Histogram& other) {
  if (other.total_ == 0) return;
  for (std::size_t c = 0; c < kChunkCount; ++c) {
    const std::uint64_t* src = other.chunks_ ? other.chunks_[c].get() : nullptr;
    if (src == nullptr) continue;
    std::uint64_t* dst = add_chunk(c);
    for (std::size_t i = 0; i < kChunkSize; ++i) dst[i] += src[i];
  }
  total_ += other.total_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  clamped_ += other.clamped_;
}

void Histogram::reset() {
  chunks_.reset();
  total_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<std::uint64_t>::max();
  max_ = 0;
  clamped_ = 0;
}

std::uint64_t Histogram::value_at_percentile(double percentile) const {
  if (total_ == 0) return 0;
  if (!(percentile > 0.0)) return min_;  // also catches NaN
  if (percentile >= 100.0) return max_;
  const double wanted = std::ceil(percentile / 100.0 * static_cast<double>(total_));
  const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  if (rank >= total_) return max_;
  std::uint64_t seen = 0;
  for (std::size_t c = 0; c < kChunkCount; ++c) {
    const std::uint64_t* chunk = chunks_[c].get();
    if (chunk == nullptr) continue;
    for (std::size_t i = 0; i < kChunkSize; ++i) {
      seen += chunk[i];
      if (seen >= rank) return std::min(highest_equivalent((c << kChunkBits) + i), max_);
    }
  }
  return max_;  // unreachable while the bucket counts sum to total_
}

bool Histogram::operator==(const Histogram& other) const {
  if (total_ != other.total_ || sum_ != other.sum_ || min() != other.min() || max_ != other.max_ ||
      clamped_ != other.clamped_)
    return false;
  for (std::size_t c = 0; c < kChunkCount; ++c) {
    const std::uint64_t* a = chunks_ ? chunks_[c].get() : nullptr;
    const std::uint64_t* b = other.chunks_ ? other.chunks_[c].get() : nullptr;
    for (std::size_t i = 0; (a || b) && i < kChunkSize; ++i)
      if ((a ? a[i] : 0) != (b ? b[i] : 0)) return false;
  }
  return true;
}

nlohmann::json Histogram::to_json() const {
  auto values = nlohmann::json::array();
  auto counts = nlohmann::json::array();
  for_each_bucket([&](std::uint64_t value, std::uint64_t count) {
    values.push_back(value);
    counts.push_back(count);
  });
  return {{"v", std::move(values)},
          {"c", std::move(counts)},
          {"min", min()},
          {"max", max_},
          {"sum", sum_},
          {"clamped", clamped_}};
}

Histogram Histogram::from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument("histogram: expected an object, got " + j.dump());
  const auto v = j.find("v");
  const auto c = j.find("c");
  if (v == j.end() || c == j.end() || !v->is_array() || !c->is_array())
    throw std::invalid_argument("histogram: \"v\" and \"c\" must be arrays");
  if (v->size() != c->size())
    throw std::invalid_argument("histogram: \"v\" has " + std::to_string(v->size()) +
                                " entries but \"c\" has " + std::to_string(c->size()));
  Histogram h;
  std::size_t lowest = bucket_count(), highest = 0;
  for (std::size_t k = 0; k < v->size(); ++k) {
    const std::string at = "[" + std::to_string(k) + "]";
    const std::uint64_t value = as_u64((*v)[k], "\"v\"" + at);
    const std::uint64_t count = as_u64((*c)[k], "\"c\"" + at);
    if (value > kMaxValue)
      throw std::invalid_argument("histogram: \"v\"" + at + " exceeds " +
                                  std::to_string(kMaxValue) + " (got " + std::to_string(value) +
                                  ")");
    if (count == 0) continue;
    // Counts that add up past 2^64 would wrap the total (to 0: an empty
    // histogram) instead of describing one histogram.
    if (count > std::numeric_limits<std::uint64_t>::max() - h.total_)
      throw std::invalid_argument("histogram: \"c\" adds up to more than 2^64 - 1 values");
    const std::size_t i = index_of(value);
    h.add_chunk(i >> kChunkBits)[i & (kChunkSize - 1)] += count;
    h.total_ += count;
    lowest = std::min(lowest, i);
    highest = std::max(highest, i);
  }
  h.sum_ = field_u64(j, "sum");
  h.clamped_ = field_u64(j, "clamped");
  if (h.total_ == 0) {
    if (h.sum_ != 0 || h.clamped_ != 0)
      throw std::invalid_argument("histogram: \"sum\" or \"clamped\" is set but \"c\" is empty");
    return Histogram();
  }
  h.min_ = field_u64(j, "min");
  h.max_ = field_u64(j, "max");
  // min and max must fall in the lowest and highest non-empty buckets, or
  // the data does not describe one histogram.
  if (h.min_ > kMaxValue || index_of(h.min_) != lowest)
    throw std::invalid_argument("histogram: \"min\" " + std::to_string(h.min_) +
                                " is not in the lowest non-empty bucket");
  if (h.max_ > kMaxValue || index_of(h.max_) != highest)
    throw std::invalid_argument("histogram: \"max\" " + std::to_string(h.max_) +
                                " is not in the highest non-empty bucket");
  if (h.clamped_ > h.total_)
    throw std::invalid_argument("histogram: \"clamped\" " + std::to_string(h.clamped_) +
                                " exceeds the total count " + std::to_string(h.total_));
  return h;
}

}  // namespace loadpilot::metrics
