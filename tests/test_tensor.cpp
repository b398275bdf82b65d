// Tensor basics, the seeded RNG, and the clear errors of the checked ops on shape/dtype/device mismatches.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/ops.h"
#include "tensor/error.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

using namespace bigcolor;

TEST_CASE("tensor: shape, dtype, reshape and copies") {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.numel() == 6);
  CHECK(t.dim(-1) == 3);
  CHECK(t.describe() == "(2, 3) F32 cpu");
  CHECK(reinterpret_cast<std::uintptr_t>(t.raw()) % 64 == 0);
  Tensor r = t.reshape({3, 2});
  r.data<float>()[0] = 42.0f;  // a view: shares storage
  CHECK(t.data<float>()[0] == 42.0f);
  Tensor c = t.clone();
  c.data<float>()[1] = -1.0f;  // a copy: does not
  CHECK(t.data<float>()[1] == 2.0f);
  CHECK_THROWS_AS(t.reshape({4, 2}), Error);
  CHECK_THROWS_AS(t.data<std::int32_t>(), Error);
  CHECK_THROWS_AS(Tensor{}.raw(), Error);
  CHECK_THROWS_AS(t.copy_from(Tensor::zeros({6})), Error);
  Tensor z = Tensor::zeros({0, 4});
  CHECK(z.numel() == 0);
}

TEST_CASE("tensor: CUDA tensors in a CPU-only build are a clear error") {
  if (cuda_available()) return;  // covered by the cuda suite instead
#ifndef BIGCOLOR_WITH_CUDA
  CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::F32, Device::CUDA),
                       doctest::Contains("no CUDA backend"), Error);
#endif
}

TEST_CASE("rng: Philox4x32-10 known-answer vectors (Random123)") {
  auto block = Rng::philox4x32_10(0, {0u, 0u});
  CHECK(block[0] == 0x6627e8d5u);
  CHECK(block[1] == 0xe169c58du);
  CHECK(block[2] == 0xbc57ac4cu);
  CHECK(block[3] == 0x9b00dbd8u);
}

TEST_CASE("rng: reproducible streams, resumable state, sane distributions") {
  Rng a(1234), b(1234), c(1235);
  for (int i = 0; i < 10; ++i) {
    const std::uint32_t x = a.next_u32();
    CHECK(x == b.next_u32());
    (void)c;
  }
  Rng d(1234), e(1234);
  CHECK(d.next_u32() != c.next_u32());
  for (int i = 0; i < 7; ++i) d.normal();
  e.set_state(d.state());  // mid-block and with a spare normal pending
  for (int i = 0; i < 9; ++i) CHECK(d.normal() == e.normal());

  Rng r(7);
  const int n = 200000;
  double sum = 0, sq = 0, usum = 0;
  int out_of_range = 0;
  for (int i = 0; i < n; ++i) {
    const double v = r.normal();
    sum += v;
    sq += v * v;
    const float u = r.uniform();
    out_of_range += (u < 0.0f || u >= 1.0f);
    usum += u;
  }
  CHECK(out_of_range == 0);
  CHECK(std::abs(sum / n) < 0.01);
  CHECK(std::abs(sq / n - 1.0) < 0.02);
  CHECK(std::abs(usum / n - 0.5) < 0.005);
}

TEST_CASE("ops: shape, dtype and device mismatches raise one clear error") {
  Tensor in = Tensor::zeros({2, 3, 5, 5});
  Tensor w = Tensor::zeros({4, 3, 3, 3});
  Tensor out = Tensor::zeros({2, 4, 5, 5});
  CHECK_NOTHROW(ops::conv2d_forward(out, in, w, Tensor{}, 1));
  CHECK_THROWS_WITH_AS(ops::conv2d_forward(out, in, w, Tensor{}, 0), doctest::Contains("conv2d_forward: out has shape"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::conv2d_forward(out, in, Tensor::zeros({4, 2, 3, 3}), Tensor{}, 1),
                       doctest::Contains("input channels"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d_forward(out, in, w, Tensor::zeros({5}), 1), doctest::Contains("bias"), Error);
  CHECK_THROWS_WITH_AS(ops::conv2d_forward(out, in, Tensor{}, Tensor{}, 1), doctest::Contains("weight is required"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::relu_forward(Tensor::zeros({3}, DType::I32), Tensor::zeros({3}, DType::I32)),
                       doctest::Contains("must be F32"), Error);
  CHECK_THROWS_WITH_AS(ops::linear_forward(Tensor::zeros({2, 4}), Tensor::zeros({2, 5}), Tensor::zeros({4, 6}), Tensor{}),
                       doctest::Contains("features"), Error);
  CHECK_THROWS_WITH_AS(ops::bmm_forward(Tensor::zeros({2, 3, 4}), Tensor::zeros({2, 3, 5}), Tensor::zeros({2, 6, 4}),
                                        false, false),
                       doctest::Contains("inner dimensions"), Error);
  CHECK_THROWS_WITH_AS(ops::embedding_forward(Tensor::zeros({2, 4}), Tensor::zeros({10, 4}),
                                              Tensor::from_indices({3, 10}, {2})),
                       doctest::Contains("index 10 outside"), Error);
  CHECK_THROWS_WITH_AS(ops::embedding_forward(Tensor::zeros({2, 4}), Tensor::zeros({10, 4}),
                                              Tensor::from_indices({3, -1}, {2})),
                       doctest::Contains("index -1 outside"), Error);
  CHECK_THROWS_WITH_AS(ops::sum_forward(Tensor::zeros({3}), Tensor::zeros({2, 3})), doctest::Contains("prefix"),
                       Error);
  CHECK_THROWS_WITH_AS(ops::maxpool2x2_forward(Tensor::zeros({1, 1, 0, 0}), Tensor::zeros({1, 1, 1, 1})),
                       doctest::Contains("smaller than the 2x2 window"), Error);
  CHECK_THROWS_WITH_AS(ops::add_forward(Tensor::zeros({3}), Tensor::zeros({3}), Tensor::zeros({4})),
                       doctest::Contains("differ"), Error);
  Tensor stat = Tensor::zeros({3});
  CHECK_THROWS_WITH_AS(ops::batchnorm_forward(Tensor::zeros({1, 3}), stat, stat, stat, stat, Tensor::zeros({1, 3}),
                                              Tensor{}, Tensor{}, true, 0.1f, 1e-5f),
                       doctest::Contains("more than one value per channel"), Error);
  if (cuda_available()) {
    Tensor gpu_in = in.to(Device::CUDA);
    CHECK_THROWS_WITH_AS(ops::conv2d_forward(out, gpu_in, w, Tensor{}, 1), doctest::Contains("is on cuda but"), Error);
  }
}

TEST_CASE("ops: copy_columns concatenates and splits along features") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = Tensor::from_vector({7, 8, 9, 10}, {2, 2});
  Tensor cat = Tensor::full({2, 5}, -1.0f);
  ops::copy_columns(cat, 0, a, 0, 3);
  ops::copy_columns(cat, 3, b, 0, 2);
  CHECK(cat.to_vector() == std::vector<float>{1, 2, 3, 7, 8, 4, 5, 6, 9, 10});
  Tensor part = Tensor::full({2, 2}, -1.0f);
  ops::copy_columns(part, 0, cat, 2, 2);
  CHECK(part.to_vector() == std::vector<float>{3, 7, 6, 9});
  CHECK_THROWS_WITH_AS(ops::copy_columns(part, 1, cat, 0, 2), doctest::Contains("out of range"), Error);
  CHECK_THROWS_WITH_AS(ops::copy_columns(Tensor::zeros({3, 2}), 0, cat, 0, 2), doctest::Contains("rows"), Error);
}

#include "io/imagenet_classes.h"

TEST_CASE("classes: the bundled ImageNet table and --class lookup") {
  const auto& classes = imagenet_classes();
  REQUIRE(classes.size() == 1000);
  CHECK(classes[207].wnid == "n02099601");
  CHECK(classes[207].names.front() == "golden retriever");
  CHECK(resolve_imagenet_class("207") == 207);
  CHECK(resolve_imagenet_class("n02099601") == 207);
  CHECK(resolve_imagenet_class("Golden Retriever") == 207);
  CHECK(resolve_imagenet_class("goldfish") == 1);
  CHECK_THROWS_WITH_AS(resolve_imagenet_class("crane"), doctest::Contains("is the name of 2 classes"), Error);
  CHECK_THROWS_WITH_AS(resolve_imagenet_class("1000"), doctest::Contains("outside 0..999"), Error);
  CHECK_THROWS_WITH_AS(resolve_imagenet_class("no such thing"), doctest::Contains("is no ImageNet class"), Error);
}
