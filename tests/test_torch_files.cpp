// The checkpoint reader (src/io/): torch.save archives (zip, ZIP64, legacy), plain pickles (argparse.Namespace,
// a config dict holding an nn.ReLU), every tensor compared bit for bit with what PyTorch wrote
// (tools/make_golden_checkpoints.py), and a clear Error naming the file for every broken or hostile input.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "io/pickle.h"
#include "io/torch_file.h"
#include "io/zip_archive.h"
#include "tensor/error.h"
#include "tensor/safetensors.h"
#include "test_util.h"

using namespace bigcolor;
using Kind = PickleValue::Kind;

namespace {

std::string ckpt(const std::string& name) { return test::golden_path("checkpoints/" + name); }

// Same shape, dtype and bytes; F32 NaNs match any NaN (PyTorch canonicalizes NaN payloads when it converts F16).
void check_bit_exact(const Tensor& got, const Tensor& want, const std::string& what) {
  INFO(what, ": got ", got.describe(), ", want ", want.describe());
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  if (got.dtype() == DType::F32) {
    const float* g = got.data<float>();
    const float* w = want.data<float>();
    std::size_t mismatches = 0;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
      const bool same = std::memcmp(&g[i], &w[i], 4) == 0 || (std::isnan(g[i]) && std::isnan(w[i]));
      mismatches += same ? 0 : 1;
    }
    CHECK(mismatches == 0);
  } else {
    CHECK(std::memcmp(got.raw(), want.raw(), got.nbytes()) == 0);
  }
}

void check_state_dict(const TorchFile& file) {
  const SafetensorsFile want = load_safetensors(ckpt("state_dict_expected.safetensors"));
  const NamedTensors got = state_dict_tensors(file.root(), file.path);
  CHECK(got.size() == want.tensors.size());
  std::set<std::string> names;
  for (const auto& [name, tensor] : got) {
    names.insert(name);
    REQUIRE(want.contains(name));
    check_bit_exact(tensor, want.at(name), file.path + ": " + name);
  }
  CHECK(names.size() == got.size());
  // Insertion order is PyTorch's: the module's entries first, then the extras in the order they were added.
  REQUIRE(got.size() >= 3);
  CHECK(got[0].first == "0.weight");
  CHECK(got[1].first == "0.bias");
  CHECK(got.back().first == "param");
  // Every tensor of the file is listed once, under the same names.
  CHECK(file.tensors.size() == got.size());
  for (std::size_t i = 0; i < got.size() && i < file.tensors.size(); ++i) CHECK(file.tensors[i].first == got[i].first);

  // What the records said: views, a parameter, dtypes kept or converted.
  const TensorRecord& strided = file.root().at("strided").tensor_record();
  CHECK(strided.storage_offset == 1);
  CHECK(strided.stride == Shape{6, 2});
  CHECK(&file.root().at("strided").tensor_record().storage->storage() ==
        &file.root().at("base").tensor_record().storage->storage());  // one shared storage
  CHECK(file.root().at("expanded").tensor_record().stride == Shape{1, 0});
  CHECK(file.root().at("param").tensor_record().parameter);
  CHECK(file.root().at("half").tensor_record().storage->storage().type_name == "HalfStorage");
  CHECK(file.root().at("half").tensor().dtype() == DType::F32);
  CHECK(file.root().at("index_i64").tensor().dtype() == DType::I64);
  CHECK(file.root().at("index_i32").tensor().dtype() == DType::I32);
  CHECK(file.root().at("scalar").tensor().shape().empty());
  CHECK(file.root().at("scalar").tensor().to_vector() == std::vector<float>{3.25f});
  CHECK(file.root().at("1.num_batches_tracked").tensor().data<std::int64_t>()[0] == 7);
  // The state_dict's _metadata attribute arrives as the OrderedDict's BUILD state.
  REQUIRE(file.root().state() != nullptr);
  CHECK(file.root().state()->find("_metadata") != nullptr);
}

void check_rejected(const std::string& name, const std::string& expected, bool plain = false) {
  const std::string path = ckpt(name);
  INFO("file: ", name);
  if (plain) {
    CHECK_THROWS_WITH_AS(load_pickle_file(path), doctest::Contains(expected.c_str()), Error);
  } else {
    CHECK_THROWS_WITH_AS(load_torch_state(path), doctest::Contains(expected.c_str()), Error);
  }
  try {
    if (plain) {
      load_pickle_file(path);
    } else {
      load_torch_state(path);
    }
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find(path) != std::string::npos);  // the message names the file
    CHECK(message.find('\n') == std::string::npos);  // on one line
  }
}

Pickle unpickle_bytes(const std::string& bytes) {
  UnpickleOptions options;
  options.source = "<memory>";
  return unpickle(bytes.data(), bytes.size(), options);
}

void check_bytes_rejected(const std::string& bytes, const std::string& expected) {
  INFO("expecting: ", expected);
  CHECK_THROWS_WITH_AS(unpickle_bytes(bytes), doctest::Contains(expected.c_str()), Error);
}

std::string temp_file(const std::string& name, const std::string& bytes) {
  const std::string path = "/tmp/bigcolor_test_torch_" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

}  // namespace

TEST_SUITE("torch_files") {

TEST_CASE("torch.save zip archive: every tensor bit-exact, views, dtypes, metadata") {
  const TorchFile file = load_torch_state(ckpt("state_dict.pt"));
  CHECK(file.format == "zip");
  check_state_dict(file);
}

TEST_CASE("torch.save legacy format (before PyTorch 1.6) reads the same tensors") {
  const TorchFile file = load_torch_state(ckpt("state_dict_legacy.pt"));
  CHECK(file.format == "legacy");
  check_state_dict(file);
}

TEST_CASE("ZIP64 records, an archive comment and another top folder name") {
  const TorchFile file = load_torch_state(ckpt("state_dict_zip64.pt"));
  CHECK(file.format == "zip");
  check_state_dict(file);
  const ZipArchive archive(ckpt("state_dict_zip64.pt"));
  CHECK(archive.find("EG_011/data.pkl") != nullptr);
  CHECK(archive.at("EG_011/byteorder").size == 6);
  CHECK(archive.read_all(archive.at("EG_011/byteorder")) == "little");
  CHECK_THROWS_WITH_AS(archive.at("EG_011/nope"), doctest::Contains("has no entry 'EG_011/nope'"), Error);
}

TEST_CASE("torch_ema state dict: decay, num_updates, shadow_params list, collected_params") {
  const TorchFile file = load_torch_state(ckpt("ema.pt"));
  CHECK(file.get_float("decay") == 0.999);
  CHECK(file.get_int("num_updates") == 12);
  CHECK(file.at("collected_params").is_none());
  const std::vector<Tensor> shadow = tensor_list(file.at("shadow_params"), file.path);
  const SafetensorsFile want = load_safetensors(ckpt("ema_expected.safetensors"));
  REQUIRE(shadow.size() == 3);
  for (std::size_t i = 0; i < shadow.size(); ++i)
    check_bit_exact(shadow[i], want.at("shadow_params." + std::to_string(i)), "shadow_params " + std::to_string(i));
  CHECK(file.tensors.size() == 3);
  CHECK(file.tensors[1].first == "shadow_params[1]");
  CHECK_THROWS_WITH_AS(state_dict_tensors(file.root(), file.path),
                       doctest::Contains("state dict entry 'decay' is a float, not a tensor"), Error);
  CHECK_THROWS_WITH_AS(file.get_int("decay"), doctest::Contains("'decay': expected int, found float"), Error);
}

TEST_CASE("args.pkl: a pickled argparse.Namespace (protocols 4 and 2)") {
  for (const char* name : {"args.pkl", "args_p2.pkl"}) {
    INFO(name);
    const TorchFile args = load_pickle_file(ckpt(name));
    CHECK(args.format == "pickle");
    CHECK(args.root().is(Kind::Object));
    CHECK(args.root().class_name() == "argparse.Namespace");
    CHECK(args.get_string("norm_type") == "adabatch");
    CHECK(args.get_int("num_layer") == 2);
    CHECK(args.get_int("dim_z") == 119);
    CHECK(args.get_string("activation") == "relu");
    CHECK(args.get_bool("use_attention"));
    CHECK_FALSE(args.get_bool("no_res"));
    CHECK(args.get_float("lr") == 1e-4);
    CHECK(args.get_float("size_target") == 256.0);  // an int read as a float
    CHECK(args.get_int("seed") == -3);
    CHECK(args.get_int("big") == (std::int64_t(1) << 40));
    CHECK(args.get_string("name") == "bigcolor \xe2\x9c\x93");
    CHECK(args.at("nothing").is_none());
    const PickleValue& betas = args.at("betas");
    REQUIRE(betas.is(Kind::List));
    REQUIRE(betas.size() == 2);
    CHECK(betas[0].as_float() == 0.0);
    CHECK(betas[1].as_float() == 0.999);
    CHECK(args.has("dim_z"));
    CHECK_FALSE(args.has("dim_y"));
    CHECK(args.tensors.empty());
    CHECK_THROWS_WITH_AS(args.get_int("dim_y"), doctest::Contains("no entry 'dim_y'"), Error);
    CHECK_THROWS_WITH_AS(args.get_int("norm_type"), doctest::Contains("'norm_type': expected int, found str"), Error);
    CHECK_THROWS_WITH_AS(args.get_int("use_attention"), doctest::Contains("expected int, found bool"), Error);
    CHECK_THROWS_WITH_AS(args.get_string("dim_z"), doctest::Contains(ckpt(name).c_str()), Error);
    CHECK_THROWS_WITH_AS(load_torch_state(ckpt(name)), doctest::Contains("a plain pickle, not a torch.save"), Error);
  }
}

TEST_CASE("config.pickle: a dict with an nn.ReLU object, a set, bytes, nested containers") {
  for (const char* name : {"config.pickle", "config_p2.pickle"}) {
    INFO(name);
    const TorchFile config = load_pickle_file(ckpt(name));
    CHECK(config.root().is(Kind::Dict));
    CHECK(config.get_int("resolution") == 256);
    CHECK(config.get_int("G_ch") == 96);
    CHECK(config.get_int("dim_z") == 120);
    CHECK(config.get_bool("G_shared"));
    CHECK(config.get_string("G_attn") == "64");
    CHECK(config.get_float("G_lr") == 5e-05);
    const PickleValue& relu = config.at("G_activation");
    REQUIRE(relu.is(Kind::Object));
    CHECK(relu.class_name() == "torch.nn.modules.activation.ReLU");
    CHECK(pickle_bool(relu, "inplace", name));
    CHECK(pickle_bool(relu, "training", name));
    CHECK(pickle_field(relu, "_modules", name).is(Kind::Dict));
    CHECK(pickle_field(relu, "_non_persistent_buffers_set", name).is(Kind::Set));
    CHECK(&config.at("D_activation") == &relu);  // one object, pickled once and memoized
    const PickleValue& ids = config.at("ids");
    REQUIRE(ids.is(Kind::Set));
    CHECK(ids.size() == 3);
    CHECK(config.at("blob").as_bytes() == std::string("\x00\xff" "ab", 4));
    const PickleValue& layers = config.at("layers");
    REQUIRE(layers.size() == 2);
    CHECK(layers[1].is(Kind::Tuple));
    CHECK(layers[1][0].as_int() == 3);
    const PickleValue& nested = config.at("nested").at("a");
    REQUIRE(nested.size() == 3);
    CHECK(nested[0].as_float() == 1.5);
    CHECK(nested[1].is_none());
    CHECK(nested[2].as_string() == "x");
    CHECK_THROWS_WITH_AS(pickle_int(relu, "inplace", name), doctest::Contains("expected int, found bool"), Error);
  }
}

TEST_CASE("broken, truncated and hostile files are clear errors naming the file") {
  check_rejected("bad_truncated.pt", "not a zip archive or truncated");
  check_rejected("bad_cd_offset.pt", "central directory (offset ");
  check_rejected("bad_cd_offset.pt", "lies outside the file");
  check_rejected("bad_cd_mismatch.pt", "the end record and the ZIP64 end record disagree about the central directory offset");
  check_rejected("bad_compressed.pt", "/data/0' is compressed (deflate, method 8); only stored");
  check_rejected("bad_crc.pt", "/data/0' fails its CRC-32 check");
  check_rejected("bad_storage_size.pt",
                 "storage entry 'archive/data/0' holds 20 bytes but its record says 6 elements of FloatStorage");
  check_rejected("bad_missing_storage.pt", "storage '7' has no entry 'archive/data/7'");
  check_rejected("bad_view_oob.pt", "tensor 'w' (shape (4), stride (1), offset 3) reaches past the end of its storage");
  check_rejected("bad_bool_storage.pt", "tensor 'mask' has BoolStorage data, which bigcolor does not read");
  // torch.save writes protocol 2, where Python spells builtins as __builtin__.
  check_rejected("bad_broadcast.pt", "tensor 'w' of shape (1048576, 1048576) is a broadcast view too large to copy");
  check_rejected("bad_huge_shape.pt", "tensor 'w' has an implausible shape (1099511627776, 1099511627776)");
  check_rejected("bad_global_in_zip.pt", "unsupported pickle global '__builtin__.eval'");
  check_rejected("bad_legacy_truncated.pt", "truncated: storage");
  check_rejected("bad_global.pkl", "unsupported pickle global 'os.system'", true);
  check_rejected("bad_unknown_opcode.pkl", "unknown pickle opcode 0xff", true);
  check_rejected("bad_unknown_opcode.pkl", "(at byte 4 of the pickle)", true);
  check_rejected("bad_truncated.pkl", "truncated pickle", true);
  check_rejected("bad_huge_string.pkl", "truncated pickle: BINUNICODE8 needs 1152921504606846976 bytes", true);
  check_rejected("bad_memo.pkl", "BINGET of memo entry 5, which was never stored", true);
  check_rejected("bad_deep.pkl", "nested deeper than 200 levels", true);
  check_rejected("bad_empty.pt", "empty file");
  check_rejected("bad_empty.pt", "empty file", true);
  check_rejected("bad_not_torch.txt", "not a torch.save checkpoint or a pickle (starts with bytes 68 65 6c 6c)");
  check_rejected("does_not_exist.pt", "cannot open file");
}

TEST_CASE("unpickler: opcodes and values") {
  // Integers: BININT (negative), BININT2, LONG1 of 0 bytes, of 8 bytes (-2^63), of 9 bytes (fits / does not fit).
  const Pickle ints = unpickle_bytes(std::string("\x80\x02(J\xfb\xff\xff\xffM\x2c\x01\x8a\x00\x8a\x08", 15) +
                                     std::string("\x00\x00\x00\x00\x00\x00\x00\x80", 8) +
                                     std::string("\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11) +
                                     std::string("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01", 11) + "t.");
  const PickleValue& t = ints.value();
  REQUIRE(t.size() == 6);
  CHECK(t[0].as_int() == -5);
  CHECK(t[1].as_int() == 300);
  CHECK(t[2].as_int() == 0);
  CHECK(t[3].as_int() == INT64_MIN);
  CHECK(t[4].as_int() == -1);
  CHECK(t[5].is(Kind::BigInt));
  CHECK_THROWS_WITH_AS(t[5].as_int(), doctest::Contains("does not fit in 64 bits"), Error);

  // BINFLOAT is big-endian; a repeated dict key keeps its first position and takes the last value.
  const Pickle dict = unpickle_bytes(std::string("\x80\x02}(K\x01G\x3f\xf8\x00\x00\x00\x00\x00\x00K\x02NK\x01\x88u.", 23));
  REQUIRE(dict.value().size() == 2);
  CHECK(dict.value().entries()[0].key->as_int() == 1);
  CHECK(dict.value().entries()[0].value->as_bool());
  CHECK(dict.value().entries()[1].value->is_none());

  // A list that contains itself (legal in pickles) is read without leaking or looping.
  const Pickle self = unpickle_bytes(std::string("\x80\x02]q\x00h\x00" "a.", 9));
  REQUIRE(self.value().size() == 1);
  CHECK(&self.value()[0] == &self.value());

  // FRAME, SHORT_BINBYTES, EMPTY_SET + ADDITEMS (duplicates dropped), FROZENSET, POP, DUP, POP_MARK.
  const Pickle misc = unpickle_bytes(std::string("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00", 11) +
                                     "(C\x02hi\x8f(K\x01K\x01K\x02\x90(K\x07\x91" "0N0(K\x01\x31" "K\x05" "2\x86t.");
  REQUIRE(misc.value().size() == 3);
  CHECK(misc.value()[0].as_bytes() == "hi");
  CHECK(misc.value()[1].size() == 2);
  CHECK(misc.value()[2].is(Kind::Tuple));
  CHECK(&misc.value()[2][0] == &misc.value()[2][1]);

  // Python 2's str (SHORT_BINSTRING, BINSTRING) reads as str; a negative BINSTRING length is refused.
  const Pickle py2 = unpickle_bytes(std::string("\x80\x02(U\x02hiT\x03\x00\x00\x00" "abct.", 17));
  REQUIRE(py2.value().size() == 2);
  CHECK(py2.value()[0].as_string() == "hi");
  CHECK(py2.value()[1].as_string() == "abc");
  check_bytes_rejected(std::string("\x80\x02T\xff\xff\xff\xff.", 8), "BINSTRING with a negative length");

  // persistent ids need a torch archive; the functions of an allowed module are still refused unless listed.
  check_bytes_rejected(std::string("\x80\x02X\x01\x00\x00\x00" "aQ.", 10), "persistent id in a plain pickle");
  check_bytes_rejected("\x80\x02" "ctorch._utils\n_load_from_bytes\n.", "unsupported pickle global 'torch._utils._load_from_bytes'");
  check_bytes_rejected("\x80\x02" "cbuiltins\ngetattr\n.", "unsupported pickle global 'builtins.getattr'");
  check_bytes_rejected("\x80\x02" "ctorch\nFloatStorage\n)R.", "cannot call torch.FloatStorage");
  check_bytes_rejected("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n)\x81.", "which is not a class");
  check_bytes_rejected("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n)R.", "_rebuild_tensor_v2 called with 0 arguments");
  check_bytes_rejected("\x80\x02K\x01)R.", "REDUCE of a int, not an allowed global");
  check_bytes_rejected("\x80\x02(i__main__\nX\n.", "unsupported pickle opcode 0x69 (INST)");
  check_bytes_rejected("\x80\x06N.", "unsupported pickle protocol 6");
  check_bytes_rejected("\x80\x02N", "truncated pickle");
  check_bytes_rejected("\x80\x02.", "STOP with an empty stack");
  check_bytes_rejected("\x80\x02" "a.", "stack underflow in APPEND");
  check_bytes_rejected("\x80\x02(N.", "STOP with an open MARK");
  check_bytes_rejected("\x80\x02]]a}]K\x01s.", "unhashable dict key of type list");
  check_bytes_rejected("\x80\x02" + std::string(20000, '('), "MARKs nested deeper than 10000");
  // A tuple key made of shared tuples would expand to 2^60 values if compared naively.
  std::string bomb = "\x80\x02}N";
  for (int i = 0; i < 60; ++i) bomb += "2\x86";
  check_bytes_rejected(bomb + "Ns.", "dict key or set item too large");
}

TEST_CASE("shared subtrees are walked once") {
  // A 2^60-leaf tree of shared lists holding one tensor-free value: walking it must not take 2^60 steps.
  std::string bytes = "\x80\x02]";
  for (int i = 0; i < 60; ++i) bytes += "2\x86";
  bytes += ".";
  const TorchFile file = load_pickle_file(temp_file("shared.pkl", bytes));
  CHECK(file.root().is(Kind::Tuple));
  CHECK(file.tensors.empty());
}

TEST_CASE("zip reader: CRC-32 and tiny archives") {
  CHECK(crc32_update(0, "123456789", 9) == 0xCBF43926u);  // the standard check value
  CHECK(crc32_update(crc32_update(0, "1234", 4), "56789", 5) == 0xCBF43926u);
  // An empty archive: just an end record. It opens, but holds no torch record.
  const std::string empty_zip("PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22);
  const std::string path = temp_file("empty.zip", empty_zip);
  CHECK(ZipArchive(path).entries().empty());
  CHECK_THROWS_WITH_AS(load_torch_state(path), doctest::Contains("has no <name>/data.pkl"), Error);
  // An end record whose comment length overshoots the file is not accepted.
  std::string lying = empty_zip;
  lying[20] = 5;
  CHECK_THROWS_WITH_AS(ZipArchive(temp_file("lying.zip", lying)), doctest::Contains("no end-of-central-directory"),
                       Error);
  // A central directory that claims more entries than it has room for.
  std::string many = empty_zip;
  many[8] = many[10] = 3;
  CHECK_THROWS_WITH_AS(ZipArchive(temp_file("many.zip", many)), doctest::Contains("claims 3 entries"), Error);
}

}  // TEST_SUITE
