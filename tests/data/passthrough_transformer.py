# A kserve.Model transformer whose preprocess and postprocess return their argument: the "trivial
# pre/post-processing" of issue 15's transformer figure (bench/transformer_bench.sh) and of the in-process
# tests in tests/pipeline/kserve_samples_test.py. Its default predict calls the predictor.
import argparse
from kserve import Model, ModelServer, model_server


class Passthrough(Model):
    def __init__(self, name):
        super().__init__(name)
        self.ready = True

    def preprocess(self, payload, headers=None):
        return payload

    def postprocess(self, result, headers=None, response_headers=None):
        return result


args, _ = argparse.ArgumentParser(parents=[model_server.parser]).parse_known_args()
ModelServer().start([Passthrough(args.model_name)])
