// NCCL for the CUDA tensors of data-parallel training (cli/process_groups.h), bootstrapped over MPI as llm.c does:
// rank 0 makes the ncclUniqueId, MPI broadcasts it, every rank joins with ncclCommInitRank.
// Streams: the kernels run on the default stream. Every NCCL call runs on a stream of its own (non-blocking, so the
// legacy default stream does not serialize with it), after an event recorded on the default stream when it was
// started: it sees the finished gradients, and the backward's next kernels run while it communicates. wait()
// completes it and makes the default stream wait for it.
// NCCL has no deadline of its own: wait() polls (cudaEventQuery, ncclCommGetAsyncError) and, past the deadline,
// aborts the communicator and throws Error.
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
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  }
  ~NcclGroup() override {
    if (comm_ != nullptr) ncclCommDestroy(comm_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }

  void broadcast(const Tensor& t, int root) override {
    if (t.device() != Device::CUDA) return host_->broadcast(t, root);
    after_default_stream();
    check_nccl(ncclBroadcast(t.raw(), t.raw(), static_cast<std::size_t>(t.numel()), ncclFloat, root, comm_, stream_),
               "ncclBroadcast");
    NcclPending(*this, "a broadcast of weights").wait();
  }
  void all_reduce_sum(const Tensor& t) override { start_all_reduce_sum(t)->wait(); }
  std::unique_ptr<Pending> start_all_reduce_sum(const Tensor& t) override {
    if (t.device() != Device::CUDA) return host_->start_all_reduce_sum(t);
    after_default_stream();
    check_nccl(ncclAllReduce(t.raw(), t.raw(), static_cast<std::size_t>(t.numel()), ncclFloat, ncclSum, comm_, stream_),
               "ncclAllReduce");
    return std::make_unique<NcclPending>(*this, "the all-reduce of gradients");
  }
  void all_reduce_sum(std::vector<double>& values) override { host_->all_reduce_sum(values); }
  void all_reduce_sum(std::vector<std::int64_t>& values) override { host_->all_reduce_sum(values); }
  void broadcast(std::string& bytes, int root) override { host_->broadcast(bytes, root); }

 private:
  static void check_cuda(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
  }

  // The next NCCL call starts after everything queued on the default stream so far.
  void after_default_stream() {
    cudaEvent_t queued = nullptr;
    check_cuda(cudaEventCreateWithFlags(&queued, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(queued, nullptr), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(stream_, queued, 0), "cudaStreamWaitEvent");
    cudaEventDestroy(queued);  // released once the wait has been satisfied
  }

  // The NCCL call queued last on the group's stream.
  class NcclPending final : public Pending {
   public:
    NcclPending(NcclGroup& group, const char* what) : group_(group), what_(what) {
      check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreate");
      check_cuda(cudaEventRecord(done_, group_.stream_), "cudaEventRecord");
    }
    ~NcclPending() override { cudaEventDestroy(done_); }
    NcclPending(const NcclPending&) = delete;
    NcclPending& operator=(const NcclPending&) = delete;

    void wait() override {
      const auto start = std::chrono::steady_clock::now();
      while (true) {
        const cudaError_t state = cudaEventQuery(done_);
        if (state == cudaSuccess) break;
        if (state != cudaErrorNotReady) check_cuda(state, what_);
        ncclResult_t async = ncclSuccess;
        ncclCommGetAsyncError(group_.comm_, &async);
        check_nccl(async, what_);
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > group_.timeout_) {
          ncclCommAbort(group_.comm_);
          group_.comm_ = nullptr;
          throw Error("rank " + std::to_string(group_.rank()) + " waited " +
                      std::to_string(static_cast<int>(group_.timeout_)) + " s for the other ranks in " + what_ +
                      " (NCCL); stopping every rank (the limit is --rank-timeout)");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      check_cuda(cudaStreamWaitEvent(nullptr, done_, 0), "cudaStreamWaitEvent");  // later kernels see the result
    }

   private:
    NcclGroup& group_;
    const char* what_;
    cudaEvent_t done_ = nullptr;
  };

  std::unique_ptr<train::ProcessGroup> host_;
  double timeout_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

std::unique_ptr<train::ProcessGroup> make_nccl_group(std::unique_ptr<train::ProcessGroup> host, int /*local_rank*/,
                                                     double timeout_seconds) {
  return std::make_unique<NcclGroup>(std::move(host), timeout_seconds);
}

}  // namespace bigcolor::cli
