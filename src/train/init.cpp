#include "train/init.h"

#include <cblas.h>

#include <cmath>
#include <map>

#include "tensor/error.h"

namespace bigcolor::train {

std::vector<float> orthogonal_matrix(std::int64_t rows, std::int64_t cols, Rng& rng) {
  // Work on the tall orientation (m >= n): orthonormalize n columns of length m, stored column-major as q[j*m + i].
  const bool transpose = rows < cols;
  const std::int64_t m = transpose ? cols : rows, n = transpose ? rows : cols;
  std::vector<double> q(static_cast<std::size_t>(m * n));
  for (double& v : q) v = rng.normal();
  std::vector<double> coeff(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    double* col = q.data() + j * m;
    for (int pass = 0; pass < 2; ++pass) {  // classical Gram–Schmidt, reorthogonalized once (CGS2)
      if (j > 0) {
        // coeff = Q[:, :j]ᵀ col ; col -= Q[:, :j] coeff
        cblas_dgemv(CblasColMajor, CblasTrans, static_cast<int>(m), static_cast<int>(j), 1.0, q.data(),
                    static_cast<int>(m), col, 1, 0.0, coeff.data(), 1);
        cblas_dgemv(CblasColMajor, CblasNoTrans, static_cast<int>(m), static_cast<int>(j), -1.0, q.data(),
                    static_cast<int>(m), coeff.data(), 1, 1.0, col, 1);
      }
    }
    const double norm = cblas_dnrm2(static_cast<int>(m), col, 1);
    BIGCOLOR_CHECK(norm > 0.0, "orthogonal init: a degenerate random matrix (", rows, "x", cols, ")");
    // QR's R has a positive diagonal here by construction (norm > 0), which is torch's sign convention
    // (q *= sign(diag(r))): nothing to flip.
    cblas_dscal(static_cast<int>(m), 1.0 / norm, col, 1);
  }
  std::vector<float> out(static_cast<std::size_t>(rows * cols));
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < m; ++i) {
      const float v = static_cast<float>(q[static_cast<std::size_t>(j * m + i)]);
      // tall: out (rows = m, cols = n)[i][j]; wide: the transpose, out (rows = n, cols = m)[j][i]
      if (transpose) out[static_cast<std::size_t>(j * cols + i)] = v;
      else out[static_cast<std::size_t>(i * cols + j)] = v;
    }
  return out;
}

void init_orthogonal(Module& m, Rng& rng) {
  std::map<std::string, Tensor> state;
  for (const Module::NamedTensor& t : m.state()) state[t.name] = t.tensor;
  for (const Module::NamedTensor& t : m.state()) {  // state() order: deterministic draws
    const std::string& name = t.name;
    const auto ends_with = [&](const std::string& suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    const Tensor& v = t.tensor;
    if (ends_with("weight") && v.ndim() >= 2) {
      const std::int64_t rows = v.dim(0), cols = v.numel() / rows;
      v.copy_from(Tensor::from_vector(orthogonal_matrix(rows, cols, rng), v.shape()));
    } else if (ends_with(".bias") && v.ndim() == 1) {
      const auto weight = state.find(name.substr(0, name.size() - 4) + "weight");
      if (weight == state.end() || weight->second.ndim() < 2) continue;  // a norm's bias: keeps its 0
      const double bound = 1.0 / std::sqrt(static_cast<double>(weight->second.numel() / weight->second.dim(0)));
      Tensor host = Tensor::empty(v.shape());
      rng.fill_uniform(host, static_cast<float>(-bound), static_cast<float>(bound));
      v.copy_from(host);
    } else if (ends_with("u0")) {
      Tensor host = Tensor::empty(v.shape());
      rng.fill_normal(host, 0.0f, 1.0f);
      v.copy_from(host);
    } else if (ends_with("sv0")) {
      v.fill(1.0f);
    }
  }
}

}  // namespace bigcolor::train
