// tf_kernels_bench: the TensorFlow executor's kernels (src/tf/kernels_math.cc) on the shapes of a served dense
// model, called as the executor calls them (KernelContext, registry lookup, fresh output tensor each time).
// MatMul goes through OpenBLAS (one thread); BM_EigenGemm is Eigen's GEMM on the same shapes, for the choice
// recorded in docs/tensorflow.md. Run: build/bench/tf_kernels_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <vector>

#include "tf/kernel.h"

namespace inferd::tf {
namespace {

Tensor Filled(Shape s, float scale) {
  Tensor t = *Tensor::Make(DType::kFloat, std::move(s));
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = static_cast<float>(i % 97) * scale;
  return t;
}

void RunKernel(benchmark::State& state, const char* op, std::vector<Tensor> inputs) {
  NodeDef node;
  node.name = "bench";
  node.op = op;
  const KernelDef* k = Kernels().Find(op);
  if (k == nullptr) {
    state.SkipWithError("no kernel");
    return;
  }
  std::vector<Tensor> outputs;
  for (auto _ : state) {
    outputs.clear();
    KernelContext ctx{node, inputs, outputs};
    Status st = k->fn(ctx);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return;
    }
    benchmark::DoNotOptimize(outputs[0].raw());
  }
}

// MatMul [M,256] x [256,256].
void BM_MatMul(benchmark::State& state) {
  const int64_t m = state.range(0);
  RunKernel(state, "MatMul", {Filled({m, 256}, 0.01f), Filled({256, 256}, 0.02f)});
  state.SetItemsProcessed(state.iterations() * m * 256 * 256 * 2);  // flops
}
BENCHMARK(BM_MatMul)->Arg(1)->Arg(32);

// Eigen's GEMM on the same shapes (single thread: no OpenMP here), output allocated each time like the kernel.
void BM_EigenGemm(benchmark::State& state) {
  using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const int64_t m = state.range(0);
  Tensor a = Filled({m, 256}, 0.01f), b = Filled({256, 256}, 0.02f);
  for (auto _ : state) {
    Tensor c = *Tensor::Make(DType::kFloat, {m, 256});
    Eigen::Map<Mat> cm(c.data<float>(), m, 256);
    cm.noalias() = Eigen::Map<const Mat>(a.data<float>(), m, 256) * Eigen::Map<const Mat>(b.data<float>(), 256, 256);
    benchmark::DoNotOptimize(c.raw());
  }
  state.SetItemsProcessed(state.iterations() * m * 256 * 256 * 2);
}
BENCHMARK(BM_EigenGemm)->Arg(1)->Arg(32);

// Add [32,1024] + [1024] (bias-style broadcast) and the same-shape case.
void BM_AddBroadcast(benchmark::State& state) {
  RunKernel(state, "AddV2", {Filled({32, 1024}, 0.5f), Filled({1024}, 0.25f)});
  state.SetItemsProcessed(state.iterations() * 32 * 1024);
}
BENCHMARK(BM_AddBroadcast);

void BM_AddSameShape(benchmark::State& state) {
  RunKernel(state, "AddV2", {Filled({32, 1024}, 0.5f), Filled({32, 1024}, 0.25f)});
  state.SetItemsProcessed(state.iterations() * 32 * 1024);
}
BENCHMARK(BM_AddSameShape);

// The floor for the two above: a plain loop into a fresh buffer.
void BM_AddRawLoop(benchmark::State& state) {
  Tensor a = Filled({32, 1024}, 0.5f), b = Filled({1024}, 0.25f);
  for (auto _ : state) {
    Tensor c = *Tensor::Make(DType::kFloat, {32, 1024});
    float* o = c.data<float>();
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    for (int i = 0; i < 32; ++i) {
      for (int j = 0; j < 1024; ++j) o[i * 1024 + j] = pa[i * 1024 + j] + pb[j];
    }
    benchmark::DoNotOptimize(c.raw());
  }
  state.SetItemsProcessed(state.iterations() * 32 * 1024);
}
BENCHMARK(BM_AddRawLoop);

void BM_Sigmoid(benchmark::State& state) {
  RunKernel(state, "Sigmoid", {Filled({32, 1024}, 0.001f)});
  state.SetItemsProcessed(state.iterations() * 32 * 1024);
}
BENCHMARK(BM_Sigmoid);

void BM_SumRows(benchmark::State& state) {
  Tensor axis = *Tensor::Make(DType::kInt32, {});
  axis.data<int32_t>()[0] = 1;
  RunKernel(state, "Sum", {Filled({32, 1024}, 0.001f), axis});
  state.SetItemsProcessed(state.iterations() * 32 * 1024);
}
BENCHMARK(BM_SumRows);

}  // namespace
}  // namespace inferd::tf

BENCHMARK_MAIN();
