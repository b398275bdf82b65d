#include "cli/process_groups.h"

#include <chrono>
#include <string>
#include <thread>

#include "tensor/error.h"

#ifdef BIGCOLOR_WITH_MPI
#include <mpi.h>
#endif

namespace bigcolor::cli {

#ifdef BIGCOLOR_WITH_NCCL
// nccl_group.cpp: NCCL for CUDA tensors, `host` for the rest.
std::unique_ptr<train::ProcessGroup> make_nccl_group(std::unique_ptr<train::ProcessGroup> host, int local_rank,
                                                     double timeout_seconds);
#endif

#ifdef BIGCOLOR_WITH_MPI

namespace {

// MPI over MPI_COMM_WORLD. Nonblocking collectives polled against a deadline: MPI's blocking calls would wait
// forever for a rank that stopped answering.
class MpiGroup final : public train::ProcessGroup {
 public:
  MpiGroup(const Ranks& ranks, double timeout_seconds) : ranks_(ranks), timeout_(timeout_seconds) {}
  int rank() const override { return ranks_.rank(); }
  int size() const override { return ranks_.size(); }

  void broadcast(const Tensor& t, int root) override {
    with_host_copy(t, [&](float* p) {
      MPI_Request request;
      MPI_Ibcast(p, count(t), MPI_FLOAT, root, MPI_COMM_WORLD, &request);
      wait(request, "a broadcast of weights");
    });
  }

  void all_reduce_sum(const Tensor& t) override {
    with_host_copy(t, [&](float* p) {
      MPI_Request request;
      MPI_Iallreduce(MPI_IN_PLACE, p, count(t), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &request);
      wait(request, "the all-reduce of gradients");
    });
  }

  // CPU tensors: MPI_Iallreduce, progressed by poll() (OpenMPI moves nonblocking collectives inside its calls) and
  // completed by wait(). CUDA tensors (a build without NCCL) go through the host at once.
  std::unique_ptr<Pending> start_all_reduce_sum(const Tensor& t) override {
    if (t.device() != Device::CPU) return ProcessGroup::start_all_reduce_sum(t);
    auto pending = std::make_unique<MpiPending>(*this);
    MPI_Iallreduce(MPI_IN_PLACE, t.data<float>(), count(t), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &pending->request);
    return pending;
  }

  void all_reduce_sum(std::vector<double>& values) override {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD,
                   &request);
    wait(request, "an all-reduce of step values");
  }

  void all_reduce_sum(std::vector<std::int64_t>& values) override {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD,
                   &request);
    wait(request, "an all-reduce of step values");
  }

  void broadcast(std::string& bytes, int root) override {
    long long length = static_cast<long long>(bytes.size());
    MPI_Request request;
    MPI_Ibcast(&length, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD, &request);
    wait(request, "a broadcast of metadata");
    bytes.resize(static_cast<std::size_t>(length));
    MPI_Ibcast(bytes.data(), static_cast<int>(length), MPI_CHAR, root, MPI_COMM_WORLD, &request);
    wait(request, "a broadcast of metadata");
  }

 private:
  static int count(const Tensor& t) {
    BIGCOLOR_CHECK(t.dtype() == DType::F32 && t.numel() <= (1ll << 31) - 1, "MPI collective: ", t.describe());
    return static_cast<int>(t.numel());
  }

  // CPU tensors in place; CUDA tensors through a host copy (a build without NCCL).
  template <typename F>
  static void with_host_copy(const Tensor& t, F&& f) {
    if (t.device() == Device::CPU) {
      f(t.data<float>());
      return;
    }
    const Tensor host = t.to(Device::CPU);
    f(host.data<float>());
    t.copy_from(host);
  }

  // Polls until the collective completes, or throws after the deadline. MPI_Test also drives OpenMPI's progress.
  void wait(MPI_Request& request, const char* what) const {
    const auto start = std::chrono::steady_clock::now();
    for (int polls = 0;; ++polls) {
      int done = 0;
      MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      if (done) return;
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > timeout_)
        throw Error("rank " + std::to_string(rank()) + " waited " + std::to_string(static_cast<int>(timeout_)) +
                    " s for the other ranks in " + what +
                    " (a rank died, hangs or is somewhere else in the run); stopping every rank (the limit is "
                    "--rank-timeout)");
      // Spin briefly (a step's collectives are usually met within microseconds), then sleep between polls.
      if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  class MpiPending final : public Pending {
   public:
    explicit MpiPending(const MpiGroup& group) : group_(group) {}
    void poll() override {
      int done = 0;
      if (!done_) MPI_Test(&request, &done, MPI_STATUS_IGNORE);
      done_ = done_ || done != 0;
    }
    void wait() override {
      if (!done_) group_.wait(request, "the all-reduce of gradients");
      done_ = true;
    }
    MPI_Request request = MPI_REQUEST_NULL;

   private:
    const MpiGroup& group_;
    bool done_ = false;
  };

  const Ranks& ranks_;
  double timeout_;
};

}  // namespace

std::unique_ptr<train::ProcessGroup> make_process_group(const Ranks& ranks, Device device, double timeout_seconds) {
  if (!ranks.launched()) return nullptr;
  BIGCOLOR_CHECK(timeout_seconds > 0, "--rank-timeout ", timeout_seconds, " is not positive");
  auto host = std::make_unique<MpiGroup>(ranks, timeout_seconds);
#ifdef BIGCOLOR_WITH_NCCL
  if (device == Device::CUDA) return make_nccl_group(std::move(host), ranks.local_rank(), timeout_seconds);
#else
  (void)device;
#endif
  return host;
}

#else  // no MPI: one process only (Ranks refuses a launch as one of several)

std::unique_ptr<train::ProcessGroup> make_process_group(const Ranks& ranks, Device, double) {
  BIGCOLOR_CHECK(!ranks.launched(), "this build has no MPI");
  return nullptr;
}

#endif

const char* tensor_transport(Device device) {
#ifdef BIGCOLOR_WITH_NCCL
  if (device == Device::CUDA) return "nccl";
#endif
  return device == Device::CUDA ? "mpi (through host memory)" : "mpi";
}

}  // namespace bigcolor::cli
