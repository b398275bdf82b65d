// Safetensors: exact round trips, and a clear Error for every kind of broken or lying file.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "tensor/error.h"
#include "tensor/safetensors.h"

using namespace bigcolor;

namespace {
std::string temp_file(const std::string& name) { return "/tmp/bigcolor_test_" + name; }

// Writes a file made of an 8-byte length, a header text and `data_bytes` bytes of data.
void write_raw(const std::string& path, const std::string& header, std::size_t data_bytes,
               std::uint64_t claimed_length = 0) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  std::uint64_t n = claimed_length ? claimed_length : header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
  f << header;
  for (std::size_t i = 0; i < data_bytes; ++i) f.put('\0');
}

void check_rejected(const std::string& header, std::size_t data_bytes, const std::string& expected_message,
                    std::uint64_t claimed_length = 0) {
  const std::string path = temp_file("bad.safetensors");
  write_raw(path, header, data_bytes, claimed_length);
  INFO("header: ", header);
  CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains(expected_message.c_str()), Error);
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);  // the message names the file
  }
}
}  // namespace

TEST_CASE("safetensors: round trip is bit-exact, with metadata") {
  const std::string path = temp_file("roundtrip.safetensors");
  Tensor a = Tensor::from_vector({1.5f, -2.25f, 3e-38f, 1e30f, 0.0f, -0.0f}, {2, 3});
  Tensor idx = Tensor::from_indices({7, -3, 1000}, {3});
  Tensor empty = Tensor::zeros({0, 5});
  save_safetensors(path, {{"a.weight", a}, {"idx", idx}, {"empty", empty}}, {{"config", "{\"ch\": 96}"}});
  SafetensorsFile f = load_safetensors(path);
  CHECK(f.tensors.size() == 3);
  CHECK(f.metadata.at("config") == "{\"ch\": 96}");
  CHECK(f.at("a.weight").shape() == Shape{2, 3});
  CHECK(f.at("a.weight").to_vector() == a.to_vector());
  CHECK(std::signbit(f.at("a.weight").to_vector()[5]));
  CHECK(f.at("idx").to_indices() == idx.to_indices());
  CHECK(f.at("empty").shape() == Shape{0, 5});
  CHECK_THROWS_WITH_AS(f.at("missing"), doctest::Contains("no tensor named 'missing'"), Error);
  std::ifstream tmp(path + ".tmp");
  CHECK_FALSE(tmp.good());  // the temporary file was renamed away
}

TEST_CASE("safetensors: F64 tensors are read as F32, rounded to nearest") {
  const std::string path = temp_file("f64.safetensors");
  const std::string header = R"({"d":{"dtype":"F64","shape":[3],"data_offsets":[0,24]}})";
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
    f << header;
    const double values[3] = {0.1, -176.28214450001, 1e300};
    f.write(reinterpret_cast<const char*>(values), sizeof values);
  }
  const SafetensorsFile file = load_safetensors(path);
  const Tensor& d = file.at("d");
  CHECK(d.dtype() == DType::F32);
  const std::vector<float> v = d.to_vector();
  CHECK(v[0] == 0.1f);
  CHECK(v[1] == static_cast<float>(-176.28214450001));
  CHECK(std::isinf(v[2]));  // beyond F32's range
  check_rejected(R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", 8, "needs 16");
}

TEST_CASE("safetensors: broken and lying files are clear errors") {
  CHECK_THROWS_WITH_AS(load_safetensors("/nonexistent/x.safetensors"), doctest::Contains("cannot open"), Error);
  const std::string tiny = temp_file("tiny.safetensors");
  { std::ofstream(tiny) << "abc"; }
  CHECK_THROWS_WITH_AS(load_safetensors(tiny), doctest::Contains("shorter than its header"), Error);

  const std::string ok = R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  check_rejected(ok, 8, "run past the end of the data");                 // truncated data
  check_rejected(ok, 16, "exceeds the 100 MB limit", 200ull << 20);      // header length absurd
  check_rejected(ok, 16, "truncated: header claims", ok.size() + 1000);  // header longer than the file
  check_rejected("{not json", 0, "not valid JSON");
  check_rejected("[1,2]", 0, "not a JSON object");
  check_rejected(R"({"t":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}})", 8, "unsupported dtype F99");
  check_rejected(R"({"t":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16, "needs 16");
  check_rejected(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "negative dimension");
  check_rejected(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "end before they begin");
  check_rejected(R"({"t":{"dtype":"F32","shape":[2]}})", 8, "data_offsets");
  check_rejected(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                 12, "overlap");
  check_rejected(R"({"__metadata__":{"k":5}})", 0, "is not a string");
}

TEST_CASE("safetensors: a failed save leaves the existing file untouched") {
  const std::string path = temp_file("keep.safetensors");
  save_safetensors(path, {{"x", Tensor::from_vector({1, 2}, {2})}});
  CHECK_THROWS_AS(save_safetensors(path, {{"x", Tensor{}}}), Error);  // refused before anything is written
  CHECK(load_safetensors(path).at("x").to_vector() == std::vector<float>{1, 2});
  CHECK_THROWS_AS(save_safetensors("/nonexistent-dir/y.safetensors", {{"x", Tensor::zeros({1})}}), Error);
}
