#!/usr/bin/env python3
"""Writes the hostile files of tests/golden/hostile/: small files that expand to huge work or output when read
naively (the amplification class of the hardening issue). Only the standard library: the pickles are written
opcode by opcode, the archive with zipfile (STORED, as torch.save writes).

    python3 tools/make_golden_hostile.py

  shared_memo.pkl     a list of two references to a list of two references to ... 40 levels: a few hundred bytes,
                      2^40 leaves when printed as a tree without noticing the sharing.
  shared_storage.pt   a torch.save (zip) archive whose state dict holds 1500 tensors that all view one storage of
                      65536 floats (256 KiB): about 384 MiB when every tensor is materialized as its own copy.
"""
import pathlib
import struct
import zipfile

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "golden" / "hostile"


def shared_memo_pickle(levels):
    # PROTO 2; EMPTY_LIST, BINPUT 0; then per level: MARK, BINGET prev, BINGET prev, LIST, BINPUT next.
    out = bytearray(b"\x80\x02]q\x00")
    for i in range(levels):
        out += b"(" + b"h" + bytes([i]) + b"h" + bytes([i]) + b"l" + b"q" + bytes([i + 1])
    out += b"."
    return bytes(out)


def binunicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def binint(value):
    return b"J" + struct.pack("<i", value)


def shared_storage_pickle(count, numel):
    # {"t0": _rebuild_tensor_v2(pid, 0, (numel,), (1,), False, OrderedDict()), "t1": ..., ...}, every tensor
    # naming the same persistent id ('storage', torch.FloatStorage, '0', 'cpu', numel).
    out = bytearray(b"\x80\x02}q\x00(")
    rebuild = b"ctorch._utils\n_rebuild_tensor_v2\nq\x01"
    storage_type = b"ctorch\nFloatStorage\nq\x02"
    ordered = b"ccollections\nOrderedDict\nq\x03"
    for i in range(count):
        out += binunicode("t%d" % i)
        out += rebuild if i == 0 else b"h\x01"
        out += b"("  # the arguments of _rebuild_tensor_v2
        out += b"(" + binunicode("storage") + (storage_type if i == 0 else b"h\x02") + binunicode("0") + \
            binunicode("cpu") + binint(numel) + b"tQ"
        out += binint(0) + b"(" + binint(numel) + b"t" + b"(" + binint(1) + b"t" + b"\x89"
        out += (ordered if i == 0 else b"h\x03") + b")R"
        out += b"tR"
    out += b"u."
    return bytes(out)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "shared_memo.pkl").write_bytes(shared_memo_pickle(40))
    numel = 65536
    with zipfile.ZipFile(OUT / "shared_storage.pt", "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", shared_storage_pickle(1500, numel))
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/data/0", bytes(4 * numel))
        z.writestr("archive/version", "3\n")
    for p in sorted(OUT.iterdir()):
        print(p.name, p.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
