#!/usr/bin/env python3
"""Trains and exports the two example user models of docs/models.md with PyTorch (Debian's python3-torch 1.13):

  cnn.pt / cnn.json          a small CNN with batch norm on a Fashion-MNIST subset (image model, input [1, 28, 28])
  tabular.pt / tabular.json  an MLP on generated tabular data (6 numeric + 2 categorical columns, 3 classes)
  tabular-reference.csv      labelled reference rows of the tabular model (header = feature names + "label")
  tabular-shifted.csv        the same generator with a shifted distribution (for drift and adaptation)

Each model is saved with torch.jit.script + torch.jit.save and exports an `embed` method returning its
penultimate features. Training takes a few seconds on two cores; everything is seeded.

usage: export_models.py --out DIR [--data-dir /usr/share/datasets/fashion-mnist] [--seed 1] [--train-size 4000]
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


class SmallCnn(nn.Module):
    """conv-bn-relu-pool x2, then a 64-unit embedding and a linear classifier."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU())
        self.classifier = nn.Linear(64, classes)

    def forward(self, x):
        return self.classifier(self.features(x))

    @torch.jit.export
    def embed(self, x):
        return self.features(x)


class TabularMlp(nn.Module):
    def __init__(self, inputs: int, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(inputs, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        return self.head(self.body(x))

    @torch.jit.export
    def embed(self, x):
        return self.body(x)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, dims = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(data_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(data_dir, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{stem} not found in {data_dir} (apt-get install dataset-fashion-mnist)")


def train(model, x, y, epochs, lr, seed, batch=64):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), batch):
            idx = order[s:s + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
    model.eval()
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def tabular_rows(n, seed, shifted):
    """6 numeric columns and 2 categorical codes; the class depends on a few of them non-linearly."""
    rng = np.random.default_rng(seed)
    num = rng.normal(0.0, 1.0, size=(n, 6))
    if shifted:
        num[:, 0] += 1.5
        num[:, 1] += 1.0
        num[:, 2] *= 2.0
        num[:, 3] += 1.0
    plan = rng.integers(0, 3, size=n)           # categorical: 3 plans
    region = rng.integers(0, 4, size=n)         # categorical: 4 regions
    if shifted:
        plan = np.where(rng.random(n) < 0.6, 2, plan)
    # The shift is covariate (x0, x1, x2, x3 and plan move) and conceptual (x2's effect changes sign), so a model fitted
    # before it loses accuracy and labelled shifted rows can teach it back.
    w2 = 0.9 if shifted else -0.6
    score = num[:, 0] + 0.8 * num[:, 1] * (plan == 1) + w2 * num[:, 2] + 0.5 * (region == 3) + 0.3 * num[:, 3] ** 2
    y = np.digitize(score, [-0.4, 0.9])          # 3 classes
    x = np.concatenate([num, plan[:, None], region[:, None]], axis=1).astype(np.float32)
    return x, y.astype(np.int64)


TABULAR_FEATURES = [{"name": f"x{i}", "kind": "numeric"} for i in range(6)] + [
    {"name": "plan", "kind": "categorical"}, {"name": "region", "kind": "categorical"}]


def write_csv(path, x, y):
    names = [f["name"] for f in TABULAR_FEATURES]
    with open(path, "w") as f:
        f.write(",".join(names + ["label"]) + "\n")
        for row, label in zip(x, y):
            cells = [repr(float(v)) if i < 6 else str(int(v)) for i, v in enumerate(row)]
            f.write(",".join(cells + [str(int(label))]) + "\n")


def save(model, out, stem, manifest):
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, os.path.join(out, stem + ".pt"))
    with open(os.path.join(out, stem + ".json"), "w") as f:
        json.dump(manifest, f, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-dir", default=os.environ.get("PIPELINE_DATA_DIR", "/usr/share/datasets/fashion-mnist"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-size", type=int, default=4000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

    images = read_idx(find(args.data_dir, "train-images-idx3-ubyte"))[: args.train_size]
    labels = read_idx(find(args.data_dir, "train-labels-idx1-ubyte"))[: args.train_size]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    torch.manual_seed(args.seed)
    cnn = train(SmallCnn(), x, y, epochs=1, lr=2e-3, seed=args.seed)
    save(cnn, args.out, "cnn", {
        "name": "byom-cnn", "format": "torchscript", "input_shape": [1, 28, 28], "input_scale": "unit",
        "classes": FASHION_CLASSES, "embedding_method": "embed", "classifier_prefix": "classifier"})

    tx, ty = tabular_rows(4000, args.seed, shifted=False)
    torch.manual_seed(args.seed + 1)
    mlp = train(TabularMlp(tx.shape[1], 3), torch.from_numpy(tx), torch.from_numpy(ty), epochs=10, lr=3e-3, seed=args.seed + 1)
    save(mlp, args.out, "tabular", {
        "name": "byom-tabular", "format": "torchscript", "input_shape": [tx.shape[1]], "input_scale": "raw",
        "classes": ["low", "medium", "high"], "embedding_method": "embed", "classifier_prefix": "head",
        "features": TABULAR_FEATURES})
    rx, ry = tabular_rows(2000, args.seed + 10, shifted=False)
    sx, sy = tabular_rows(2000, args.seed + 11, shifted=True)
    write_csv(os.path.join(args.out, "tabular-reference.csv"), rx, ry)
    write_csv(os.path.join(args.out, "tabular-shifted.csv"), sx, sy)

    report = {
        "cnn_train_accuracy": accuracy(cnn, x[:2000], y[:2000]),
        "tabular_reference_accuracy": accuracy(mlp, torch.from_numpy(rx), torch.from_numpy(ry)),
        "tabular_shifted_accuracy": accuracy(mlp, torch.from_numpy(sx), torch.from_numpy(sy)),
        "torch": torch.__version__,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
