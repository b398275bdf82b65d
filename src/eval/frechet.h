// The Fréchet distance of FID between two sets of feature vectors, streamed: the sets are never held, only their
// running moments (2048-d Inception features: 2048 + 2048² doubles, 32 MB per set, however many images).
//   FID = ‖μ1 − μ2‖² + tr(Σ1) + tr(Σ2) − 2·tr(sqrtm(Σ1·Σ2)),  Σ the unbiased covariance (numpy.cov, N − 1).
// tr(sqrtm(Σ1·Σ2)) is computed as Σ_i sqrt(λ_i) with λ_i the eigenvalues of the symmetric A = Σ1^½·Σ2·Σ1^½ (the
// same eigenvalues as Σ1·Σ2; Σ1^½ from Σ1's eigendecomposition), with LAPACK's dsyevd (OpenBLAS ships LAPACK) in
// double; eigenvalues below zero, which rounding gives a rank-deficient covariance, count as zero. pytorch-fid takes
// scipy's sqrtm of the non-symmetric product instead (and its real part); the two agree to rounding (the parity
// test compares them, tests/golden/eval).
#pragma once

#include <cstdint>
#include <vector>

namespace bigcolor::eval {

class FeatureMoments {
 public:
  explicit FeatureMoments(std::int64_t dim);
  // rows (n, dim) row-major, float32 features.
  void add(const float* rows, std::int64_t n);
  std::int64_t count() const { return count_; }
  std::int64_t dim() const { return dim_; }
  std::vector<double> mean() const;
  std::vector<double> covariance() const;  // (dim, dim), unbiased; needs count ≥ 2

 private:
  // Moments about the first row seen (shift), which keeps Σ(x − s)(x − s)ᵀ − n·d·dᵀ free of the cancellation
  // that raw second moments of large-mean features would suffer.
  std::int64_t dim_, count_ = 0;
  std::vector<double> shift_, sum_, cross_;  // (dim), (dim), (dim, dim) upper triangle filled by dsyrk
};

double frechet_distance(const std::vector<double>& mu1, const std::vector<double>& sigma1,
                        const std::vector<double>& mu2, const std::vector<double>& sigma2);

// Eigenvalues (ascending) and, in `a`, the eigenvectors as columns of a symmetric n × n matrix (row-major; it is
// symmetric, so row- and column-major are the same matrix). LAPACK dsyevd.
std::vector<double> symmetric_eigen(std::vector<double>& a, int n);

}  // namespace bigcolor::eval
