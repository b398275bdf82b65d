#include "layers/spectral_norm.h"

#include "kernels/ops.h"
#include "tensor/error.h"

namespace bigcolor {

void SpectralNorm::set_fixed(bool fixed) {
  fixed_.reset();
  fixing_ = fixed;
}

SpectralNorm::Result SpectralNorm::forward(bool training) {
  if (training) {
    fixed_.reset();  // training moves u0 (and the weights): a fixed W/σ no longer holds
    fixing_ = false;
  } else if (fixed_) {
    return *fixed_;
  }
  const Tensor& w = weight_.value;
  BIGCOLOR_CHECK(w.numel() > 0, "spectral norm of an empty weight ", w.describe());
  const std::int64_t rows = w.dim(0), cols = w.numel() / rows;
  const Device d = w.device();
  Tensor weight_sn = Tensor::empty(w.shape(), DType::F32, d);
  Tensor sigma = Tensor::empty({1}, DType::F32, d), u_new = Tensor::empty({rows}, DType::F32, d);
  Tensor v = Tensor::empty({cols}, DType::F32, d);
  ops::spectral_norm_forward(weight_sn.reshape({rows, cols}), sigma, u_new, v, w.reshape({rows, cols}),
                             u0_.reshape({rows}), eps_);
  if (training) {  // the power iteration's state advances only in training, as the official W_()
    u0_.copy_from(u_new.reshape(u0_.shape()));
    sv0_.copy_from(sigma.reshape(sv0_.shape()));
  }
  Result result{weight_sn, {sigma, u_new, v}};
  if (fixing_ && !training) {  // the first eval forward after set_fixed(true): keep it (layers never run keep none)
    weight_sn.mark_immutable();
    fixed_ = result;
  }
  return result;
}

void SpectralNorm::backward(const Tensor& d_weight, const Tensor& d_weight_sn, const Saved& saved) {
  const std::int64_t rows = weight_.value.dim(0), cols = weight_.value.numel() / rows;
  if (d_weight.defined())  // frozen: nothing to accumulate
    ops::spectral_norm_backward(d_weight.reshape({rows, cols}), d_weight_sn.reshape({rows, cols}),
                              weight_.value.reshape({rows, cols}), saved.u_new, saved.v, saved.sigma);
}

}  // namespace bigcolor
