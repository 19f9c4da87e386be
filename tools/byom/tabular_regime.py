#!/usr/bin/env python3
"""The tabular regime of `bench adapt`: a user-like PyTorch model on generated rows, and three shifts of them.

  model.pt / model.json   an MLP with categorical embeddings, LayerNorm, GELU and dropout (3 classes), TorchScript
  original.csv            labelled rows of the training distribution, never trained on (test and reference rows)
  shifted-mean.csv        x0 moved by +3 and x1 by -2.5 standard deviations (the shift of issue 22)
  shifted-scale.csv       x0 and x2 scaled by 2 (a scale change)
  shifted-mix.csv         the categorical column `plan` drawn 10/20/70 % instead of 50/30/20 % (a mix change)
  report.json             the model's accuracy on each file (PyTorch's own figures)

The label is a fixed function of the columns (a covariate shift: the same function before and after), periodic in
x0 and x1, so a model fitted to the original region cannot extrapolate it to a moved one. Everything is seeded;
torch uses one thread. usage: tabular_regime.py --out DIR [--seed 1] [--rows 3000]
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUMERIC = 6
FEATURES = [{"name": f"x{i}", "kind": "numeric"} for i in range(NUMERIC)] + [
    {"name": "plan", "kind": "categorical", "cardinality": 3}, {"name": "region", "kind": "categorical", "cardinality": 4}]
SHIFTS = ("mean", "scale", "mix")


def rows(n, seed, shift=None):
    rng = np.random.default_rng(seed)
    num = rng.normal(0.0, 1.0, size=(n, NUMERIC))
    plan = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    region = rng.integers(0, 4, size=n)
    if shift == "mean":
        num[:, 0] += 3.0
        num[:, 1] -= 2.5
    elif shift == "scale":
        num[:, 0] *= 2.0
        num[:, 2] *= 2.0
    elif shift == "mix":
        plan = rng.choice(3, size=n, p=[0.1, 0.2, 0.7])
    x0, x1, x2, x3 = num[:, 0], num[:, 1], num[:, 2], num[:, 3]
    score = (1.2 * np.sin(2.0 * x0) + np.sin(1.7 * x1 + 0.5) + 0.6 * x2 * (plan == 2) + 0.5 * (region >= 2)
             - 0.3 * (plan == 1) + 0.3 * x3 - 0.2)
    y = np.digitize(score, [-0.5, 0.5])
    x = np.concatenate([num, plan[:, None], region[:, None]], axis=1).astype(np.float32)
    return x, y.astype(np.int64)


class TabularNet(nn.Module):
    """Embeddings of the categorical codes (columns 6, 7; literals for TorchScript) joined to the numeric columns,
    two LayerNorm-GELU-dropout blocks."""

    def __init__(self, classes: int = 3, width: int = 64):
        super().__init__()
        self.plan = nn.Embedding(3, 4)
        self.region = nn.Embedding(4, 4)
        self.body = nn.Sequential(
            nn.Linear(NUMERIC + 8, width), nn.LayerNorm(width), nn.GELU(), nn.Dropout(0.1),
            nn.Linear(width, width), nn.LayerNorm(width), nn.GELU(), nn.Dropout(0.1))
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        return self.head(self.embed(x))

    @torch.jit.export
    def embed(self, x):
        joined = torch.cat([x[:, :6], self.plan(x[:, 6].long()), self.region(x[:, 7].long())], 1)
        return self.body(joined)


def write_csv(path, x, y):
    with open(path, "w") as f:
        f.write(",".join([c["name"] for c in FEATURES] + ["label"]) + "\n")
        for row, label in zip(x, y):
            cells = [repr(float(v)) if i < NUMERIC else str(int(v)) for i, v in enumerate(row)]
            f.write(",".join(cells + [str(int(label))]) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--train-rows", type=int, default=20000)
    ap.add_argument("--epochs", type=int, default=25)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    base = args.seed * 100
    x, y = rows(args.train_rows, base)
    torch.manual_seed(base + 1)
    model = TabularNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(base + 2)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(tx), generator=gen)
        for s in range(0, len(tx), 128):
            idx = order[s:s + 128]
            opt.zero_grad()
            F.cross_entropy(model(tx[idx]), ty[idx]).backward()
            opt.step()
    model.eval()
    torch.jit.save(torch.jit.script(model), os.path.join(args.out, "model.pt"))
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump({"name": "tabular-regime", "format": "torchscript", "input_shape": [len(FEATURES)], "input_scale": "raw",
                   "classes": ["low", "medium", "high"], "embedding_method": "embed", "classifier_prefix": "head",
                   "features": FEATURES}, f, indent=2)
    report = {"torch": torch.__version__, "seed": args.seed}
    sets = {"original": rows(args.rows, base + 10)}
    for i, shift in enumerate(SHIFTS):
        sets["shifted-" + shift] = rows(args.rows, base + 11 + i, shift)
    for name, (sx, sy) in sets.items():
        write_csv(os.path.join(args.out, name + ".csv"), sx, sy)
        with torch.no_grad():
            report[name] = float((model(torch.from_numpy(sx)).argmax(1) == torch.from_numpy(sy)).float().mean())
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
