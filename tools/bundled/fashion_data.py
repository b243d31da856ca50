#!/usr/bin/env python3
"""Packs Fashion-MNIST (fetched by tools/bundled/fetch_fashion.sh) for models/tiny-fashion-vlm.

    python3 tools/bundled/fashion_data.py [--raw .cache/bundled/raw/deb/dataset-fashion-mnist]
                                          [--train-per-class 3000] [--test-set-per-class 10]

Python standard library + numpy. Writes:
- .cache/bundled/fashion-train.npz.xz: a class-balanced subsample of the TRAIN split (an xz-compressed .npz:
  images uint8 [N, 28, 28], labels uint8 [N], index: their rows in the train split), what the device run
  trains on (xz: 15 % smaller than the .npz's zip, so more images fit the device run's carry);
- .cache/bundled/fashion-test.npz: the whole TEST split (10,000 images), only for the held-out evaluation;
- models/tiny-fashion-vlm/testset/: --test-set-per-class images of each class from the test split as 8-bit
  grayscale PNGs (<row>.png) and labels.json ({file: {label, name, test_row}}), for the tests.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import lzma
import struct
import zlib
from pathlib import Path

import numpy as np

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def png_gray(img: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG (color type 0), no filtering."""
    h, w = img.shape

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def load(raw: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    d = raw / "usr/share/datasets/fashion-mnist"
    prefix = "train" if split == "train" else "t10k"
    return read_idx(d / f"{prefix}-images-idx3-ubyte.gz"), read_idx(d / f"{prefix}-labels-idx1-ubyte.gz")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default=".cache/bundled/raw/deb/dataset-fashion-mnist")
    ap.add_argument("--train-per-class", type=int, default=3000)
    ap.add_argument("--test-set-per-class", type=int, default=10)
    ap.add_argument("--out-dir", default=".cache/bundled")
    ap.add_argument("--model-dir", default="models/tiny-fashion-vlm")
    args = ap.parse_args()
    raw = Path(args.raw)
    rng = np.random.default_rng(1234)

    x, y = load(raw, "train")
    assert x.shape == (60000, 28, 28) and y.shape == (60000,)
    idx = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[: args.train_per_class] for c in range(10)]))
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, images=x[idx], labels=y[idx], index=idx.astype(np.int32))
    (out / "fashion-train.npz.xz").write_bytes(lzma.compress(buf.getvalue(), preset=9 | lzma.PRESET_EXTREME))

    tx, ty = load(raw, "test")
    assert tx.shape == (10000, 28, 28)
    np.savez_compressed(out / "fashion-test.npz", images=tx, labels=ty)

    ts = Path(args.model_dir) / "testset"
    ts.mkdir(parents=True, exist_ok=True)
    picked = np.sort(np.concatenate([rng.permutation(np.flatnonzero(ty == c))[: args.test_set_per_class] for c in range(10)]))
    labels = {}
    for r in picked:
        name = f"{r:04d}.png"
        (ts / name).write_bytes(png_gray(tx[r]))
        labels[name] = {"label": int(ty[r]), "name": CLASSES[ty[r]], "test_row": int(r)}
    (ts / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    for f in ("fashion-train.npz.xz", "fashion-test.npz"):
        print(f, (out / f).stat().st_size, "bytes")
    print(f"train subsample {len(idx)} images, test set {len(picked)} PNGs in {ts}")


if __name__ == "__main__":
    main()
