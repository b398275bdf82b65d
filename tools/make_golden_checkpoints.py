#!/usr/bin/env python3
"""Writes the test files of bigcolor's checkpoint reader (src/io/) to tests/golden/checkpoints/.

How to run (from the repository root; needs `torch` and `safetensors` from PyPI, CPU only):

    /work/venv-torch/bin/python tools/make_golden_checkpoints.py            # writes tests/golden/checkpoints/
    /work/venv-torch/bin/python tools/make_golden_checkpoints.py --out DIR  # writes elsewhere

Tensor values are drawn from a seeded generator, so a rerun writes the same values; torch.save archives still
differ from run to run in their `.data/serialization_id` record. Everything together stays far below 1 MB.

Good files (read by tests/test_torch_files.cpp, which compares every tensor bit for bit with the *_expected files):
  state_dict.pt            torch.save (zip) of an nn.Module state_dict (an OrderedDict with _metadata) plus extra
                           entries: a 0-d tensor, views that share a storage (a strided slice, a flat slice with a
                           storage offset, a transpose, an expand with a zero stride), I64, I32, F16 (with
                           subnormals, infinities, NaN), BF16 and F64 tensors, an empty tensor and an nn.Parameter.
  state_dict_legacy.pt     the same dict in the pre-1.6 format (_use_new_zipfile_serialization=False).
  state_dict_zip64.pt      the same archive rewritten by this script with ZIP64 records everywhere (ZIP64 extra
                           fields, ZIP64 end record and locator), the top folder renamed to "EG_011" and an archive
                           comment.
  state_dict_expected.safetensors  every tensor of state_dict.pt, contiguous; F16/BF16/F64 converted to F32 by torch.
  ema.pt, ema_expected.safetensors  a torch_ema-style state dict {decay, num_updates, shadow_params, collected_params}.
  args.pkl, args_p2.pkl    pickle.dump of an argparse.Namespace (default protocol 4, and protocol 2).
  config.pickle, config_p2.pickle  pickle.dump of a dict like DGP's BigGAN config, holding one nn.ReLU(inplace=True)
                           under two keys, a set, bytes and nested containers (protocol 4, and protocol 2).
Bad files (each must be a bigcolor::Error naming the file and the problem):
  bad_truncated.pt         state_dict.pt cut in half.
  bad_cd_offset.pt         state_dict.pt with a bit flipped in the central directory offset of both end records
                           (the classic one and the ZIP64 one torch.save also writes).
  bad_cd_mismatch.pt       the same bit flipped in the classic end record only.
  bad_compressed.pt        state_dict.pt rewritten with one storage entry deflated.
  bad_crc.pt               state_dict.pt with one byte of tensor data changed.
  bad_storage_size.pt      a storage entry shorter than its record says.
  bad_missing_storage.pt   a persistent id naming a storage the archive does not hold.
  bad_view_oob.pt          a tensor view reaching past the end of its storage.
  bad_bool_storage.pt      a tensor of BoolStorage (not read by bigcolor).
  bad_broadcast.pt         a zero-stride view of 2**40 elements (a huge allocation if copied).
  bad_huge_shape.pt        a shape whose element count overflows 64 bits.
  bad_global_in_zip.pt     a torch.save archive whose data.pkl calls builtins.eval.
  bad_legacy_truncated.pt  state_dict_legacy.pt cut inside its storage data.
  bad_global.pkl           a pickle calling os.system.
  bad_unknown_opcode.pkl   a pickle with the byte 0xff where an opcode belongs.
  bad_truncated.pkl        args.pkl cut short.
  bad_huge_string.pkl      a BINUNICODE8 claiming 2**60 bytes.
  bad_memo.pkl             a BINGET of a memo entry never stored.
  bad_deep.pkl             a list nested 300 levels deep.
  bad_empty.pt             an empty file.
  bad_not_torch.txt        a text file.
"""

import argparse
import collections
import io
import os
import pickle
import struct
import zipfile
import zlib

import torch
from safetensors.torch import save_file

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "checkpoints")


def expected(t):
    t = t.detach().contiguous().clone()
    if t.dtype in (torch.float16, torch.bfloat16, torch.float64):
        t = t.float()
    return t


def make_state_dict():
    g = torch.Generator().manual_seed(2024)
    module = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Flatten(),
                                 torch.nn.Linear(4, 5))
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
        module[1].running_mean.copy_(torch.randn(3, generator=g))
        module[1].running_var.copy_(torch.rand(3, generator=g) + 0.5)
        module[1].num_batches_tracked.fill_(7)
    sd = module.state_dict()  # an OrderedDict with a _metadata attribute
    base = torch.randn(4, 6, generator=g)
    sd["scalar"] = torch.tensor(3.25)
    sd["base"] = base
    sd["strided"] = base[:, 1::2]                   # shares base's storage: offset 1, stride (6, 2)
    sd["flat_slice"] = base.view(-1)[5:9]           # offset 5, contiguous
    sd["transposed"] = torch.randn(3, 5, generator=g).t()  # stride (1, 5)
    sd["expanded"] = torch.randn(3, 1, generator=g).expand(3, 4)  # stride (1, 0)
    sd["index_i64"] = torch.tensor([0, -1, 2**40 + 3, -(2**62), 119], dtype=torch.int64)
    sd["index_i32"] = torch.tensor([[1, -2], [2**31 - 1, -(2**31)]], dtype=torch.int32)
    half_bits = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x3555]
    sd["half"] = torch.tensor([b - 65536 if b >= 32768 else b for b in half_bits], dtype=torch.int16).view(
        torch.float16).reshape(3, 4)
    sd["bf16"] = (torch.randn(2, 3, generator=g) * 100).to(torch.bfloat16)
    sd["f64"] = torch.randn(5, generator=g, dtype=torch.float64) * 1e3 + 1 / 3
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    return sd


def zip_entries(path):
    with zipfile.ZipFile(path) as z:
        return [(info.filename, z.read(info.filename)) for info in z.infolist()]


def write_zip64(path, entries, comment):
    """A ZIP writer of our own that uses every ZIP64 record (APPNOTE 4.3.14-4.3.16, 4.5.3)."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        nb = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(data))
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(nb),
                           len(local_extra)) + nb + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                               len(nb), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + nb + extra
    cd_offset = len(out)
    out += central
    z64_offset = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
                       len(comment)) + comment
    with open(path, "wb") as f:
        f.write(out)
    with zipfile.ZipFile(path) as z:  # Python's own reader must agree
        assert z.testzip() is None and z.comment == comment


def write_stored_zip(path, entries, deflate=()):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED if name in deflate else zipfile.ZIP_STORED
            z.writestr(info, data)


# ---- hand-made torch archives (for lying records) ----------------------------------------------------------------

class FakeStorage:
    def __init__(self, storage_type, key, numel):
        self.storage_type, self.key, self.numel = storage_type, key, numel


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class FakePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", obj.storage_type, obj.key, "cpu", obj.numel)
        return None


def write_fake_archive(path, obj, storages):
    buf = io.BytesIO()
    FakePickler(buf, protocol=2).dump(obj)
    entries = [("archive/data.pkl", buf.getvalue()), ("archive/byteorder", b"little")]
    entries += [(f"archive/data/{key}", data) for key, data in storages.items()]
    entries.append(("archive/version", b"3\n"))
    write_stored_zip(path, entries)


class Eval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT)
    out = parser.parse_args().out
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    # ---- state dicts ----
    sd = make_state_dict()
    torch.save(sd, p("state_dict.pt"))
    torch.save(sd, p("state_dict_legacy.pt"), _use_new_zipfile_serialization=False)
    save_file({k: expected(v) for k, v in sd.items()}, p("state_dict_expected.safetensors"))
    entries = zip_entries(p("state_dict.pt"))
    top = entries[0][0].split("/")[0]
    renamed = [("EG_011/" + name[len(top) + 1:], data) for name, data in entries]
    write_zip64(p("state_dict_zip64.pt"), renamed, b"bigcolor test archive comment")

    g = torch.Generator().manual_seed(7)
    shadow = [torch.randn(3, 2, 3, 3, generator=g), torch.randn(3, generator=g), torch.randn(5, 4, generator=g)]
    torch.save({"decay": 0.999, "num_updates": 12, "shadow_params": shadow, "collected_params": None}, p("ema.pt"))
    save_file({f"shadow_params.{i}": expected(t) for i, t in enumerate(shadow)}, p("ema_expected.safetensors"))

    # ---- plain pickles ----
    args = argparse.Namespace(norm_type="adabatch", num_layer=2, dim_z=119, activation="relu", use_attention=True,
                              no_res=False, lr=1e-4, betas=[0.0, 0.999], size_target=256, seed=-3, big=2**40,
                              name="bigcolor \u2713", nothing=None)
    for name, protocol in (("args.pkl", pickle.DEFAULT_PROTOCOL), ("args_p2.pkl", 2)):
        with open(p(name), "wb") as f:
            pickle.dump(args, f, protocol=protocol)
    relu = torch.nn.ReLU(inplace=True)
    config = {"resolution": 256, "G_ch": 96, "dim_z": 120, "G_shared": True, "hier": True, "G_attn": "64",
              "G_lr": 5e-05, "G_activation": relu, "D_activation": relu, "layers": [(1, 2), (3, 4)],
              "ids": {1, 2, 3}, "blob": b"\x00\xffab", "nested": {"a": [1.5, None, "x"]}}
    for name, protocol in (("config.pickle", pickle.DEFAULT_PROTOCOL), ("config_p2.pickle", 2)):
        with open(p(name), "wb") as f:
            pickle.dump(config, f, protocol=protocol)

    # ---- broken files ----
    data = open(p("state_dict.pt"), "rb").read()
    open(p("bad_truncated.pt"), "wb").write(data[: len(data) // 2])
    end = data.rfind(b"PK\x05\x06")
    cd_offset = struct.unpack_from("<I", data, end + 16)[0]
    bad = bytearray(data)
    struct.pack_into("<I", bad, end + 16, cd_offset ^ 0x00100000)
    open(p("bad_cd_mismatch.pt"), "wb").write(bad)  # torch.save also writes a ZIP64 end record, which now disagrees
    z64 = data.rfind(b"PK\x06\x06")
    assert z64 > 0 and struct.unpack_from("<Q", data, z64 + 48)[0] == cd_offset
    struct.pack_into("<Q", bad, z64 + 48, cd_offset ^ 0x00100000)
    open(p("bad_cd_offset.pt"), "wb").write(bad)  # both records flipped alike
    write_stored_zip(p("bad_compressed.pt"), entries, deflate={f"{top}/data/0"})
    with zipfile.ZipFile(p("state_dict.pt")) as z:  # flip a bit of data/0's bytes, leaving its recorded CRC alone
        info = z.getinfo(f"{top}/data/0")
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    crc_bad = bytearray(data)
    crc_bad[info.header_offset + 30 + name_len + extra_len] ^= 1
    open(p("bad_crc.pt"), "wb").write(crc_bad)

    floats = struct.pack("<6f", *range(6))
    write_fake_archive(p("bad_storage_size.pt"), {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 6), 0, [6], [1])},
                       {"0": floats[:20]})
    write_fake_archive(p("bad_missing_storage.pt"),
                       {"w": FakeTensor(FakeStorage(torch.FloatStorage, "7", 6), 0, [6], [1])}, {"0": floats})
    write_fake_archive(p("bad_view_oob.pt"), {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 6), 3, [4], [1])},
                       {"0": floats})
    write_fake_archive(p("bad_bool_storage.pt"),
                       {"mask": FakeTensor(FakeStorage(torch.BoolStorage, "0", 4), 0, [4], [1])}, {"0": b"\x01\x00\x01\x01"})
    write_fake_archive(p("bad_broadcast.pt"),
                       {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 6), 0, [2**20, 2**20], [0, 0])},
                       {"0": floats})
    write_fake_archive(p("bad_huge_shape.pt"),
                       {"w": FakeTensor(FakeStorage(torch.FloatStorage, "0", 6), 0, [2**40, 2**40], [1, 1])},
                       {"0": floats})
    torch.save({"x": Eval()}, p("bad_global_in_zip.pt"))
    legacy = open(p("state_dict_legacy.pt"), "rb").read()
    open(p("bad_legacy_truncated.pt"), "wb").write(legacy[:-10])

    open(p("bad_global.pkl"), "wb").write(b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R.")
    open(p("bad_unknown_opcode.pkl"), "wb").write(b"\x80\x04K\x01\xff.")
    args_bytes = open(p("args.pkl"), "rb").read()
    open(p("bad_truncated.pkl"), "wb").write(args_bytes[: len(args_bytes) - 20])
    open(p("bad_huge_string.pkl"), "wb").write(b"\x80\x04\x8d" + struct.pack("<Q", 2**60) + b"abc.")
    open(p("bad_memo.pkl"), "wb").write(b"\x80\x02]q\x00h\x05a.")
    deep = []
    for _ in range(300):
        deep = [deep]
    with open(p("bad_deep.pkl"), "wb") as f:
        pickle.dump(deep, f, protocol=4)
    open(p("bad_empty.pt"), "wb").close()
    open(p("bad_not_torch.txt"), "w").write("hello, this is not a checkpoint\n")

    for name in ("state_dict_expected.safetensors", "ema_expected.safetensors"):
        os.chmod(p(name), 0o644)  # safetensors writes 0600
    total = sum(os.path.getsize(p(n)) for n in os.listdir(out))
    assert total < 1 << 20, f"golden checkpoints take {total} bytes"
    print(f"wrote {len(os.listdir(out))} files ({total} bytes) to {out}")


if __name__ == "__main__":
    main()
