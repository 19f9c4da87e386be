#!/usr/bin/env python3
"""Reference predictions with PyTorch itself: loads a TorchScript file and writes its logits.

usage: predict.py MODEL.pt INPUTS.f32 D1[,D2,...] OUT.f32 [--embed METHOD EMB.f32] [--adapted]
INPUTS.f32 holds little-endian float32 rows of the given input shape; OUT.f32 receives float32 logits [N, C].
Prints {"rows": N, "classes": C} on success. Runs the module in eval mode (batch norm uses running statistics).
--adapted loads it with load_adapted.load (the readout beside the file, when there is one, gives the logits).
"""
import json
import os
import sys

import numpy as np
import torch


def main():
    args = sys.argv[1:]
    embed = None
    adapted = "--adapted" in args
    args = [a for a in args if a != "--adapted"]
    if "--embed" in args:
        i = args.index("--embed")
        embed = (args[i + 1], args[i + 2])
        args = args[:i] + args[i + 3:]
    if len(args) != 4:
        raise SystemExit(__doc__)
    model_path, inputs_path, shape, out_path = args
    dims = [int(d) for d in shape.split(",")]
    x = torch.from_numpy(np.fromfile(inputs_path, dtype="<f4").reshape([-1] + dims).copy())
    if adapted:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from load_adapted import load
        module = load(model_path)
    else:
        module = torch.jit.load(model_path)
    module.eval()
    with torch.no_grad():
        logits = module(x)
        logits.numpy().astype("<f4").tofile(out_path)
        if embed is not None:
            getattr(module, embed[0])(x).numpy().astype("<f4").tofile(embed[1])
    print(json.dumps({"rows": int(logits.shape[0]), "classes": int(logits.shape[1])}))


if __name__ == "__main__":
    main()
