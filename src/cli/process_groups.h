// The transports of data-parallel training (train/process_group.h) for `mpirun -np N bigcolor train`:
//   - MPI (Debian's OpenMPI) for CPU tensors and for every host value (losses, flags, metadata);
//   - NCCL for CUDA tensors when the build has it (BIGCOLOR_WITH_NCCL), its communicator bootstrapped over MPI as
//     llm.c does (rank 0's ncclUniqueId broadcast); without NCCL, CUDA tensors travel through host copies and MPI.
// Every collective has a deadline (`timeout_seconds`): when the other ranks have not all joined it in that time (a
// rank died, hangs, or waits somewhere else), this rank throws Error naming the collective, and the command ends the
// whole job (MPI_Abort), so no rank waits forever.
#pragma once

#include <memory>

#include "cli/ranks.h"
#include "tensor/dtype.h"
#include "train/process_group.h"

namespace bigcolor::cli {

// Null for a process that mpirun did not start. Under mpirun a group even of one rank (`mpirun -np 1`: its
// collectives are identities, but they run, so one GPU exercises the NCCL path). Error: MPI or NCCL could not set the
// group up.
std::unique_ptr<train::ProcessGroup> make_process_group(const Ranks& ranks, Device device, double timeout_seconds);

// Which transport the group uses for tensors, for the log: "mpi", "nccl" or "mpi (through host memory)".
const char* tensor_transport(Device device);

}  // namespace bigcolor::cli
