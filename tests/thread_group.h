// An in-process ProcessGroup (train/process_group.h) for the tests: N ranks are N threads of this process, each
// with its own trainer, meeting in shared memory. It is the reference of the distributed-training tests: the MPI
// run of `bigcolor train` must give what these threads give.
//
// Each collective: every rank publishes a pointer to its data, a barrier, every rank reads what it needs (a sum is
// added in rank order 0, 1, ..., so every rank gets bit-identical results), a barrier, then each writes its own.
#pragma once

#include <barrier>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tensor/error.h"
#include "train/process_group.h"

namespace bigcolor::test {

class ThreadHub {
 public:
  explicit ThreadHub(int size) : size_(size), barrier_(size), slots_(static_cast<std::size_t>(size)) {}
  int size() const { return size_; }

  // Runs body(rank) on `size` threads and waits for all; the first exception is rethrown here.
  void run(const std::function<void(int rank)>& body) {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size_));
    std::vector<std::thread> threads;
    for (int r = 0; r < size_; ++r)
      threads.emplace_back([&, r] {
        try {
          body(r);
        } catch (...) {
          errors[static_cast<std::size_t>(r)] = std::current_exception();
        }
      });
    for (std::thread& t : threads) t.join();
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
  }

 private:
  friend class ThreadGroup;
  int size_;
  std::barrier<> barrier_;
  std::vector<const void*> slots_;
};

class ThreadGroup final : public train::ProcessGroup {
 public:
  ThreadGroup(ThreadHub& hub, int rank) : hub_(hub), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return hub_.size(); }

  void broadcast(const Tensor& t, int root) override {
    BIGCOLOR_CHECK(t.device() == Device::CPU && t.dtype() == DType::F32, "ThreadGroup: CPU F32 tensors only");
    exchange(t.raw(), [&] {
      if (rank_ != root) std::memcpy(t.raw(), slot(root), t.nbytes());
    }, /*write_after=*/false);
  }
  void all_reduce_sum(const Tensor& t) override {
    BIGCOLOR_CHECK(t.device() == Device::CPU && t.dtype() == DType::F32, "ThreadGroup: CPU F32 tensors only");
    sum_into(t.data<float>(), static_cast<std::size_t>(t.numel()));
  }
  void all_reduce_sum(std::vector<double>& values) override { sum_into(values.data(), values.size()); }
  void all_reduce_sum(std::vector<std::int64_t>& values) override { sum_into(values.data(), values.size()); }
  void broadcast(std::string& bytes, int root) override {
    std::string copy;
    exchange(&bytes, [&] { copy = *static_cast<const std::string*>(slot(root)); }, /*write_after=*/true);
    bytes = copy;
    hub_.barrier_.arrive_and_wait();
  }

 private:
  const void* slot(int r) const { return hub_.slots_[static_cast<std::size_t>(r)]; }

  // Publish, barrier, read, barrier. write_after: the caller writes its own data after a further barrier.
  template <typename Read>
  void exchange(const void* mine, Read&& read, bool write_after) {
    hub_.slots_[static_cast<std::size_t>(rank_)] = mine;
    hub_.barrier_.arrive_and_wait();
    read();
    if (!write_after) hub_.barrier_.arrive_and_wait();
  }

  template <typename T>
  void sum_into(T* data, std::size_t n) {
    std::vector<T> total(n, T{0});
    exchange(data, [&] {
      for (int r = 0; r < size(); ++r) {
        const T* p = static_cast<const T*>(slot(r));
        for (std::size_t i = 0; i < n; ++i) total[i] += p[i];
      }
    }, /*write_after=*/true);
    hub_.barrier_.arrive_and_wait();  // every rank has read every rank's data: now each may overwrite its own
    std::copy(total.begin(), total.end(), data);
  }

  ThreadHub& hub_;
  int rank_;
};

}  // namespace bigcolor::test
