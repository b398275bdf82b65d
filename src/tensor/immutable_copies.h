// Copies that an engine derives once from an immutable tensor (Tensor::mark_immutable: a loaded model's fixed W/σ)
// and then reuses: the CPU's oneDNN engine keeps the weights reordered to bf16 in its blocked layouts
// (cpu/dnnl_engine.cpp), the CUDA engine keeps them converted to bf16 / fp16 (cuda/lowp_engine.cu). One Value per
// source storage and Key (the layout, the format); all of a storage's copies are dropped when the storage is freed
// (through add_immutable_release_hook, one hook per instantiation). Thread-safe; a copy made twice by two threads at
// once is kept twice, harmlessly.
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace bigcolor {

template <typename Key, typename Value>
class ImmutableCopies {
 public:
  // The copy of `source` (immutable) under `key`: the kept one, else make() (run outside the lock), then kept.
  template <typename Make>
  static Value get(const Tensor& source, const Key& key, Make make) {
    static const bool hooked = (add_immutable_release_hook(&drop), true);
    (void)hooked;
    State& s = state();
    {
      const std::lock_guard<std::mutex> lock(s.mutex);
      for (const auto& [k, v] : s.entries[source.storage_id()])
        if (k == key) return v;
    }
    Value copy = make();
    const std::lock_guard<std::mutex> lock(s.mutex);
    s.entries[source.storage_id()].emplace_back(key, copy);
    return copy;
  }

 private:
  struct State {
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::vector<std::pair<Key, Value>>> entries;
  };

  static State& state() {
    static State* s = new State;  // never destroyed: storages die in other static destructors
    return *s;
  }

  static void drop(std::uint64_t storage_id) {
    State& s = state();
    std::vector<std::pair<Key, Value>> dropped;  // destroyed after the lock is released
    const std::lock_guard<std::mutex> lock(s.mutex);
    const auto it = s.entries.find(storage_id);
    if (it == s.entries.end()) return;
    dropped = std::move(it->second);
    s.entries.erase(it);
  }
};

}  // namespace bigcolor
