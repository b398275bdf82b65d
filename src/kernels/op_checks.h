// Internal to src/kernels: the argument checks that every op dispatcher runs, and the dispatch macro.
#pragma once

#include <initializer_list>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/error.h"
#include "tensor/tensor.h"
#ifdef BIGCOLOR_WITH_CUDA
#include "kernels/cuda/cuda_ops.h"
#endif

// Runs the same call on the backend of `device`.
#ifdef BIGCOLOR_WITH_CUDA
#define BIGCOLOR_DISPATCH(device, call) \
  do {                                  \
    if ((device) == Device::CUDA) {     \
      cuda::call;                       \
    } else {                            \
      cpu::call;                        \
    }                                   \
  } while (0)
#else
#define BIGCOLOR_DISPATCH(device, call) \
  do {                                  \
    (void)(device);                     \
    cpu::call;                          \
  } while (0)
#endif

namespace bigcolor::ops::detail {

// A named argument for the checks' messages.
struct Arg {
  const char* name;
  const Tensor& t;
};

// All defined tensors among `args` must be F32 (except one named "indices", which the caller checks) and on one
// device; the `required` ones must be defined. Returns that device.
Device check_common(const char* op, std::initializer_list<Arg> args, std::initializer_list<const char*> required);
// A defined `t` must have exactly the `expected` shape.
void check_shape(const char* op, const char* name, const Tensor& t, const Shape& expected);
void check_ndim(const char* op, const char* name, const Tensor& t, int ndim);
// All defined tensors among `args` have one shape.
void check_same_shape(const char* op, std::initializer_list<Arg> args);
// A defined `t` holds exactly one element.
void check_scalar(const char* op, const char* name, const Tensor& t);

}  // namespace bigcolor::ops::detail
