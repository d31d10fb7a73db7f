#!/usr/bin/python3
"""Writes the PyTorch (TorchScript) and ONNX models that the torch/onnx backend tests use.

Usage (Debian's Python: it has python3-torch and python3-onnx; nothing else is needed):
  /usr/bin/python3 scripts/gen_dl_test_models.py OUTDIR

OUTDIR receives:
  repo/torch-mlp2/model.pt      TorchScript (torch.jit.script) MLP, forward(x [N,4] FP32, y [N,3] FP32)
                                -> (logits [N,2], score [N,1]): a tuple of two tensors
  repo/torch-mlp2/config.pbtxt  Triton-style model configuration naming those inputs and outputs
  repo/onnx-mlp/model.onnx      an MLP exported from torch (opset 13, dynamic batch axis):
                                features [N,6] FP32 -> logits [N,3], probabilities [N,3] (softmax)
  torch-mlp2.expected.json, onnx-mlp.expected.json   (beside repo/, because a *.json inside a model
                                directory would be taken for a second model file)
      {"inputs": {name: rows}, "outputs": {name: rows}}: a fixed batch and torch's own outputs for it
  extra/torch-types/model.pt              forward() of ten tensors, one per datatype libtorch maps
                                          (BOOL UINT8 INT8 INT16 INT32 INT64 FP16 BF16 FP32 FP64),
                                          returning a dict {"<name>_out": input + 1 (BOOL: not input)}
  extra/torch-types/model-settings.json   MLServer-style metadata for it (inputs/outputs, V2 names)
  extra/torch-noconfig/model.pt           forward(features) -> relu(features) * 2, no configuration
                                          (metadata derived from the forward() schema)
  extra/torch-list/model.pt               forward(a, b) -> [a + b, a - b] (a list), no configuration
  extra/onnx-types/model.onnx             Identity for each of BOOL UINT8 INT8 UINT16 INT16 UINT32 INT32
                                          UINT64 INT64 FP16 BF16 FP32 FP64 (inputs in_<T>, outputs out_<T>,
                                          shapes [N, 2]); built with onnx.helper
  extra/onnx-string/model.onnx            Identity on a STRING tensor (unsupported by inferd)

Deterministic: fixed seeds, fixed inputs; a run takes a few seconds (mostly importing torch).
Only the entries listed above are replaced; other files in OUTDIR are kept.
"""
import json
import os
import shutil
import sys
from typing import Dict, List, Tuple

import onnx
import onnx.helper as oh
import torch
from torch import Tensor, nn


def rows(t):
    """A tensor as nested Python lists (float32 values written exactly)."""
    return t.detach().cpu().tolist()


def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


class Mlp2(nn.Module):
    """Two inputs, two outputs."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 8)
        self.b = nn.Linear(3, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, x: Tensor, y: Tensor) -> Tuple[Tensor, Tensor]:
        h = torch.tanh(self.a(x) + self.b(y))
        logits = self.head(h)
        return logits, torch.sigmoid(logits[:, :1])


TORCH_MLP2_CONFIG = """\
# Triton model configuration (the subset inferd reads: input/output name, data_type, dims, max_batch_size).
name: "torch-mlp2"
platform: "pytorch_libtorch"
max_batch_size: 0
input [
  { name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] },
  { name: "y" data_type: TYPE_FP32 dims: [ -1, 3 ] }
]
output [
  { name: "logits" data_type: TYPE_FP32 dims: [ -1, 2 ] },
  { name: "score" data_type: TYPE_FP32 dims: [ -1, 1 ] }
]
"""


class OnnxMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(6, 16)
        self.l2 = nn.Linear(16, 3)

    def forward(self, features):
        logits = self.l2(torch.relu(self.l1(features)))
        return logits, torch.softmax(logits, dim=1)


class Types(nn.Module):
    def forward(self, b: Tensor, u8: Tensor, i8: Tensor, i16: Tensor, i32: Tensor, i64: Tensor,
                f16: Tensor, bf16: Tensor, f32: Tensor, f64: Tensor) -> Dict[str, Tensor]:
        return {
            "b_out": torch.logical_not(b),
            "u8_out": u8 + 1,
            "i8_out": i8 + 1,
            "i16_out": i16 + 1,
            "i32_out": i32 + 1,
            "i64_out": i64 + 1,
            "f16_out": f16 + 1,
            "bf16_out": bf16 + 1,
            "f32_out": f32 + 1,
            "f64_out": f64 + 1,
        }


TYPES = [("b", "BOOL"), ("u8", "UINT8"), ("i8", "INT8"), ("i16", "INT16"), ("i32", "INT32"), ("i64", "INT64"),
         ("f16", "FP16"), ("bf16", "BF16"), ("f32", "FP32"), ("f64", "FP64")]


class NoConfig(nn.Module):
    def forward(self, features: Tensor) -> Tensor:
        return torch.relu(features) * 2


class ListOut(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> List[Tensor]:
        return [a + b, a - b]


ONNX_TYPES = [("BOOL", onnx.TensorProto.BOOL), ("UINT8", onnx.TensorProto.UINT8), ("INT8", onnx.TensorProto.INT8),
              ("UINT16", onnx.TensorProto.UINT16), ("INT16", onnx.TensorProto.INT16),
              ("UINT32", onnx.TensorProto.UINT32), ("INT32", onnx.TensorProto.INT32),
              ("UINT64", onnx.TensorProto.UINT64), ("INT64", onnx.TensorProto.INT64),
              ("FP16", onnx.TensorProto.FLOAT16), ("BF16", onnx.TensorProto.BFLOAT16),
              ("FP32", onnx.TensorProto.FLOAT), ("FP64", onnx.TensorProto.DOUBLE)]


def identity_model(types, path):
    nodes, inputs, outputs = [], [], []
    for name, t in types:
        inputs.append(oh.make_tensor_value_info("in_" + name, t, ["N", 2]))
        outputs.append(oh.make_tensor_value_info("out_" + name, t, ["N", 2]))
        nodes.append(oh.make_node("Identity", ["in_" + name], ["out_" + name]))
    graph = oh.make_graph(nodes, "identity", inputs, outputs)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 13)], producer_name="inferd-tests")
    model.ir_version = 7  # opset 13's IR version; readable by every ONNX Runtime since 1.6
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1234)

    # ---- torch-mlp2 -------------------------------------------------------------------------------------------
    m = Mlp2().eval()
    d = fresh_dir(os.path.join(out, "repo", "torch-mlp2"))
    scripted = torch.jit.script(m)
    scripted.save(os.path.join(d, "model.pt"))
    with open(os.path.join(d, "config.pbtxt"), "w") as f:
        f.write(TORCH_MLP2_CONFIG)
    x = torch.randn(5, 4, generator=gen)
    y = torch.randn(5, 3, generator=gen)
    with torch.no_grad():
        logits, score = torch.jit.load(os.path.join(d, "model.pt"))(x, y)
    write_json(os.path.join(out, "torch-mlp2.expected.json"),
               {"inputs": {"x": rows(x), "y": rows(y)}, "outputs": {"logits": rows(logits), "score": rows(score)}})

    # ---- onnx-mlp ---------------------------------------------------------------------------------------------
    m = OnnxMlp().eval()
    d = fresh_dir(os.path.join(out, "repo", "onnx-mlp"))
    features = torch.randn(4, 6, generator=gen)
    with torch.no_grad():
        logits, probs = m(features)
        torch.onnx.export(m, (features,), os.path.join(d, "model.onnx"), opset_version=13,
                          input_names=["features"], output_names=["logits", "probabilities"],
                          dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"},
                                        "probabilities": {0: "batch"}})
    onnx.checker.check_model(onnx.load(os.path.join(d, "model.onnx")))
    write_json(os.path.join(out, "onnx-mlp.expected.json"),
               {"inputs": {"features": rows(features)},
                "outputs": {"logits": rows(logits), "probabilities": rows(probs)}})

    # ---- extras -----------------------------------------------------------------------------------------------
    d = fresh_dir(os.path.join(out, "extra", "torch-types"))
    torch.jit.script(Types()).save(os.path.join(d, "model.pt"))
    write_json(os.path.join(d, "model-settings.json"), {
        "name": "torch-types",
        "implementation": "inferd pytorch",
        "inputs": [{"name": n, "datatype": t, "shape": [-1, 2]} for n, t in TYPES],
        "outputs": [{"name": n + "_out", "datatype": t, "shape": [-1, 2]} for n, t in TYPES],
    })
    d = fresh_dir(os.path.join(out, "extra", "torch-noconfig"))
    torch.jit.script(NoConfig()).save(os.path.join(d, "model.pt"))
    d = fresh_dir(os.path.join(out, "extra", "torch-list"))
    torch.jit.script(ListOut()).save(os.path.join(d, "model.pt"))
    d = fresh_dir(os.path.join(out, "extra", "onnx-types"))
    identity_model(ONNX_TYPES, os.path.join(d, "model.onnx"))
    d = fresh_dir(os.path.join(out, "extra", "onnx-string"))
    identity_model([("STRING", onnx.TensorProto.STRING)], os.path.join(d, "model.onnx"))


if __name__ == "__main__":
    main()
