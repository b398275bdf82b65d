// bigcolor eval's arithmetic on cases whose answers are known in closed form or by an independent method: the
// metrics against hand-computed values, the streamed moments against two-pass ones, the Fréchet distance's
// eigenvalue square root against a Denman–Beavers iteration of the non-symmetric product Σ1·Σ2 (what scipy's sqrtm
// computes for pytorch-fid), and the pairing's reports. The parity with the reference implementations on real
// photos is tests/test_eval_parity.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <random>

#include "eval/frechet.h"
#include "eval/image_metrics.h"
#include "eval/pairing.h"
#include "tensor/error.h"
#include "test_util.h"

namespace {

using namespace bigcolor::eval;

Rgb8 image(int w, int h, std::uint32_t seed, int spread = 255) {
  Rgb8 im{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3)};
  std::mt19937 gen(seed);
  for (auto& v : im.px) v = static_cast<std::uint8_t>(gen() % (spread + 1));
  return im;
}

// n x n matrices, row-major, double.
using Matrix = std::vector<double>;
Matrix mul(const Matrix& a, const Matrix& b, int n) {
  Matrix c(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k)
      for (int j = 0; j < n; ++j) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}
Matrix inverse(Matrix a, int n) {  // Gauss-Jordan with partial pivoting
  Matrix inv(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) inv[i * n + i] = 1;
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int r = col + 1; r < n; ++r)
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    for (int j = 0; j < n; ++j) std::swap(a[col * n + j], a[pivot * n + j]), std::swap(inv[col * n + j], inv[pivot * n + j]);
    const double d = a[col * n + col];
    for (int j = 0; j < n; ++j) a[col * n + j] /= d, inv[col * n + j] /= d;
    for (int r = 0; r < n; ++r)
      if (r != col) {
        const double f = a[r * n + col];
        for (int j = 0; j < n; ++j) a[r * n + j] -= f * a[col * n + j], inv[r * n + j] -= f * inv[col * n + j];
      }
  }
  return inv;
}
double trace_sqrtm_denman_beavers(const Matrix& m, int n) {
  Matrix y = m, z(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) z[i * n + i] = 1;
  for (int it = 0; it < 60; ++it) {
    const Matrix yi = inverse(y, n), zi = inverse(z, n);
    for (std::size_t k = 0; k < y.size(); ++k) y[k] = 0.5 * (y[k] + zi[k]), z[k] = 0.5 * (z[k] + yi[k]);
  }
  double t = 0;
  for (int i = 0; i < n; ++i) t += y[i * n + i];
  return t;
}

}  // namespace

TEST_SUITE("eval") {

TEST_CASE("eval metrics: colorfulness, PSNR and SSIM on cases with known answers") {
  Rgb8 gray = image(9, 8, 1);
  for (std::size_t i = 0; i < gray.px.size(); i += 3) gray.px[i + 1] = gray.px[i + 2] = gray.px[i];
  CHECK(colorfulness(gray) == 0.0);  // R = G = B: no chroma at all
  // Two pixels, (255, 0, 0) and (0, 0, 0): rg = 255, 0; yb = 127.5, 0 -> σ = sqrt(127.5² + 63.75²),
  // μ = sqrt(127.5² + 63.75²) (means 127.5, 63.75) -> C = 1.3 · sqrt(127.5² + 63.75²).
  const Rgb8 two{2, 1, {255, 0, 0, 0, 0, 0}};
  CHECK(colorfulness(two) == doctest::Approx(1.3 * std::hypot(127.5, 63.75)).epsilon(1e-12));
  // (255, 0, 0) and (0, 255, 0): signed rg = ±255 (mean 0, σ 255), yb = 127.5 twice -> C = 255 + 0.3·127.5;
  // with absolute values rg = 255 twice (no spread) -> C = 0.3·hypot(255, 127.5).
  const Rgb8 green{2, 1, {255, 0, 0, 0, 255, 0}};
  CHECK(colorfulness(green, true) == doctest::Approx(255.0 + 0.3 * 127.5).epsilon(1e-12));
  CHECK(colorfulness(green) == doctest::Approx(0.3 * std::hypot(255.0, 127.5)).epsilon(1e-12));

  const Rgb8 a = image(16, 12, 2, 200);
  Rgb8 b = a;
  for (auto& v : b.px) v = static_cast<std::uint8_t>(v + 1);  // MSE exactly 1
  CHECK(psnr(a, b) == doctest::Approx(10 * std::log10(255.0 * 255.0)).epsilon(1e-12));
  CHECK(std::isinf(psnr(a, a)));
  CHECK(ssim(a, a) == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(ssim(a, b) < 1.0);
  CHECK(ssim(a, b) > 0.99);  // a shift of one level barely changes structure
  const Rgb8 noise = image(16, 12, 3);
  CHECK(ssim(a, noise) < 0.2);
  CHECK_THROWS_WITH_AS(psnr(a, image(12, 16, 4), "p.png"), doctest::Contains("p.png: sizes differ"), bigcolor::Error);
  CHECK_THROWS_WITH_AS(ssim(image(6, 6, 5), image(6, 6, 6), "q.png"), doctest::Contains("smaller than SSIM's 7x7"),
                       bigcolor::Error);
}

TEST_CASE("eval metrics: streamed moments equal two-pass moments; FID against closed forms and Denman-Beavers") {
  const int d = 6, n = 40;
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(n) * d), y(static_cast<std::size_t>(n) * d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) {
      x[i * d + j] = 100.0f + normal(gen) * (1.0f + j);         // a large mean: the shifted moments must cope
      y[i * d + j] = 99.0f + normal(gen) + 0.5f * x[i * d + (j + 1) % d] - 50.0f;
    }
  FeatureMoments mx(d), my(d);
  mx.add(x.data(), 15);  // in two batches
  mx.add(x.data() + 15 * d, n - 15);
  my.add(y.data(), n);
  std::vector<double> mean(d, 0.0), cov(d * d, 0.0);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) mean[j] += x[i * d + j] / static_cast<double>(n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j)
      for (int k = 0; k < d; ++k) cov[j * d + k] += (x[i * d + j] - mean[j]) * (x[i * d + k] - mean[k]) / (n - 1);
  for (int j = 0; j < d; ++j) CHECK(mx.mean()[j] == doctest::Approx(mean[j]).epsilon(1e-12));
  for (int j = 0; j < d * d; ++j) CHECK(mx.covariance()[j] == doctest::Approx(cov[j]).epsilon(1e-9));

  const std::vector<double> m1 = mx.mean(), s1 = mx.covariance(), m2 = my.mean(), s2 = my.covariance();
  double expected = 0;
  for (int j = 0; j < d; ++j) expected += (m1[j] - m2[j]) * (m1[j] - m2[j]) + s1[j * d + j] + s2[j * d + j];
  expected -= 2 * trace_sqrtm_denman_beavers(mul(s1, s2, d), d);
  CHECK(frechet_distance(m1, s1, m2, s2) == doctest::Approx(expected).epsilon(1e-9));
  CHECK(std::abs(frechet_distance(m1, s1, m1, s1)) < 1e-9 * expected);
  // Diagonal covariances: FID = Σ (μ1 − μ2)² + (sqrt(a) − sqrt(b))².
  std::vector<double> da(9, 0.0), db(9, 0.0);
  da[0] = 4, da[4] = 9, da[8] = 1, db[0] = 1, db[4] = 4, db[8] = 0;  // one rank-deficient
  CHECK(frechet_distance({1, 2, 3}, da, {0, 2, 5}, db) ==
        doctest::Approx(1 + 4 + (2 - 1) * (2 - 1) + (3 - 2) * (3 - 2) + 1).epsilon(1e-12));
}

TEST_CASE("eval pairing: by relative path without extension; missing, extra and ambiguous files are reported") {
  bigcolor::test::TempFolder tmp("bigcolor_eval_pairing_");
  namespace fs = std::filesystem;
  auto touch = [&](const std::string& rel) {
    fs::create_directories((tmp.path() / rel).parent_path());
    std::ofstream(tmp.path() / rel) << "x";
  };
  for (const char* f : {"ref/b/2.JPEG", "ref/a/1.JPEG", "ref/a/sub/3.png", "ref/a/gone.JPEG", "pred/a/1.jpg",
                        "pred/b/2.jpg", "pred/a/sub/3.jpg", "pred/a/stray.jpg", "pred/.hidden.jpg"})
    touch(f);
  const Pairing p = pair_folders((tmp.path() / "pred").string(), (tmp.path() / "ref").string());
  REQUIRE(p.pairs.size() == 3);
  CHECK(p.pairs[0].key == "a/1");
  CHECK(p.pairs[0].folder == "a");
  CHECK(p.pairs[1].key == "a/sub/3");
  CHECK(p.pairs[2].key == "b/2");
  REQUIRE(p.missing.size() == 1);
  CHECK(p.missing[0].find("gone.JPEG") != std::string::npos);
  REQUIRE(p.extra.size() == 1);
  CHECK(p.extra[0].find("stray.jpg") != std::string::npos);
  CHECK(p.classes == std::vector<std::string>{"a", "b"});
  touch("pred/a/1.png");
  CHECK_THROWS_WITH_AS(pair_folders((tmp.path() / "pred").string(), (tmp.path() / "ref").string()),
                       doctest::Contains("have the same name without extension"), bigcolor::Error);
}

}  // TEST_SUITE("eval")
