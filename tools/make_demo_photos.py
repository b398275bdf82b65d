#!/usr/bin/env python3
"""Makes a small folder of colour photos for trying `bigcolor train` without ImageNet: the colour sample photos that
ship inside scikit-image's wheel (astronaut, chelsea, coffee, hubble_deep_field, ihc, motorcycle_left/right, retina,
rocket: public-domain or freely licensed, see skimage/data/README.txt), each cut into 4 overlapping crops and their
mirror images, saved as JPEG (quality 95) into OUT/<photo>/ (an ImageFolder tree: one class folder per photo).

How to run (needs Pillow; downloads the scikit-image wheel with pip, ~15 MB, without installing it):
    python3 tools/make_demo_photos.py OUT_DIR
"""
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

from PIL import Image, ImageOps

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png",
          "motorcycle_right.png", "retina.jpg", "rocket.jpg"]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "scikit-image", "--no-deps", "-q", "-d", tmp],
                       check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            for name in PHOTOS:
                z.extract("skimage/data/" + name, tmp)
        count = 0
        for name in PHOTOS:
            image = Image.open(os.path.join(tmp, "skimage/data", name)).convert("RGB")
            w, h = image.size
            cw, ch = int(w * 0.7), int(h * 0.7)
            folder = os.path.join(out, os.path.splitext(name)[0])
            os.makedirs(folder, exist_ok=True)
            for k, (x, y) in enumerate([(0, 0), (w - cw, 0), (0, h - ch), (w - cw, h - ch)]):
                crop = image.crop((x, y, x + cw, y + ch))
                crop.save(os.path.join(folder, f"crop{k}.jpg"), quality=95)
                ImageOps.mirror(crop).save(os.path.join(folder, f"crop{k}_mirror.jpg"), quality=95)
                count += 2
    print(f"{count} photos in {out}")


if __name__ == "__main__":
    main()
