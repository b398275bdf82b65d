// The argument checks shared by the op dispatchers (see op_checks.h).
#include "kernels/op_checks.h"

#include <string>

namespace bigcolor::ops::detail {

Device check_common(const char* op, std::initializer_list<Arg> args, std::initializer_list<const char*> required) {
  for (const char* r : required)
    for (const Arg& a : args)
      if (std::string(a.name) == r) BIGCOLOR_CHECK(a.t.defined(), op, ": ", r, " is required");
  const Tensor* first = nullptr;
  const char* first_name = "";
  for (const Arg& a : args) {
    if (!a.t.defined()) continue;
    if (std::string(a.name) != "indices")
      BIGCOLOR_CHECK(a.t.dtype() == DType::F32, op, ": ", a.name, " ", a.t.describe(), " must be F32");
    if (first == nullptr) {
      first = &a.t;
      first_name = a.name;
    } else {
      BIGCOLOR_CHECK(a.t.device() == first->device(), op, ": ", a.name, " is on ", device_name(a.t.device()),
                     " but ", first_name, " is on ", device_name(first->device()));
    }
  }
  return first ? first->device() : Device::CPU;
}

void check_shape(const char* op, const char* name, const Tensor& t, const Shape& expected) {
  if (!t.defined()) return;
  BIGCOLOR_CHECK(t.shape() == expected, op, ": ", name, " has shape ", shape_string(t.shape()), ", expected ",
                 shape_string(expected));
}

void check_ndim(const char* op, const char* name, const Tensor& t, int ndim) {
  BIGCOLOR_CHECK(t.ndim() == ndim, op, ": ", name, " must have ", ndim, " dimensions, got ", t.describe());
}

void check_same_shape(const char* op, std::initializer_list<Arg> args) {
  const Tensor* first = nullptr;
  const char* first_name = "";
  for (const Arg& a : args) {
    if (!a.t.defined()) continue;
    if (first == nullptr) {
      first = &a.t;
      first_name = a.name;
    } else {
      BIGCOLOR_CHECK(a.t.shape() == first->shape(), op, ": ", a.name, " ", shape_string(a.t.shape()),
                     " and ", first_name, " ", shape_string(first->shape()), " differ");
    }
  }
}

void check_scalar(const char* op, const char* name, const Tensor& t) {
  if (!t.defined()) return;
  BIGCOLOR_CHECK(t.numel() == 1, op, ": ", name, " must hold one element, got ", t.describe());
}

}  // namespace bigcolor::ops::detail
