#include "eval/frechet.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

// LAPACK (Fortran calling convention), from OpenBLAS: the symmetric eigensolver, divide and conquer.
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
                        double* work, const int* lwork, int* iwork, const int* liwork, int* info);

namespace bigcolor::eval {

FeatureMoments::FeatureMoments(std::int64_t dim)
    : dim_(dim), shift_(dim), sum_(dim), cross_(static_cast<std::size_t>(dim * dim)) {
  BIGCOLOR_CHECK(dim > 0, "FeatureMoments: dimension ", dim);
}

void FeatureMoments::add(const float* rows, std::int64_t n) {
  if (n <= 0) return;
  if (count_ == 0)
    for (std::int64_t j = 0; j < dim_; ++j) shift_[j] = rows[j];
  std::vector<double> centred(static_cast<std::size_t>(n * dim_));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < dim_; ++j) {
      const double d = static_cast<double>(rows[i * dim_ + j]) - shift_[j];
      centred[i * dim_ + j] = d;
      sum_[j] += d;
    }
  // cross (upper) += centredᵀ · centred
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, static_cast<int>(dim_), static_cast<int>(n), 1.0,
              centred.data(), static_cast<int>(dim_), 1.0, cross_.data(), static_cast<int>(dim_));
  count_ += n;
}

std::vector<double> FeatureMoments::mean() const {
  BIGCOLOR_CHECK(count_ > 0, "the mean of no features");
  std::vector<double> mu(dim_);
  for (std::int64_t j = 0; j < dim_; ++j) mu[j] = shift_[j] + sum_[j] / static_cast<double>(count_);
  return mu;
}

std::vector<double> FeatureMoments::covariance() const {
  BIGCOLOR_CHECK(count_ >= 2, "a covariance needs at least 2 feature vectors, got ", count_);
  const double n = static_cast<double>(count_);
  std::vector<double> cov(static_cast<std::size_t>(dim_ * dim_));
  for (std::int64_t i = 0; i < dim_; ++i)
    for (std::int64_t j = i; j < dim_; ++j) {
      const double c = (cross_[i * dim_ + j] - sum_[i] * sum_[j] / n) / (n - 1);
      cov[i * dim_ + j] = c;
      cov[j * dim_ + i] = c;
    }
  return cov;
}

std::vector<double> symmetric_eigen(std::vector<double>& a, int n) {
  BIGCOLOR_CHECK(static_cast<std::int64_t>(a.size()) == static_cast<std::int64_t>(n) * n, "symmetric_eigen: ",
                 a.size(), " values for a ", n, "x", n, " matrix");
  std::vector<double> w(n);
  const char jobz = 'V', uplo = 'U';
  int lwork = -1, liwork = -1, info = 0, iwork_size = 0;
  double work_size = 0;
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), &work_size, &lwork, &iwork_size, &liwork, &info);
  BIGCOLOR_CHECK(info == 0, "dsyevd workspace query failed (info ", info, ")");
  lwork = static_cast<int>(work_size);
  liwork = iwork_size;
  std::vector<double> work(static_cast<std::size_t>(lwork));
  std::vector<int> iwork(static_cast<std::size_t>(liwork));
  dsyevd_(&jobz, &uplo, &n, a.data(), &n, w.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  BIGCOLOR_CHECK(info == 0, "dsyevd did not converge (info ", info, ")");
  return w;
}

double frechet_distance(const std::vector<double>& mu1, const std::vector<double>& sigma1,
                        const std::vector<double>& mu2, const std::vector<double>& sigma2) {
  const std::size_t d = mu1.size();
  BIGCOLOR_CHECK(d > 0 && mu2.size() == d && sigma1.size() == d * d && sigma2.size() == d * d,
                 "frechet_distance: the two sets' moments have different dimensions");
  const int n = static_cast<int>(d);
  double diff = 0, trace = 0;
  for (std::size_t i = 0; i < d; ++i) {
    diff += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
    trace += sigma1[i * d + i] + sigma2[i * d + i];
  }
  // Σ1^½ = V·diag(sqrt(max(λ, 0)))·Vᵀ. LAPACK returns V column-major; read as row-major that is Vᵀ.
  std::vector<double> v = sigma1;
  const std::vector<double> lambda = symmetric_eigen(v, n);
  std::vector<double> scaled(d * d);  // row-major B: row k = λ_k^¼ · v_k, so Bᵀ·B = Σ_k sqrt(λ_k)·v_k·v_kᵀ
  for (std::size_t k = 0; k < d; ++k) {
    const double s = std::sqrt(std::sqrt(std::max(lambda[k], 0.0)));
    for (std::size_t j = 0; j < d; ++j) scaled[k * d + j] = v[k * d + j] * s;
  }
  std::vector<double> root(d * d);  // Σ1^½ = Bᵀ·B
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, n, 1.0, scaled.data(), n, scaled.data(), n, 0.0,
              root.data(), n);
  std::vector<double> tmp(d * d), a(d * d);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, root.data(), n, sigma2.data(), n, 0.0,
              tmp.data(), n);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, tmp.data(), n, root.data(), n, 0.0, a.data(),
              n);
  for (std::size_t i = 0; i < d; ++i)  // symmetrize against rounding before the symmetric solver
    for (std::size_t j = i + 1; j < d; ++j) a[i * d + j] = a[j * d + i] = 0.5 * (a[i * d + j] + a[j * d + i]);
  double trace_root = 0;
  for (double l : symmetric_eigen(a, n)) trace_root += std::sqrt(std::max(l, 0.0));
  return diff + trace - 2.0 * trace_root;
}

}  // namespace bigcolor::eval
