#include "cli/ranks.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include <omp.h>

#include "tensor/cuda_memory.h"
#include "tensor/error.h"

#ifdef BIGCOLOR_WITH_MPI
#include <mpi.h>
#endif

namespace bigcolor::cli {

void share_machine(const Ranks& ranks, Device device, int threads) {
  if (threads > 0)
    omp_set_num_threads(threads);
  else if (ranks.local_size() > 1)  // the ranks of one machine share its cores
    omp_set_num_threads(std::max(1, omp_get_num_procs() / ranks.local_size()));
  if (ranks.distributed() && device == Device::CUDA)  // one rank per GPU
    cuda::select_device(ranks.local_rank() % cuda::device_count());
}

namespace {

[[maybe_unused]] int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Whether a launcher (mpirun: OpenMPI's OMPI_COMM_WORLD_SIZE; PMI/PMIx launchers: MPICH's mpiexec, Slurm's srun)
// started this process.
[[maybe_unused]] bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

}  // namespace

Ranks& Ranks::world() {
  static Ranks ranks;
  return ranks;
}

#ifdef BIGCOLOR_WITH_MPI

Ranks::Ranks() {
  // A process started without mpirun is a run of one: MPI is not initialized at all (OpenMPI's singleton start
  // would spawn an orted daemon and cost a third of a second on every command).
  if (!launched_by_mpirun()) return;
  launched_ = true;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);  // OpenMP threads never call MPI
    initialized_here_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;  // the ranks sharing this machine's memory: its cores and GPUs are theirs to divide
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

Ranks::~Ranks() {
  if (initialized_here_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
}

std::vector<std::int64_t> Ranks::sum(const std::vector<std::int64_t>& values) const {
  if (size_ == 1) return values;  // also when MPI was never initialized (no mpirun)
  std::vector<std::int64_t> out(values.size());
  MPI_Allreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  return out;
}

std::vector<std::int64_t> Ranks::max(const std::vector<std::int64_t>& values) const {
  if (size_ == 1) return values;
  std::vector<std::int64_t> out(values.size());
  MPI_Allreduce(values.data(), out.data(), static_cast<int>(values.size()), MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

void Ranks::barrier() const {
  if (size_ > 1) MPI_Barrier(MPI_COMM_WORLD);
}

void Ranks::abort(int status) const {
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, status);
}

#else  // a build without MPI: one process, and a clear refusal when mpirun started several

Ranks::Ranks() {
  const int launched = std::max(env_int("OMPI_COMM_WORLD_SIZE", 1), env_int("PMI_SIZE", 1));
  BIGCOLOR_CHECK(launched <= 1, "this process is one of ", launched,
                 " ranks started by mpirun, but this bigcolor was built without MPI: rebuild with "
                 "-DBIGCOLOR_MPI=ON (Debian's libopenmpi-dev), or run it without mpirun");
}

Ranks::~Ranks() = default;

std::vector<std::int64_t> Ranks::sum(const std::vector<std::int64_t>& values) const { return values; }
std::vector<std::int64_t> Ranks::max(const std::vector<std::int64_t>& values) const { return values; }

void Ranks::barrier() const {}
void Ranks::abort(int) const {}

#endif

}  // namespace bigcolor::cli
