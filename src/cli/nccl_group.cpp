// NCCL for the CUDA tensors of data-parallel training (cli/process_groups.h), bootstrapped over MPI as llm.c does:
// rank 0 makes the ncclUniqueId, MPI broadcasts it, every rank joins with ncclCommInitRank. Collectives run on the
// default stream, where the kernels run, so they are ordered after the backward that produced the gradients.
// NCCL has no deadline of its own: each collective is polled (cudaStreamQuery, ncclCommGetAsyncError) and, past the
// deadline, the communicator is aborted and an Error thrown.
// Compiled only with BIGCOLOR_WITH_NCCL (CUDA backend + NCCL + MPI).
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "tensor/cuda_memory.h"
#include "tensor/error.h"
#include "train/process_group.h"

namespace bigcolor::cli {

namespace {

void check_nccl(ncclResult_t result, const char* what) {
  if (result != ncclSuccess && result != ncclInProgress)
    throw Error(std::string("NCCL: ") + what + ": " + ncclGetErrorString(result));
}

class NcclGroup final : public train::ProcessGroup {
 public:
  NcclGroup(std::unique_ptr<train::ProcessGroup> host, double timeout_seconds)
      : host_(std::move(host)), timeout_(timeout_seconds) {
    ncclUniqueId id{};
    if (host_->rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    std::string bytes(reinterpret_cast<const char*>(&id), sizeof id);
    host_->broadcast(bytes, 0);
    BIGCOLOR_CHECK(bytes.size() == sizeof id, "NCCL: the communicator id did not arrive whole");
    std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(&id));
    check_nccl(ncclCommInitRank(&comm_, host_->size(), id, host_->rank()), "ncclCommInitRank");
  }
  ~NcclGroup() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
  }
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }

  void broadcast(const Tensor& t, int root) override {
    if (t.device() != Device::CUDA) return host_->broadcast(t, root);
    check_nccl(ncclBroadcast(t.raw(), t.raw(), static_cast<std::size_t>(t.numel()), ncclFloat, root, comm_, nullptr),
               "ncclBroadcast");
    wait("a broadcast of weights");
  }
  void all_reduce_sum(const Tensor& t) override {
    if (t.device() != Device::CUDA) return host_->all_reduce_sum(t);
    check_nccl(ncclAllReduce(t.raw(), t.raw(), static_cast<std::size_t>(t.numel()), ncclFloat, ncclSum, comm_, nullptr),
               "ncclAllReduce");
    wait("the all-reduce of gradients");
  }
  void all_reduce_sum(std::vector<double>& values) override { host_->all_reduce_sum(values); }
  void all_reduce_sum(std::vector<std::int64_t>& values) override { host_->all_reduce_sum(values); }
  void broadcast(std::string& bytes, int root) override { host_->broadcast(bytes, root); }

 private:
  void wait(const char* what) {
    const auto start = std::chrono::steady_clock::now();
    while (true) {
      const cudaError_t state = cudaStreamQuery(nullptr);
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(state));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      check_nccl(async, what);
      if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_) {
        ncclCommAbort(comm_);
        comm_ = nullptr;
        throw Error("rank " + std::to_string(rank()) + " waited " + std::to_string(static_cast<int>(timeout_)) +
                    " s for the other ranks in " + what + " (NCCL); stopping every rank (the limit is --rank-timeout)");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  std::unique_ptr<train::ProcessGroup> host_;
  double timeout_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<train::ProcessGroup> make_nccl_group(std::unique_ptr<train::ProcessGroup> host, int /*local_rank*/,
                                                     double timeout_seconds) {
  return std::make_unique<NcclGroup>(std::move(host), timeout_seconds);
}

}  // namespace bigcolor::cli
