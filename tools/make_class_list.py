#!/usr/bin/env python3
"""Writes weights/imagenet_classes.tsv: the 1000 ImageNet-1k classes in the standard index order (the order of the
sorted WordNet ids, which is torchvision's ImageFolder order and every BigGAN checkpoint's), one line per class:
`index<TAB>wnid<TAB>names` where names are the WordNet lemmas separated by ", ".

The facts come from the class tables that the timm package ships (PyPI, Apache-2.0); run once with timm installed:
    python -m pip install timm && python tools/make_class_list.py
The runtime reads the TSV; it never needs Python.
"""
import os
import pathlib

import timm

info = pathlib.Path(os.path.dirname(timm.__file__)) / "data" / "_info"
synsets = [line.strip() for line in (info / "imagenet_synsets.txt").read_text().splitlines() if line.strip()]
lemmas = {}
for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines():
    wnid, _, names = line.partition("\t")
    lemmas[wnid.strip()] = names.strip()
assert len(synsets) == 1000 and synsets == sorted(synsets), "expected the 1000 sorted ImageNet-1k wnids"
out = pathlib.Path(__file__).resolve().parent.parent / "weights" / "imagenet_classes.tsv"
with open(out, "w") as f:
    for index, wnid in enumerate(synsets):
        f.write(f"{index}\t{wnid}\t{lemmas[wnid]}\n")
print(f"wrote {out} ({len(synsets)} classes)")
