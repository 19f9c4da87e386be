#!/usr/bin/env python3
"""Writes the TorchScript templates of the pipeline's built-in architectures (cnn-small, mlp) that `ctl models export`
fills with a version's weights, so a built-in version goes back to PyTorch as a TorchScript file like a user's model.

The modules mirror shared/Pipeline.ML/Models/AdaptiveModel.cs exactly: the same layers, the same parameter names
(backbone.*, projection.fc.*, classifier.fc.*), forward = classifier(backbone(x)) and an exported `embed` method
returning the backbone's 128 features. Parameters are zero (the export copies every one of them, by name and shape),
so the gzip-compressed files are small; they are embedded in Pipeline.ML.

usage: builtin_templates.py [--out shared/Pipeline.ML/Models/Templates] [--classes 10]
Needs Debian's python3-torch (1.13) only.
"""
import argparse
import gzip
import io
import os
from collections import OrderedDict

import torch
import torch.nn as nn


class CnnSmall(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.backbone = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(1, 16, 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(16, 32, 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()), ("fc", nn.Linear(32 * 7 * 7, 128)), ("relu3", nn.ReLU())]))
        self.projection = nn.Sequential(OrderedDict([("fc", nn.Linear(128, 32))]))
        self.classifier = nn.Sequential(OrderedDict([("fc", nn.Linear(128, classes))]))

    def forward(self, x):
        return self.classifier(self.backbone(x))

    @torch.jit.export
    def embed(self, x):
        return self.backbone(x)


class Mlp(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.backbone = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()), ("fc1", nn.Linear(28 * 28, 256)), ("relu1", nn.ReLU()),
            ("fc2", nn.Linear(256, 128)), ("relu2", nn.ReLU())]))
        self.projection = nn.Sequential(OrderedDict([("fc", nn.Linear(128, 32))]))
        self.classifier = nn.Sequential(OrderedDict([("fc", nn.Linear(128, classes))]))

    def forward(self, x):
        return self.classifier(self.backbone(x))

    @torch.jit.export
    def embed(self, x):
        return self.backbone(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "Pipeline.ML", "Models", "Templates"))
    parser.add_argument("--classes", type=int, default=10)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, cls in (("cnn-small", CnnSmall), ("mlp", Mlp)):
        module = cls(args.classes)
        with torch.no_grad():
            for p in module.parameters():
                p.zero_()
        module.eval()
        buffer = io.BytesIO()
        torch.jit.save(torch.jit.script(module), buffer)
        path = os.path.join(args.out, f"{name}.pt.gz")
        # mtime 0: the same bytes every time.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(buffer.getvalue())
        print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
