#!/usr/bin/env python3
"""Loads a version the pipeline exported (`ctl models export`, `bench adapt --save-adapted`) back into PyTorch.

    import sys; sys.path.insert(0, "tools/byom")
    from load_adapted import load
    model = load("export/v3.pt")          # a torch.nn.Module in eval mode
    probabilities = model(x).softmax(1)   # the service's /predict probabilities, to 1e-4

`load(path_to_pt)` reads the TorchScript file with torch.jit.load. When `NAME.readout.npz` lies beside `NAME.pt`
(written for versions adapted by mist-ridge, mist-proto, ridge or prototype) and its `serves` flag is set, the
module predicts as the service does: the TorchScript module's embedding method (`embedding_method`, flattened to
[N, D]) is scored in float64 by the readout, and the scores are the logits:

    ridge:      logits = relu(e @ w_rand) @ weights
    prototype:  logits = normalize(e) @ normalize(sums / max(counts, 1)).T

Without the file (or with `serves` false: the classifier already holds the readout) the module is the TorchScript
module itself. Only Debian's python3-torch (1.13) and its numpy are needed; the file is read without pickle.

usage as a script: load_adapted.py MODEL.pt  prints what was loaded (kind, classes, embedding method).
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

FORMAT = 1


def readout_path(path_to_pt):
    """`dir/name.pt` -> `dir/name.readout.npz`."""
    base, _ = os.path.splitext(path_to_pt)
    return base + ".readout.npz"


class AdaptedModel(torch.nn.Module):
    """A TorchScript backbone with the pipeline's readout on its embedding (float64 statistics)."""

    def __init__(self, backbone, kind, embedding_method, arrays, classes):
        super().__init__()
        self.backbone = backbone
        self.kind = kind
        self.embedding_method = embedding_method
        self.classes = classes
        if kind == "ridge":
            self.register_buffer("w_rand", torch.from_numpy(arrays["w_rand"]))
            self.register_buffer("weights", torch.from_numpy(arrays["weights"]))
        elif kind == "prototype":
            sums = torch.from_numpy(arrays["sums"])
            counts = torch.from_numpy(arrays["counts"])
            self.register_buffer("prototypes", F.normalize(sums / counts.clamp_min(1).unsqueeze(1), p=2.0, dim=1))
        else:
            raise ValueError(f"unknown readout kind '{kind}' (ridge|prototype)")

    def embed(self, x):
        if self.embedding_method:
            return getattr(self.backbone, self.embedding_method)(x)
        return self.backbone(x)

    def forward(self, x):
        e = self.embed(x).flatten(1).to(torch.float64)
        if self.kind == "ridge":
            scores = F.relu(e @ self.w_rand) @ self.weights
        else:
            scores = F.normalize(e, p=2.0, dim=1) @ self.prototypes.t()
        return scores.to(torch.float32)


def _string(arrays, name):
    return str(arrays[name][()]) if name in arrays else ""


def load(path_to_pt):
    """The exported version as a torch.nn.Module in eval mode (see the module's docstring)."""
    backbone = torch.jit.load(path_to_pt, map_location="cpu")
    backbone.eval()
    npz = readout_path(path_to_pt)
    if not os.path.exists(npz):
        return backbone
    with np.load(npz, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    fmt = int(arrays["format"][()]) if "format" in arrays else 0
    if fmt != FORMAT:
        raise ValueError(f"{npz}: readout format {fmt}, this loader reads {FORMAT}")
    if not bool(arrays["serves"][()]):
        return backbone
    classes = [str(c) for c in arrays["classes"]] if "classes" in arrays else []
    model = AdaptedModel(backbone, _string(arrays, "kind"), _string(arrays, "embedding_method"), arrays, classes)
    model.eval()
    return model


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: load_adapted.py MODEL.pt")
    model = load(sys.argv[1])
    if isinstance(model, AdaptedModel):
        print(json.dumps({"readout": model.kind, "embedding_method": model.embedding_method or "forward",
                          "classes": model.classes}))
    else:
        print(json.dumps({"readout": None}))


if __name__ == "__main__":
    main()
