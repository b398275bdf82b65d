// `mpirun -np 2 bigcolor train` (OpenMPI on the CPU, as CI runs it: as root, two ranks on two cores), on the
// reduced-width model of test_cli_train.cpp:
//   - its losses and weights against an in-process reference: the same two ranks as threads of the test
//     (tests/thread_group.h), each with its shard, its seed and its half of the global batch;
//   - a 2-rank resume equals an uninterrupted 2-rank run, bit for bit; a resume with another rank count is refused;
//   - a rank killed mid-run, or stopped (it no longer answers): the run ends within a bound, non-zero, and its last
//     checkpoint resumes;
//   - ranks started with different options are refused at start in one line.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <omp.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_test_util.h"
#include "models/checkpoint.h"
#include "models/vgg16.h"
#include "tensor/safetensors.h"
#include "thread_group.h"
#include "train/data_loader.h"
#include "train/init.h"
#include "train/train_checkpoint.h"
#include "train/trainer.h"

using namespace bigcolor;
using namespace bigcolor::test::cli;

#ifdef BIGCOLOR_CLI_MPIRUN

namespace {

std::string mpirun(int ranks) {
  return quote(BIGCOLOR_CLI_MPIRUN) + " --allow-run-as-root --oversubscribe -np " + std::to_string(ranks);
}

std::string vgg_path() { return test::golden_path("training_tiny/vgg16_tiny.pth"); }

// The run of these tests: width 4, 10 classes, 64x64, the global batch 2 (one image per rank), one compute thread
// per rank (the reference threads use one too, so the sums are taken in the same order).
std::vector<std::string> train_args(const std::string& data, const std::string& out, std::int64_t max_steps) {
  return {"train", "--data", data, "--out", out, "--vgg", vgg_path(), "--width", "4", "--n-classes", "10",
          "--image-size", "64", "--batch", "2", "--max-steps", std::to_string(max_steps), "--log-every", "1",
          "--sample-every", "0", "--checkpoint-every", "2", "--lr", "1e-3", "--lr-d", "1e-3", "--workers", "1",
          "--threads", "1", "--seed", "5", "--device", "cpu", "-q"};
}

std::vector<nlohmann::json> log_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

struct ReferenceRun {
  std::vector<train::StepLosses> losses;  // rank 0's (the ranks' means)
  std::unique_ptr<Colorizer> eg;          // rank 0's models after the last step
  std::unique_ptr<Discriminator> d;
};

// What `mpirun -np 2 bigcolor train train_args(data, ..., steps)` computes, built here from the library: the
// command's initialization from --seed, each rank's DataLoader shard and Rng seed, a Trainer per rank on a thread.
ReferenceRun reference_run(const std::string& data, int steps) {
  constexpr int kRanks = 2;
  test::ThreadHub hub(kRanks);
  ReferenceRun out;
  hub.run([&](int rank) {
    omp_set_num_threads(1);  // per thread, as --threads 1 on each rank
    ColorizerConfig config;
    config.biggan.G_ch = config.biggan.D_ch = config.encoder_ch = 4;
    config.biggan.n_classes = 10;
    Rng init_rng(5);
    auto eg = std::make_unique<Colorizer>(config);
    train::init_orthogonal(*eg, init_rng);
    auto d = std::make_unique<Discriminator>(config.biggan);
    train::init_orthogonal(*d, init_rng);
    const std::unique_ptr<VGG16Features> vgg = load_vgg16_features(vgg_path());
    eg->set_grad_enabled(true);
    d->set_grad_enabled(true);
    train::TrainOptions options;
    options.adam_g.lr = 1e-3;
    options.adam_d.lr = 1e-3;
    train::Trainer trainer(*eg, *d, vgg.get(), options, train::rank_seed(5, rank));
    test::ThreadGroup group(hub, rank);
    trainer.set_process_group(&group, rank == 0);
    train::DatasetOptions data_options;
    data_options.n_classes = 10;
    train::LoaderOptions loader_options;
    loader_options.batch_size = 1;
    loader_options.image_size = 64;
    loader_options.seed = 5;
    loader_options.num_threads = 1;
    loader_options.rank = rank;
    loader_options.world_size = kRanks;
    train::DataLoader loader(train::scan_dataset(data, data_options), loader_options);
    trainer.set_epoch(0);
    loader.start_epoch(0);
    for (int s = 0; s < steps; ++s) {
      const std::optional<train::Batch> batch = loader.next();
      REQUIRE(batch);
      train::StepBatch step;
      step.x = batch->x;
      step.classes = batch->classes;
      const train::StepLosses l = trainer.step(step);
      if (rank == 0) out.losses.push_back(l);
    }
    trainer.set_process_group(nullptr, true);
    if (rank == 0) {
      out.eg = std::move(eg);
      out.d = std::move(d);
    }
  });
  return out;
}

// The pid of rank `rank` of the run writing into `out` (its command line names `out`; mpirun gives each rank its
// number in OMPI_COMM_WORLD_RANK), or -1.
pid_t find_rank(const std::string& out, int rank) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_text(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(BIGCOLOR_CLI_PATH) != 0 || cmdline.find(out) == std::string::npos) continue;
    std::string env = read_text(entry.path() / "environ");
    std::replace(env.begin(), env.end(), '\0', '\n');
    if (env.find("\nOMPI_COMM_WORLD_RANK=" + std::to_string(rank) + "\n") != std::string::npos) return std::stoi(name);
  }
  return -1;
}

// Starts `command` in the background (a shell of its own); returns its pid.
pid_t start(const std::string& command) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Waits at most `seconds` for `pid`; its exit status (128 + signal), or -1 when it was still running (then killed).
int wait_for(pid_t pid, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

bool wait_for_file(const std::string& path, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (fs::exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

#endif

TEST_SUITE("cli") {

#ifdef BIGCOLOR_CLI_MPIRUN

TEST_CASE("cli mpi train: two ranks give the losses and weights of the in-process reference") {
  Scratch s;
  const std::string data = write_image_folder(s / "data", 3, 3);  // 9 images: 4 per rank, one dropped
  const Result r = run_with(mpirun(2), train_args(data, s / "run", 3));
  REQUIRE_MESSAGE(r.status == 0, describe(r));
  CHECK(count(r.err, "3 steps done") == 1);  // rank 0 alone reports

  const ReferenceRun ref = reference_run(data, 3);
  const std::vector<nlohmann::json> log = log_lines(s / "run/log.jsonl");
  REQUIRE(log.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    INFO("step ", i + 1);
    CHECK(log[i].at("ranks") == 2);
    CHECK(log[i].at("communication_s").get<double>() >= 0.0);
    CHECK(log[i].at("loss_d").get<double>() == doctest::Approx(ref.losses[i].loss_d).epsilon(1e-5));
    CHECK(log[i].at("loss_g").get<double>() == doctest::Approx(ref.losses[i].loss_g).epsilon(1e-5));
    CHECK(log[i].at("mse").get<double>() == doctest::Approx(ref.losses[i].mse).epsilon(1e-5));
    CHECK(log[i].at("lpips").get<double>() == doctest::Approx(ref.losses[i].lpips).epsilon(1e-5));
  }
  const SafetensorsFile ckpt = load_safetensors(s / "run/checkpoints/latest.safetensors");
  const auto check_state = [&](Module& reference, const std::string& prefix) {
    int compared = 0;
    for (const Module::NamedTensor& t : reference.state()) {
      const std::string name = prefix + t.name;
      INFO(name);
      const test::Comparison c = test::compare(ckpt.at(name), t.tensor);
      if (c.reference_is_zero) CHECK(c.max_abs_error == 0.0);  // never moved (unused parameters, zero biases)
      else CHECK_MESSAGE(c.normalized_error <= 1e-5, c.describe());
      compared += c.reference_is_zero ? 0 : 1;
    }
    CHECK(compared > 20);
  };
  check_state(*ref.eg, "EG.");
  check_state(*ref.d, "D.");
}

TEST_CASE("cli mpi train: a 2-rank resume equals an uninterrupted 2-rank run; another rank count is refused") {
  Scratch s;
  const std::string data = write_image_folder(s / "data", 3, 3);
  std::vector<std::string> straight = train_args(data, s / "straight", 6);  // 4 steps per epoch: crosses epoch 1
  const Result a = run_with(mpirun(2), straight);
  REQUIRE_MESSAGE(a.status == 0, describe(a));
  const Result first = run_with(mpirun(2), train_args(data, s / "resumed", 3));
  REQUIRE_MESSAGE(first.status == 0, describe(first));
  std::vector<std::string> resume = train_args(data, s / "resumed", 6);
  resume.push_back("--resume");
  const Result second = run_with(mpirun(2), resume);
  REQUIRE_MESSAGE(second.status == 0, describe(second));

  const SafetensorsFile x = load_safetensors(s / "straight/checkpoints/latest.safetensors");
  const SafetensorsFile y = load_safetensors(s / "resumed/checkpoints/latest.safetensors");
  REQUIRE(x.tensors.size() == y.tensors.size());
  for (const auto& [name, tensor] : x.tensors) {
    INFO(name);
    CHECK(test::compare(y.at(name), tensor).max_abs_error == 0.0);
  }
  const auto lx = log_lines(s / "straight/log.jsonl"), ly = log_lines(s / "resumed/log.jsonl");
  REQUIRE(lx.size() == 6);
  REQUIRE(ly.size() == 6);
  for (std::size_t i = 0; i < 6; ++i)
    for (const char* key : {"step", "epoch", "loss_d", "loss_g", "mse", "lpips"}) CHECK_MESSAGE(lx[i].at(key) == ly[i].at(key), key);

  // The checkpoint knows its two ranks: one process cannot continue it (nor can a 1-rank checkpoint go on with 2).
  const Result one = run(resume);
  CHECK(one.status == 1);
  CHECK(one.err.find("written by a run of 2 ranks; resume it with mpirun -np 2") != std::string::npos);
  std::vector<std::string> single = train_args(data, s / "single", 2);
  single[std::find(single.begin(), single.end(), "--batch") - single.begin() + 1] = "1";
  REQUIRE(run(single).status == 0);
  single[std::find(single.begin(), single.end(), "--batch") - single.begin() + 1] = "2";
  single.push_back("--resume");
  const Result two = run_with(mpirun(2), single);
  CHECK(two.status == 1);
  CHECK(count(two.err, "written by a run of 1 process; resume it with one process (no mpirun)") == 1);  // rank 0
}

TEST_CASE("cli mpi train: a killed or stopped rank ends the run within a bound; its checkpoint resumes") {
  Scratch s;
  const std::string data = write_image_folder(s / "data", 3, 3);
  for (const int signal : {SIGKILL, SIGSTOP}) {
    INFO("signal ", signal);
    const std::string out = s / ("run" + std::to_string(signal));
    std::vector<std::string> args = train_args(data, out, 100000);
    args.insert(args.end(), {"--rank-timeout", "5"});
    std::string command = command_line(mpirun(2), args);
    command += " >";
    command += quote(out + ".out");
    command += " 2>";
    command += quote(out + ".err");
    const pid_t launcher = start(command);
    REQUIRE(wait_for_file(out + "/checkpoints/latest.safetensors", 120.0));
    const pid_t victim = find_rank(out, 1);
    REQUIRE(victim > 0);
    const auto killed_at = std::chrono::steady_clock::now();
    kill(victim, signal);
    const int status = wait_for(launcher, 60.0);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
    if (signal == SIGSTOP) kill(victim, SIGKILL);  // if mpirun left it
    CHECK_MESSAGE(status > 0, "the run did not end within 60 s, or ended with status 0: ", status);
    MESSAGE("signal ", signal, ": the run ended ", took, " s after the rank was hit");
    const std::string err = read_text(out + ".err");
    if (signal == SIGSTOP) CHECK_MESSAGE(err.find("waited 5 s for the other ranks") != std::string::npos, err);
    // The last checkpoint is whole and a 2-rank run continues from it.
    const ColorizerConfig config = train::training_checkpoint_config(out + "/checkpoints/latest.safetensors");
    CHECK(config.biggan.G_ch == 4);
    const std::int64_t at = nlohmann::json::parse(
        load_safetensors(out + "/checkpoints/latest.safetensors").metadata.at("bigcolor.progress")).at("step");
    std::vector<std::string> resume = train_args(data, out, at + 2);
    resume.push_back("--resume");
    const Result resumed = run_with(mpirun(2), resume);
    CHECK_MESSAGE(resumed.status == 0, describe(resumed));
  }
}

TEST_CASE("cli mpi train: ranks with different options, or a batch that does not divide, are refused") {
  Scratch s;
  const std::string data = write_image_folder(s / "data", 3, 3);
  std::vector<std::string> other = train_args(data, s / "run", 2);
  other.insert(other.end(), {"--coef-adv", "0.5"});
  // MPMD: rank 0 and rank 1 started with different command lines.
  const Result r = run_shell(command_line(mpirun(1), train_args(data, s / "run", 2)) + " : " +
                             command_line("-np 1", other));
  CHECK(r.status == 1);
  CHECK(count(r.err, "the ranks disagree on the options: rank 1 differ from rank 0") == 1);
  CHECK(!fs::exists(s / "run/checkpoints"));

  std::vector<std::string> odd = train_args(data, s / "odd", 2);
  odd[std::find(odd.begin(), odd.end(), "--batch") - odd.begin() + 1] = "3";
  const Result indivisible = run_with(mpirun(2), odd);
  CHECK(indivisible.status != 0);
  CHECK(indivisible.err.find("--batch 3 is the global batch: it must divide among the 2 ranks") != std::string::npos);
}

#endif

}  // TEST_SUITE("cli")

#ifdef BIGCOLOR_CLI_MPIRUN
TEST_SUITE("cuda" * doctest::skip(!cuda_available())) {

// One GPU cannot hold two NCCL ranks (NCCL refuses a duplicate GPU), but `mpirun -np 1` makes a group of one, whose
// collectives run through NCCL all the same (broadcasts, overlapped all-reduces on NCCL's stream): the run must be
// exactly the run of a single process.
TEST_CASE("cuda mpi train: a one-rank NCCL group trains exactly as one process on the GPU") {
  Scratch s;
  const std::string data = write_image_folder(s / "data", 2, 2);
  std::vector<std::string> args = train_args(data, s / "plain", 3);
  args[std::find(args.begin(), args.end(), "--device") - args.begin() + 1] = "cuda";
  const Result plain = run(args);
  REQUIRE_MESSAGE(plain.status == 0, describe(plain));
  args[std::find(args.begin(), args.end(), "--out") - args.begin() + 1] = s / "nccl";
  const Result nccl = run_with(mpirun(1), args);
  REQUIRE_MESSAGE(nccl.status == 0, describe(nccl));
  const auto a = log_lines(s / "plain/log.jsonl"), b = log_lines(s / "nccl/log.jsonl");
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(b[i].at("ranks") == 1);
    for (const char* key : {"loss_d", "loss_g", "mse", "lpips"}) CHECK_MESSAGE(a[i].at(key) == b[i].at(key), key);
  }
  const SafetensorsFile x = load_safetensors(s / "plain/checkpoints/latest.safetensors");
  const SafetensorsFile y = load_safetensors(s / "nccl/checkpoints/latest.safetensors");
  for (const auto& [name, tensor] : x.tensors) {
    INFO(name);
    CHECK(test::compare(y.at(name), tensor).max_abs_error == 0.0);
  }
}

}  // TEST_SUITE("cuda")
#endif
