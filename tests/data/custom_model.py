# A custom model written for KServe's Python API, served by tests/server/python_model_test.cc through
# `inferd model-server --python`. Nothing here knows about inferd.
import argparse
from typing import Dict

import numpy as np
import kserve
from kserve import InferRequest, InferResponse, InferOutput, Model, ModelServer, model_server
from kserve.errors import InvalidInput


class Doubler(Model):
    """V1: {"instances": rows} -> {"predictions": rows * factor}; V2: input-0 * factor as output-0,
    and the row sums as "sums"."""

    def __init__(self, name: str, factor: float):
        super().__init__(name)
        self.factor = None
        self.wanted = factor
        self.load()

    def load(self):
        self.factor = self.wanted
        self.ready = True

    def preprocess(self, payload, headers: Dict[str, str] = None):
        if isinstance(payload, InferRequest):
            return payload
        if "instances" not in payload:
            raise InvalidInput("instances: missing from the request")
        return np.asarray(payload["instances"], dtype=np.float64)

    async def predict(self, payload, headers: Dict[str, str] = None):
        if isinstance(payload, InferRequest):
            x = payload.inputs[0].as_numpy()
            doubled = InferOutput("output-0", list(x.shape), "FP64")
            doubled.set_data_from_numpy((x * self.factor).astype(np.float64))
            sums = InferOutput("sums", [x.shape[0]], "FP64")
            sums.set_data_from_numpy(x.reshape(x.shape[0], -1).sum(axis=1).astype(np.float64))
            return InferResponse(payload.id, self.name, [doubled, sums])
        if payload.size and payload.flat[0] == 13:
            raise RuntimeError("unlucky row")
        return {"predictions": payload * self.factor}


class NeverReady(Model):
    def __init__(self, name):
        super().__init__(name)  # load() is never called: ready stays False

    def predict(self, payload, headers=None):
        return {"predictions": []}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(parents=[model_server.parser])
    parser.add_argument("--factor", type=float, default=2.0)
    args, _ = parser.parse_known_args()
    ModelServer().start([Doubler(args.model_name, args.factor), NeverReady("never-ready")])
