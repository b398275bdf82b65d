#include "layers/spectral_norm.h"

#include "kernels/ops.h"
#include "tensor/error.h"

namespace bigcolor {

Tensor SpectralNorm::forward(bool training, bool keep_for_backward) {
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
  if (keep_for_backward) {
    sigma_ = sigma;
    u_new_ = u_new;
    v_ = v;
  }
  return weight_sn;
}

void SpectralNorm::discard() { sigma_ = u_new_ = v_ = Tensor{}; }

void SpectralNorm::backward(const Tensor& d_weight_sn) {
  BIGCOLOR_CHECK(sigma_.defined(), "spectral norm: backward without a saved forward");
  const std::int64_t rows = weight_.value.dim(0), cols = weight_.value.numel() / rows;
  if (weight_.grad.defined())  // frozen: nothing to accumulate
    ops::spectral_norm_backward(weight_.grad.reshape({rows, cols}), d_weight_sn.reshape({rows, cols}),
                              weight_.value.reshape({rows, cols}), u_new_, v_, sigma_);
  sigma_ = u_new_ = v_ = Tensor{};
}

}  // namespace bigcolor
