// The processes of one `mpirun -np N bigcolor ...` run (Debian's OpenMPI; -DBIGCOLOR_MPI=AUTO|ON|OFF). Only the
// command-line tool links MPI; the library stays free of it.
//
// `colorize` runs on several ranks (its inputs are sharded, every result is written exactly once, rank 0 prints
// the summary), and `train` (data parallelism, cli/process_groups.h); the other commands refuse to. Without MPI in the build, a launch as one of several ranks
// (mpirun's OMPI_COMM_WORLD_SIZE / PMI_SIZE in the environment) is an Error saying how to rebuild, never N
// processes silently doing the same work.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/error.h"

namespace bigcolor::cli {

class Ranks {
 public:
  // Initializes MPI on first use (when built with it), finalizes at exit.
  static Ranks& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among the ranks of this machine
  int local_size() const { return local_size_; }
  bool distributed() const { return size_ > 1; }
  bool launched() const { return launched_; }  // started by mpirun (MPI is initialized), even as its only rank

  // Element-wise sum over all ranks; every rank gets the result (a no-op on one rank).
  std::vector<std::int64_t> sum(const std::vector<std::int64_t>& values) const;
  std::vector<std::int64_t> max(const std::vector<std::int64_t>& values) const;
  void barrier() const;
  // Ends every rank now (MPI_Abort): after an error that the other ranks may not share, so that none waits forever
  // in a collective that this one will never join. Returns (does nothing) on one rank.
  void abort(int status) const;

  ~Ranks();
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

 private:
  Ranks();
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool initialized_here_ = false;
  bool launched_ = false;
};

// An error that every rank meets at the same point of the run with the same message (a refused configuration):
// rank 0 alone reports it, and every rank exits with status 1 normally (no MPI_Abort: nobody is left waiting).
class CommonError : public Error {
 public:
  using Error::Error;
};

// The ranks of one machine share it: each computes on its own GPU (local rank modulo the GPUs) or on its share of
// the cores (`threads` > 0: exactly that many OpenMP threads).
void share_machine(const Ranks& ranks, Device device, int threads);

// Which rank colorizes input `index` of `count` when the inputs are dealt out in order (the caller groups inputs
// that could write the same file under one index, so that one rank sees all of them).
inline bool owns(const Ranks& r, std::size_t index) { return static_cast<int>(index % r.size()) == r.rank(); }

}  // namespace bigcolor::cli
