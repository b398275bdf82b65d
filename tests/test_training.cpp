// Training: the optimizer arithmetic against torch's formulas, the EMA warm-up, the schedule, initialization,
// the perceptual loss's gradient, whole steps at reduced width (finite, deterministic, resumable bit for bit) and a
// checkpoint writer killed mid-write. Parity with the official training step is in test_training_parity.cpp.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <thread>

#include "kernels/ops.h"
#include "tensor/error.h"
#include "test_util.h"
#include "train/init.h"
#include "train/train_checkpoint.h"
#include "training_fixture.h"

using namespace bigcolor;
using namespace bigcolor::train;
using namespace bigcolor::test;

TEST_CASE("training: Adam follows torch's update, step by step") {
  for (const double beta1 : {0.0, 0.9}) {
    Parameter p{Tensor::from_vector({0.5f, -1.0f, 2.0f, 0.0f}, {4}), Tensor::zeros({4}), true};
    Adam adam({{"w", &p}}, AdamOptions{1e-2, beta1, 0.999, 1e-8});
    std::vector<double> w = {0.5, -1.0, 2.0, 0.0}, m(4, 0.0), v(4, 0.0);
    const std::vector<std::vector<float>> grads = {{0.3f, -0.2f, 1e-3f, 0.0f}, {-0.1f, 0.4f, 2.0f, 5e-9f},
                                                   {0.25f, 0.25f, -1.0f, -7.0f}};
    for (std::size_t t = 0; t < grads.size(); ++t) {
      p.grad.copy_from(Tensor::from_vector(grads[t], {4}));
      adam.step();
      const double bc1 = 1 - std::pow(beta1, t + 1.0), bc2 = 1 - std::pow(0.999, t + 1.0);
      for (std::size_t i = 0; i < 4; ++i) {
        const double g = grads[t][i];
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        w[i] -= 1e-2 / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + 1e-8);
      }
      const std::vector<float> got = p.value.to_vector();
      for (std::size_t i = 0; i < 4; ++i) {
        INFO("beta1 ", beta1, " step ", t + 1, " element ", i);
        CHECK(got[i] == doctest::Approx(w[i]).epsilon(1e-6));
      }
    }
    CHECK(adam.steps() == 3);
  }
}

TEST_CASE("training: EMA uses torch_ema's warm-up decay min(decay, (1 + t) / (10 + t))") {
  Parameter p{Tensor::from_vector({1.0f}, {1}), Tensor{}, true};
  Ema ema({{"w", &p}}, 0.999);
  double shadow = 1.0;
  for (int t = 1; t <= 30; ++t) {
    p.value.fill(static_cast<float>(t));
    ema.update();
    const double decay = std::min(0.999, (1.0 + t) / (10.0 + t));
    shadow -= (1 - decay) * (shadow - t);
  }
  CHECK(ema.shadows().at("w").to_vector()[0] == doctest::Approx(shadow).epsilon(1e-6));
  CHECK(ema.num_updates() == 30);
  // swap_into_parameters twice is the identity
  const float before = p.value.to_vector()[0];
  ema.swap_into_parameters();
  CHECK(p.value.to_vector()[0] == doctest::Approx(shadow).epsilon(1e-6));
  ema.swap_into_parameters();
  CHECK(p.value.to_vector()[0] == before);
}

TEST_CASE("training: the learning-rate schedule is train.py's LambdaLR.step(epoch) after each epoch") {
  // epoch 0 and 1 at the base rate, then one factor 0.9 per epoch
  CHECK(Trainer::lr_factor(0.9, 0) == 1.0);
  CHECK(Trainer::lr_factor(0.9, 1) == 1.0);
  CHECK(Trainer::lr_factor(0.9, 2) == doctest::Approx(0.9));
  CHECK(Trainer::lr_factor(0.9, 11) == doctest::Approx(std::pow(0.9, 10)));
}

TEST_CASE("training: orthogonal initialization gives orthonormal rows or columns") {
  Rng rng(5);
  for (const auto& [rows, cols] : std::vector<std::pair<int, int>>{{7, 30}, {30, 7}, {16, 16}}) {
    const std::vector<float> q = orthogonal_matrix(rows, cols, rng);
    const int n = std::min(rows, cols);
    double worst = 0;
    for (int a = 0; a < n; ++a)
      for (int b = 0; b < n; ++b) {
        double dot = 0;
        for (int k = 0; k < std::max(rows, cols); ++k) {
          // rows <= cols: rows are orthonormal; else columns
          const float x = rows <= cols ? q[static_cast<std::size_t>(a * cols + k)] : q[static_cast<std::size_t>(k * cols + a)];
          const float y = rows <= cols ? q[static_cast<std::size_t>(b * cols + k)] : q[static_cast<std::size_t>(k * cols + b)];
          dot += static_cast<double>(x) * y;
        }
        worst = std::max(worst, std::abs(dot - (a == b ? 1.0 : 0.0)));
      }
    INFO(rows, "x", cols);
    CHECK(worst < 1e-6);
  }
}

TEST_CASE("training: the perceptual loss's gradient matches a finite difference") {
  Rng rng(11);
  std::unique_ptr<VGG16Features> vgg = tiny_vgg(rng);
  PerceptualLoss loss(*vgg);
  // 48x64: Resize(256) makes it 256x341, the crop takes rows and columns from the middle (both matrices non-trivial).
  const Tensor real = random_uniform({2, 3, 48, 64}, rng, 0.0f, 1.0f);
  // fake near real: a small loss whose float32 rounding is small next to its change along the direction.
  Tensor fake = Tensor::empty(real.shape()), noise = Tensor::empty(real.shape());
  ops::scale_forward(noise, random_normal({2, 3, 48, 64}, rng), 0.05f);
  ops::add_forward(fake, real, noise);
  const Tensor direction = random_normal({2, 3, 48, 64}, rng);
  Tensor grad = Tensor::zeros(fake.shape());
  const float value = loss.compute(real, fake, 0.2f, &grad);
  CHECK(value > 0.0f);
  const auto at = [&](float t) {
    Tensor moved = Tensor::empty(fake.shape()), step = Tensor::empty(fake.shape());
    ops::scale_forward(step, direction, t);
    ops::add_forward(moved, fake, step);
    return static_cast<double>(loss.compute(real, moved, 0.2f, nullptr));
  };
  const double h = 1e-3;
  const double numeric = (at(static_cast<float>(h)) - at(static_cast<float>(-h))) / (2 * h);
  double analytic = 0;
  const std::vector<float> g = grad.to_vector(), d = direction.to_vector();
  for (std::size_t i = 0; i < g.size(); ++i) analytic += static_cast<double>(g[i]) * d[i];
  INFO("numeric ", numeric, " analytic ", analytic);
  CHECK(std::abs(numeric - analytic) <= 1e-3 * std::abs(analytic));
  // Same loss without the gradient: the value does not depend on whether a backward is wanted.
  CHECK(loss.compute(real, fake, 0.2f, nullptr) == value);
}

TEST_CASE("training: steps are finite, move the weights, and resume bit for bit") {
  const TempFolder folder("bigcolor_test_resume_");
  const std::filesystem::path& dir = folder.path();
  const std::vector<StepBatch> batches = tiny_batches(4, 2, 64, 64, 21);

  TinyTraining straight(7);
  const Tensor before = straight.eg->E.res[0]->conv_1.weight.value.clone();
  std::vector<StepLosses> losses_straight;
  for (const StepBatch& b : batches) losses_straight.push_back(straight.trainer->step(b));
  for (const StepLosses& l : losses_straight) {
    CHECK(l.finite());
    CHECK(l.loss_d > 0.0f);
    CHECK(l.mse > 0.0f);
    CHECK(l.lpips > 0.0f);
  }
  CHECK(compare(straight.eg->E.res[0]->conv_1.weight.value, before).max_abs_error > 0.0);

  TinyTraining first(7);
  std::vector<StepLosses> losses_resumed;
  for (int i = 0; i < 2; ++i) losses_resumed.push_back(first.trainer->step(batches[static_cast<std::size_t>(i)]));
  const std::string path = (dir / "latest.safetensors").string();
  save_training_checkpoint(path, *first.trainer, TrainProgress{2, 0, 2}, R"({"test": true})");

  TinyTraining second(99);  // different initial weights and seed: everything must come from the file
  const LoadedTrainingCheckpoint loaded = load_training_checkpoint(path, *second.trainer);
  CHECK(loaded.progress.step == 2);
  CHECK(loaded.progress.batch_in_epoch == 2);
  CHECK(loaded.run_json == R"({"test": true})");
  for (int i = 2; i < 4; ++i) losses_resumed.push_back(second.trainer->step(batches[static_cast<std::size_t>(i)]));

  for (std::size_t i = 0; i < 4; ++i) {
    INFO("step ", i);
    CHECK(losses_resumed[i].loss_d == losses_straight[i].loss_d);
    CHECK(losses_resumed[i].loss_g == losses_straight[i].loss_g);
    CHECK(losses_resumed[i].mse == losses_straight[i].mse);
    CHECK(losses_resumed[i].lpips == losses_straight[i].lpips);
  }
  const auto state_a = straight.eg->state(), state_b = second.eg->state();
  for (std::size_t i = 0; i < state_a.size(); ++i) {
    INFO(state_a[i].name);
    CHECK(compare(state_b[i].tensor, state_a[i].tensor).max_abs_error == 0.0);
  }
  const auto d_a = straight.d->state(), d_b = second.d->state();
  for (std::size_t i = 0; i < d_a.size(); ++i) {
    INFO(d_a[i].name);
    CHECK(compare(d_b[i].tensor, d_a[i].tensor).max_abs_error == 0.0);
  }
  for (const auto& [name, shadow] : straight.trainer->ema().shadows()) {
    INFO("EMA ", name);
    CHECK(compare(second.trainer->ema().shadows().at(name), shadow).max_abs_error == 0.0);
  }

  // A checkpoint of another configuration is refused, naming the file.
  TinyTraining wider(7, /*width=*/4);
  CHECK_THROWS_WITH_AS(load_training_checkpoint(path, *wider.trainer), doctest::Contains("latest.safetensors"), Error);
}

TEST_CASE("training: a checkpoint writer killed mid-write leaves the previous checkpoint intact") {
  const TempFolder folder("bigcolor_test_kill_");
  const std::filesystem::path& dir = folder.path();
  const std::string path = (dir / "latest.safetensors").string();
  TinyTraining t(3);
  save_training_checkpoint(path, *t.trainer, TrainProgress{1, 0, 1});
  const auto reference = load_safetensors(path);

  int interrupted = 0;
  for (int trial = 0; trial < 12 && interrupted < 3; ++trial) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // rewrite the same checkpoint forever until killed
      try {
        for (;;) save_training_checkpoint(path, *t.trainer, TrainProgress{1, 0, 1});
      } catch (...) {
      }
      _exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 7 * trial));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    // The kill landed inside a write when the writer's temporary (".latest.safetensors.tmp-XXXXXX", files.h) is
    // left: SIGKILL cannot be caught, so nothing could remove it.
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().filename().string().rfind(".latest.safetensors.tmp-", 0) == 0) {
        ++interrupted;
        std::filesystem::remove(e.path());
        break;
      }
    const auto after = load_safetensors(path);  // always the complete previous file
    REQUIRE(after.tensors.size() == reference.tensors.size());
    for (const auto& [name, tensor] : reference.tensors) CHECK(compare(after.at(name), tensor).max_abs_error == 0.0);
    TinyTraining fresh(4);
    CHECK(load_training_checkpoint(path, *fresh.trainer).progress.step == 1);
  }
  CHECK(interrupted > 0);  // at least one kill really interrupted a write
}

TEST_CASE("training: without the discriminator only the regression losses train EG, and D stays as it was") {
  TrainOptions options;
  options.train_discriminator = false;
  TinyTraining run(7, 2, options);
  TinyTraining reference(7);  // the same initial weights
  const std::vector<StepBatch> batches = tiny_batches(2, 2, 64, 64, 5);
  const Tensor before = run.eg->E.res[0]->conv_1.weight.value.clone();
  for (const StepBatch& b : batches) {
    const StepLosses l = run.trainer->step(b);
    CHECK(l.loss_d == 0.0f);
    CHECK(l.loss_g == 0.0f);
    CHECK(l.mse > 0.0f);
    CHECK(l.lpips > 0.0f);
  }
  CHECK(run.trainer->adam_d().steps() == 0);
  const auto d_now = run.d->state(), d_then = reference.d->state();
  for (std::size_t i = 0; i < d_now.size(); ++i) {
    INFO(d_now[i].name);
    CHECK(compare(d_now[i].tensor, d_then[i].tensor).max_abs_error == 0.0);
  }
  CHECK(compare(run.eg->E.res[0]->conv_1.weight.value, before).max_abs_error > 0.0);
}

// A regression term that is not in the official recipe (coef_l1, coef_ab; 0 by default, where the parity tests
// show the official step), alone: it is what trains EG, its value lies in (low, high), and it scales with its
// coefficient (the first step's forward is the same in both runs: same weights, same z).
namespace {
void check_term_alone(float TrainOptions::*coef, float StepLosses::*value, float low, float high) {
  const std::vector<StepBatch> batches = tiny_batches(1, 2, 64, 64, 5);
  TrainOptions only;
  only.train_discriminator = false;
  only.coef_mse = 0.0f;
  only.coef_lpips = 0.0f;
  only.*coef = 1.0f;
  TinyTraining one(9, 2, only);
  only.*coef = 2.5f;
  TinyTraining more(9, 2, only);
  const Tensor before = one.eg->E.res[0]->conv_1.weight.value.clone();
  const StepLosses a = one.trainer->step(batches[0]);
  const StepLosses b = more.trainer->step(batches[0]);
  CHECK(a.mse == 0.0f);
  CHECK(a.lpips == 0.0f);
  CHECK(a.*value > low);
  CHECK(a.*value < high);
  CHECK(b.*value == doctest::Approx(2.5 * (a.*value)).epsilon(1e-6));
  CHECK(a.total_g() == a.*value);  // the other terms are 0
  CHECK(compare(one.eg->E.res[0]->conv_1.weight.value, before).max_abs_error > 0.0);
}
}  // namespace

// mean |x − fake01| of an untrained colorizer: far from 0, and under 1 (both in [0, 1]).
TEST_CASE("training: the L1 term alone trains EG and scales with its coefficient") {
  check_term_alone(&TrainOptions::coef_l1, &StepLosses::l1, 0.05f, 1.0f);
}

// (|Δa| + |Δb|) / 2 of an untrained colorizer against random colours: several units; |a|, |b| of sRGB under 128.
TEST_CASE("training: the Lab a/b L1 term alone trains EG and scales with its coefficient") {
  check_term_alone(&TrainOptions::coef_ab, &StepLosses::ab, 0.5f, 128.0f);
}
