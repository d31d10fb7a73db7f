// bench/tf_conv_bench.cc: the TensorFlow executor's convolution kernels (src/tf/nn_conv.cc) on MobileNet-sized
// layers, called directly as the executor calls them. Google Benchmark; the GFLOP/s counter counts 2 flops per
// multiply-add of the convolution itself (padding taps included, as is usual for these figures).
//
//   tf_conv_bench [--benchmark_filter=...] [--benchmark_min_time=1]
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tf/graph_def.h"
#include "tf/kernel.h"

namespace {

using inferd::tf::AttrList;
using inferd::tf::AttrValue;
using inferd::tf::DType;
using inferd::tf::KernelContext;
using inferd::tf::KernelRegistry;
using inferd::tf::NodeDef;
using inferd::tf::Shape;
using inferd::tf::Tensor;

const KernelRegistry& Registry() {
  static const KernelRegistry* r = [] {
    auto* reg = new KernelRegistry();
    inferd::tf::RegisterNnKernels(*reg);
    return reg;
  }();
  return *r;
}

AttrValue Ints(std::vector<int64_t> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  a.list->i = std::move(v);
  return a;
}

AttrValue Strs(std::vector<std::string> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  a.list->s = std::move(v);
  return a;
}

Tensor Random(Shape shape) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Tensor t = *Tensor::Make(DType::kFloat, std::move(shape));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// Runs op on inputs once per iteration; flops per call feed the GFLOP/s counter.
void RunKernel(benchmark::State& state, NodeDef node, std::vector<Tensor> inputs, double flops) {
  const auto* k = Registry().Find(node.op);
  if (k == nullptr) {
    state.SkipWithError("kernel not registered");
    return;
  }
  std::vector<Tensor> outputs;
  for (auto _ : state) {
    outputs.clear();
    KernelContext ctx{node, inputs, outputs};
    if (!k->fn(ctx).ok()) {
      state.SkipWithError("kernel failed");
      return;
    }
    benchmark::DoNotOptimize(outputs[0].raw());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

NodeDef Conv(std::string op, int64_t stride, bool fused) {
  NodeDef n;
  n.name = "bench";
  n.op = std::move(op);
  AttrValue pad;
  pad.kind = AttrValue::Kind::kS;
  pad.s = "SAME";
  n.attrs["padding"] = pad;
  n.attrs["strides"] = Ints({1, stride, stride, 1});
  if (fused) {
    n.attrs["fused_ops"] = Strs({"BiasAdd", "Relu6"});
    AttrValue na;
    na.kind = AttrValue::Kind::kI;
    na.i = 1;
    n.attrs["num_args"] = na;
  }
  return n;
}

// MobileNet's 3x3 conv: 1x112x112x32 -> 32 (SAME, stride 1).
void BM_Conv3x3_112x112x32_to_32(benchmark::State& state) {
  const bool fused = state.range(0) != 0;
  std::vector<Tensor> in{Random({1, 112, 112, 32}), Random({3, 3, 32, 32})};
  if (fused) in.push_back(Random({32}));
  RunKernel(state, Conv(fused ? "_FusedConv2D" : "Conv2D", 1, fused), in, 2.0 * 112 * 112 * 32 * 9 * 32);
}
BENCHMARK(BM_Conv3x3_112x112x32_to_32)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// MobileNetV2's expanded depthwise 3x3: 1x112x112x96 (SAME, stride 1), with BiasAdd+Relu6 when fused.
void BM_Depthwise3x3_112x112x96(benchmark::State& state) {
  const bool fused = state.range(0) != 0;
  std::vector<Tensor> in{Random({1, 112, 112, 96}), Random({3, 3, 96, 1})};
  if (fused) in.push_back(Random({96}));
  RunKernel(state, Conv(fused ? "FusedDepthwiseConv2dNative" : "DepthwiseConv2dNative", 1, fused), in,
            2.0 * 112 * 112 * 96 * 9);
}
BENCHMARK(BM_Depthwise3x3_112x112x96)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// A pointwise conv: 1x56x56x64 -> 128 (the direct sgemm path).
void BM_Conv1x1_56x56x64_to_128(benchmark::State& state) {
  RunKernel(state, Conv("Conv2D", 1, false), {Random({1, 56, 56, 64}), Random({1, 1, 64, 128})},
            2.0 * 56 * 56 * 64 * 128);
}
BENCHMARK(BM_Conv1x1_56x56x64_to_128)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
