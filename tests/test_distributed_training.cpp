// Data-parallel training in the library (train/process_group.h, Trainer::set_process_group), with the ranks as
// threads of this process (tests/thread_group.h): gradient buckets average exactly, rank 0's state reaches every
// rank, two ranks fed the same half-batch train exactly as one process, two ranks fed different halves average
// the gradients each would have computed alone, DistributedSampler's shards, and checkpoints of several ranks.
// The same through `mpirun -np 2 bigcolor train` is in test_cli_mpi.cpp.
#include <doctest/doctest.h>

#include <map>
#include <mutex>
#include <numeric>
#include <set>

#include "tensor/error.h"
#include "test_util.h"
#include "thread_group.h"
#include "train/data_loader.h"
#include "train/train_checkpoint.h"
#include "training_fixture.h"

using namespace bigcolor;
using namespace bigcolor::train;
using namespace bigcolor::test;

namespace {

// A group that records what each all-reduce of a tensor was given and gave back.
class RecordingGroup final : public ProcessGroup {
 public:
  explicit RecordingGroup(ProcessGroup& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  void broadcast(const Tensor& t, int root) override { inner_.broadcast(t, root); }
  void all_reduce_sum(const Tensor& t) override {
    inputs.push_back(t.clone());
    inner_.all_reduce_sum(t);
    outputs.push_back(t.clone());
  }
  void all_reduce_sum(std::vector<double>& v) override { inner_.all_reduce_sum(v); }
  void all_reduce_sum(std::vector<std::int64_t>& v) override { inner_.all_reduce_sum(v); }
  void broadcast(std::string& bytes, int root) override { inner_.broadcast(bytes, root); }
  std::vector<Tensor> inputs, outputs;

 private:
  ProcessGroup& inner_;
};

// buffers: also the buffers (batch-norm statistics, u vectors), which after a step are each rank's own until the
// next step's broadcast from rank 0.
void check_same_state(Module& a, Module& b, const std::string& what, bool buffers = true) {
  const auto sa = a.state(), sb = b.state();
  REQUIRE(sa.size() == sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    if (sa[i].is_buffer && !buffers) continue;
    INFO(what, " ", sa[i].name);
    CHECK(compare(sb[i].tensor, sa[i].tensor).max_abs_error == 0.0);
  }
}

// Rows `begin`..`begin + count` of a batch (a rank's part of the global batch).
StepBatch rows(const StepBatch& b, std::int64_t begin, std::int64_t count) {
  const Shape& s = b.x.shape();
  const std::int64_t per_image = s[1] * s[2] * s[3];
  StepBatch out;
  out.x = Tensor::empty({count, s[1], s[2], s[3]});
  std::copy_n(b.x.data<float>() + begin * per_image, count * per_image, out.x.data<float>());
  const std::vector<std::int32_t> classes = b.classes.to_indices();
  out.classes = Tensor::from_indices({classes.begin() + begin, classes.begin() + begin + count}, {count});
  return out;
}

}  // namespace

TEST_CASE("distributed training: gradient buckets average every parameter over the ranks") {
  constexpr int kRanks = 3;
  ThreadHub hub(kRanks);
  std::vector<std::vector<std::vector<float>>> grads(kRanks);  // [rank][parameter]
  const std::vector<std::int64_t> sizes = {5, 300, 7, 40};      // 300 floats: larger than one bucket
  Rng rng(3);
  for (int r = 0; r < kRanks; ++r)
    for (const std::int64_t n : sizes) {
      std::vector<float> g(static_cast<std::size_t>(n));
      for (float& x : g) x = rng.normal();
      grads[static_cast<std::size_t>(r)].push_back(g);
    }
  std::vector<std::vector<std::vector<float>>> results(kRanks);
  std::size_t buckets = 0;
  hub.run([&](int rank) {
    ThreadGroup group(hub, rank);
    std::deque<Parameter> params;
    std::vector<Module::NamedParameter> named;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      params.push_back({Tensor::zeros({sizes[i]}), Tensor::from_vector(grads[static_cast<std::size_t>(rank)][i], {sizes[i]}), true});
      std::string name = "p";
      name += std::to_string(i);
      named.push_back({name, &params.back()});
    }
    Parameter no_grad{Tensor::zeros({3}), Tensor{}, false};  // frozen: left out
    named.push_back({"frozen", &no_grad});
    GradientBuckets b(named, Device::CPU, /*bucket_bytes=*/200 * sizeof(float));
    if (rank == 0) buckets = b.bucket_count();
    CHECK(b.numel() == 352);
    b.average(group);
    for (const Parameter& p : params) results[static_cast<std::size_t>(rank)].push_back(p.grad.to_vector());
  });
  CHECK(buckets == 3);  // reverse order: {40, 7}, {300}, {5}
  for (std::size_t i = 0; i < sizes.size(); ++i)
    for (std::int64_t j = 0; j < sizes[i]; ++j) {
      float sum = 0.0f;
      for (int r = 0; r < kRanks; ++r) sum += grads[static_cast<std::size_t>(r)][i][static_cast<std::size_t>(j)];
      const float mean = sum * (1.0f / kRanks);
      for (int r = 0; r < kRanks; ++r) {
        INFO("parameter ", i, " element ", j, " rank ", r);
        CHECK(results[static_cast<std::size_t>(r)][i][static_cast<std::size_t>(j)] == mean);
      }
    }
}

TEST_CASE("distributed training: buckets start during the backward, block by block, and give the same means") {
  // Two ranks' discriminators on different images; small buckets, so that D's gradients fill several.
  Rng rng(5);
  const Tensor x[2] = {random_uniform({1, 3, 64, 64}, rng, -1.0f, 1.0f), random_uniform({1, 3, 64, 64}, rng, -1.0f, 1.0f)};
  const Tensor classes = Tensor::from_indices({3}, {1});
  const Tensor d_out = Tensor::full({1, 1}, 0.5f);
  // Alone: each rank's own gradients, and their mean.
  std::vector<float> own[2];
  for (int r = 0; r < 2; ++r) {
    TinyTraining t(7);
    t.d->zero_grad();
    t.d->forward(x[r], classes);
    t.d->backward(d_out, false);
    for (const auto& p : t.d->parameters()) {
      const std::vector<float> g = p.parameter->grad.to_vector();
      own[r].insert(own[r].end(), g.begin(), g.end());
    }
  }
  ThreadHub hub(2);
  std::vector<float> averaged[2];
  std::size_t early[2] = {0, 0}, buckets = 0;
  hub.run([&](int rank) {
    TinyTraining t(7);
    ThreadGroup inner(hub, rank);
    RecordingGroup group(inner);
    GradientBuckets b(t.d->parameters(), Device::CPU, /*bucket_bytes=*/16 << 10);
    std::size_t launched_before_last_block = 0;
    t.d->set_gradients_ready_hook([&](Module& m) {
      b.ready(m);
      if (&m != t.d->blocks[0].get()) launched_before_last_block = group.inputs.size();
    });
    t.d->zero_grad();
    t.d->forward(x[rank], classes);
    b.begin(group);
    t.d->backward(d_out, false);
    early[rank] = b.started_early();
    b.finish();
    t.d->set_gradients_ready_hook({});
    if (rank == 0) buckets = b.bucket_count();
    CHECK(launched_before_last_block > 0);  // some all-reduces were under way before the backward's last block
    for (const auto& p : t.d->parameters()) {
      const std::vector<float> g = p.parameter->grad.to_vector();
      averaged[rank].insert(averaged[rank].end(), g.begin(), g.end());
    }
  });
  CHECK(buckets > 2);
  CHECK(early[0] == buckets);  // every D parameter belongs to a block the backward reports
  CHECK(early[1] == buckets);
  REQUIRE(own[0].size() == averaged[0].size());
  for (std::size_t i = 0; i < own[0].size(); ++i) {
    const float mean = (own[0][i] + own[1][i]) * 0.5f;
    if (averaged[0][i] != mean || averaged[1][i] != mean) {
      FAIL_CHECK("element ", i, ": ", averaged[0][i], " / ", averaged[1][i], " vs the mean ", mean);
      break;
    }
  }
}

TEST_CASE("distributed training: every rank starts from rank 0's weights, buffers and optimizer state") {
  TinyTraining zero(7), one(8);  // different initializations
  const std::vector<StepBatch> warmup = tiny_batches(1, 2, 64, 64, 4);
  one.trainer->step(warmup[0]);  // rank 1 also has moved u vectors, statistics and Adam moments
  TinyTraining reference(7);     // what rank 0 holds
  ThreadHub hub(2);
  ThreadGroup g0(hub, 0), g1(hub, 1);
  hub.run([&](int rank) { (rank == 0 ? zero : one).trainer->set_process_group(rank == 0 ? &g0 : &g1, rank == 0); });
  check_same_state(*reference.eg, *one.eg, "EG");
  check_same_state(*reference.d, *one.d, "D");
  for (const auto& [name, t] : reference.trainer->adam_d().state()) {
    INFO("adam_d ", name);
    CHECK(compare(one.trainer->adam_d().state().at(name), t).max_abs_error == 0.0);
  }
}

TEST_CASE("distributed training: two ranks fed the same half-batch train exactly as one process") {
  const std::vector<StepBatch> batches = tiny_batches(3, 1, 64, 64, 11);
  TinyTraining single(7);
  std::vector<StepLosses> single_losses;
  for (const StepBatch& b : batches) single_losses.push_back(single.trainer->step(b));

  TinyTraining r0(7), r1(7);  // the same seeds: the same z and dropout draws on both ranks
  ThreadHub hub(2);
  std::vector<std::vector<StepLosses>> losses(2);
  hub.run([&](int rank) {
    TinyTraining& mine = rank == 0 ? r0 : r1;
    ThreadGroup group(hub, rank);
    mine.trainer->set_process_group(&group, rank == 0);
    for (const StepBatch& b : batches) losses[static_cast<std::size_t>(rank)].push_back(mine.trainer->step(b));
    mine.trainer->set_process_group(nullptr, true);
  });
  // (g + g) · ½ = g exactly: every number must be the single process's, bit for bit.
  for (std::size_t i = 0; i < batches.size(); ++i)
    for (int rank = 0; rank < 2; ++rank) {
      INFO("step ", i, " rank ", rank);
      const StepLosses& l = losses[static_cast<std::size_t>(rank)][i];
      CHECK(l.loss_d == single_losses[i].loss_d);
      CHECK(l.loss_g == single_losses[i].loss_g);
      CHECK(l.mse == single_losses[i].mse);
      CHECK(l.lpips == single_losses[i].lpips);
    }
  check_same_state(*single.eg, *r0.eg, "rank 0 EG");
  check_same_state(*single.eg, *r1.eg, "rank 1 EG");
  check_same_state(*single.d, *r1.d, "rank 1 D");
  for (const auto& [name, shadow] : single.trainer->ema().shadows()) {
    INFO("EMA ", name);
    CHECK(compare(r0.trainer->ema().shadows().at(name), shadow).max_abs_error == 0.0);
  }
  CHECK(r0.trainer->ema().num_updates() == 3);
  CHECK(r1.trainer->ema().num_updates() == 0);  // rank 0 alone keeps the EMA
}

TEST_CASE("distributed training: two ranks on different halves average what each would compute alone") {
  const StepBatch global = tiny_batches(1, 4, 64, 64, 12)[0];
  const StepBatch halves[2] = {rows(global, 0, 2), rows(global, 2, 2)};
  // Alone: each rank's first step from the same start (rank 1 with its own seed: its own z and dropout).
  TinyTraining alone0(7), alone1(7);
  alone1.trainer->rng() = Rng(rank_seed(7 + 1000, 1));
  const StepLosses solo[2] = {alone0.trainer->step(halves[0]), alone1.trainer->step(halves[1])};

  TinyTraining r0(7), r1(7);
  r1.trainer->rng() = Rng(rank_seed(7 + 1000, 1));
  ThreadHub hub(2);
  std::vector<std::unique_ptr<ThreadGroup>> inner;
  inner.push_back(std::make_unique<ThreadGroup>(hub, 0));
  inner.push_back(std::make_unique<ThreadGroup>(hub, 1));
  RecordingGroup rec0(*inner[0]), rec1(*inner[1]);
  StepLosses synced[2];
  hub.run([&](int rank) {
    TinyTraining& mine = rank == 0 ? r0 : r1;
    mine.trainer->set_process_group(rank == 0 ? &rec0 : &rec1, rank == 0);
    synced[rank] = mine.trainer->step(halves[rank]);
  });
  // The losses computed before any update of the model they measure (D's loss; EG's MSE and perceptual terms) are
  // the means of the ranks' own.
  for (int rank = 0; rank < 2; ++rank) {
    CHECK(synced[rank].loss_d == doctest::Approx((solo[0].loss_d + solo[1].loss_d) / 2.0).epsilon(1e-6));
    CHECK(synced[rank].mse == doctest::Approx((solo[0].mse + solo[1].mse) / 2.0).epsilon(1e-6));
    CHECK(synced[rank].lpips == doctest::Approx((solo[0].lpips + solo[1].lpips) / 2.0).epsilon(1e-6));
  }
  // D's buckets (the first all-reduces of the step) were given exactly the gradients each rank computes alone, and
  // every all-reduce returned the sum of both ranks' inputs.
  const auto d_grads_of = [](TinyTraining& t) {
    std::vector<float> out;
    const auto params = t.d->parameters();
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      const std::vector<float> g = it->parameter->grad.to_vector();
      out.insert(out.end(), g.begin(), g.end());
    }
    return out;
  };
  const std::vector<float> solo_d[2] = {d_grads_of(alone0), d_grads_of(alone1)};
  for (int rank = 0; rank < 2; ++rank) {
    RecordingGroup& rec = rank == 0 ? rec0 : rec1;
    REQUIRE(!rec.inputs.empty());
    std::vector<float> first_buckets;
    for (const Tensor& t : rec.inputs) {
      const std::vector<float> v = t.to_vector();
      first_buckets.insert(first_buckets.end(), v.begin(), v.end());
      if (first_buckets.size() >= solo_d[rank].size()) break;
    }
    REQUIRE(first_buckets.size() == solo_d[rank].size());
    CHECK(first_buckets == solo_d[rank]);
  }
  REQUIRE(rec0.inputs.size() == rec1.inputs.size());
  for (std::size_t i = 0; i < rec0.inputs.size(); ++i) {
    const std::vector<float> a = rec0.inputs[i].to_vector(), b = rec1.inputs[i].to_vector();
    std::vector<float> sum(a.size());
    for (std::size_t j = 0; j < a.size(); ++j) sum[j] = a[j] + b[j];
    CHECK(rec0.outputs[i].to_vector() == sum);
    CHECK(rec1.outputs[i].to_vector() == sum);
  }
  // And both ranks end the step with the same weights, which neither rank alone has; their batch-norm running
  // statistics are their own (per-rank batch statistics, no SyncBN) until the next step takes rank 0's.
  check_same_state(*r0.eg, *r1.eg, "EG", /*buffers=*/false);
  check_same_state(*r0.d, *r1.d, "D");  // D has no batch norm; its u vectors follow the same weights
  CHECK(compare(r1.eg->E.res[0]->normalize_1.stored_mean, r0.eg->E.res[0]->normalize_1.stored_mean).max_abs_error > 0.0);
  CHECK(compare(r0.eg->E.res[0]->conv_1.weight.value, alone0.eg->E.res[0]->conv_1.weight.value).max_abs_error > 0.0);
}

TEST_CASE("distributed training: shards are DistributedSampler's with drop_last") {
  std::vector<std::int64_t> order(11);
  std::iota(order.begin(), order.end(), 100);
  std::set<std::int64_t> seen;
  for (int rank = 0; rank < 3; ++rank) {
    const std::vector<std::int64_t> shard = shard_of(order, rank, 3);
    REQUIRE(shard.size() == 3);  // 11 → 9 used, 3 each
    for (std::size_t i = 0; i < shard.size(); ++i) CHECK(shard[i] == order[static_cast<std::size_t>(rank) + 3 * i]);
    seen.insert(shard.begin(), shard.end());
  }
  CHECK(seen.size() == 9);
  CHECK(!seen.count(109));
  CHECK(!seen.count(110));  // the last 11 mod 3 = 2 positions are dropped
  CHECK(shard_of(order, 0, 1) == order);
  CHECK_THROWS_AS(shard_of(order, 3, 3), Error);
}

TEST_CASE("distributed training: a checkpoint keeps every rank's cursor and draws, for a run of that size") {
  const TempFolder folder("bigcolor_test_ranks_ckpt_");
  const std::string path = (folder.path() / "latest.safetensors").string();
  TinyTraining rank0(7), rank1(7);
  rank1.trainer->rng() = Rng(rank_seed(1007, 1));
  for (int i = 0; i < 5; ++i) rank1.trainer->rng().normal();  // rank 1's stream has moved on, with a spare normal
  const std::vector<RankProgress> states = {rank_progress(*rank0.trainer, 6), rank_progress(*rank1.trainer, 9)};
  save_training_checkpoint(path, *rank0.trainer, TrainProgress{3, 0, 3, 6}, "{}", states);

  TinyTraining fresh(99);
  const LoadedTrainingCheckpoint as1 = load_training_checkpoint(path, *fresh.trainer, 1, 2);
  CHECK(as1.world_size == 2);
  CHECK(as1.progress.step == 3);
  CHECK(as1.progress.data_cursor == 9);
  CHECK(fresh.trainer->rng().seed() == rank1.trainer->rng().seed());
  CHECK(fresh.trainer->rng().normal() == rank1.trainer->rng().normal());  // the same stream, the same position
  TinyTraining fresh0(98);
  CHECK(load_training_checkpoint(path, *fresh0.trainer, 0, 2).progress.data_cursor == 6);
  CHECK(fresh0.trainer->rng().seed() == 1007);

  CHECK_THROWS_WITH_AS(load_training_checkpoint(path, *fresh.trainer, 0, 1),
                       doctest::Contains("resume it with mpirun -np 2 (this run has 1 process)"), Error);
  CHECK_THROWS_WITH_AS(load_training_checkpoint(path, *fresh.trainer, 0, 3),
                       doctest::Contains("written by a run of 2 ranks"), Error);
  save_training_checkpoint(path, *rank0.trainer, TrainProgress{3, 0, 3, 6}, "{}");
  CHECK_THROWS_WITH_AS(load_training_checkpoint(path, *fresh.trainer, 1, 2),
                       doctest::Contains("resume it with one process (no mpirun)"), Error);
}
