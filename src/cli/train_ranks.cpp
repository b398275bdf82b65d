#include "cli/train_ranks.h"

#include <bit>

#include "cli/ranks.h"

namespace bigcolor::cli {

void TrainRanks::require_same(const std::string& what, const std::string& text) const {
  if (!group_) return;
  // The fingerprint in 62 bits, so that a sum of one rank's value and zeros never overflows.
  const std::int64_t mine = static_cast<std::int64_t>(train::fingerprint(text) >> 2);
  std::vector<std::int64_t> values(static_cast<std::size_t>(size()), 0);
  values[static_cast<std::size_t>(rank())] = mine;
  group_->all_reduce_sum(values);
  std::string differing;
  for (int r = 1; r < size(); ++r)
    if (values[static_cast<std::size_t>(r)] != values[0]) differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (!differing.empty())
    throw CommonError("the ranks disagree on " + what + ": rank" + (differing.find(',') == std::string::npos ? " " : "s ") +
                      differing + " differ from rank 0; every rank must run the same command on the same files");
}

bool TrainRanks::all(bool mine) const {
  if (!group_) return mine;
  std::vector<std::int64_t> v{mine ? 1 : 0};
  group_->all_reduce_sum(v);
  return v[0] == size();
}

bool TrainRanks::any(bool mine) const {
  if (!group_) return mine;
  std::vector<std::int64_t> v{mine ? 1 : 0};
  group_->all_reduce_sum(v);
  return v[0] > 0;
}

std::vector<train::RankProgress> TrainRanks::gather(const train::RankProgress& mine) const {
  if (!group_) return {mine};
  constexpr std::size_t kFields = 5;
  std::vector<std::int64_t> v(kFields * static_cast<std::size_t>(size()), 0);
  std::int64_t* slot = v.data() + kFields * static_cast<std::size_t>(rank());
  slot[0] = mine.data_cursor;
  slot[1] = static_cast<std::int64_t>(mine.rng_seed);  // two's complement: the sum with zeros keeps the bits
  slot[2] = static_cast<std::int64_t>(mine.rng.counter);
  slot[3] = static_cast<std::int64_t>(mine.rng.next_word) | (mine.rng.has_spare_normal ? std::int64_t{1} << 40 : 0);
  slot[4] = static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(mine.rng.spare_normal));
  group_->all_reduce_sum(v);
  std::vector<train::RankProgress> out(static_cast<std::size_t>(size()));
  for (std::size_t r = 0; r < out.size(); ++r) {
    const std::int64_t* s = v.data() + kFields * r;
    out[r].data_cursor = s[0];
    out[r].rng_seed = static_cast<std::uint64_t>(s[1]);
    out[r].rng.counter = static_cast<std::uint64_t>(s[2]);
    out[r].rng.next_word = static_cast<std::uint32_t>(s[3] & 0xffffffff);
    out[r].rng.has_spare_normal = (s[3] >> 40) & 1;
    out[r].rng.spare_normal = std::bit_cast<float>(static_cast<std::uint32_t>(s[4]));
  }
  return out;
}

train::SkippedImages TrainRanks::sum(const train::SkippedImages& mine) const {
  if (!group_) return mine;
  std::vector<std::int64_t> v{mine.unreadable, mine.low_colorfulness};
  group_->all_reduce_sum(v);
  train::SkippedImages out = mine;
  out.unreadable = v[0];
  out.low_colorfulness = v[1];
  return out;
}

}  // namespace bigcolor::cli
