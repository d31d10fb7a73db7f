#include "tf/broadcast.h"

#include <string>

namespace inferd::tf {

StatusOr<Shape> BroadcastShape(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      return InvalidArgument("shapes " + ShapeString(a) + " and " + ShapeString(b) + " are not broadcastable");
    }
  }
  return out;
}

bool BroadcastsTo(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) return false;
  const size_t pad = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != 1 && in[i] != out[pad + i]) return false;
  }
  return true;
}

BroadcastPlan PlanBroadcast(std::span<const Shape* const> in, const Shape& out) {
  const size_t r = out.size();
  const size_t n = in.size();
  BroadcastPlan p;
  p.strides.resize(n);
  std::vector<std::vector<bool>> bcast(n);  // per operand, per collapsed dim
  for (size_t d = 0; d < r; ++d) {
    p.elements *= out[d];
    if (out[d] == 1) continue;
    std::vector<bool> flags(n);
    for (size_t k = 0; k < n; ++k) {
      const Shape& s = *in[k];
      const size_t pad = r - s.size();
      flags[k] = d < pad || s[d - pad] == 1;
    }
    bool same = !p.dims.empty();
    for (size_t k = 0; same && k < n; ++k) same = bcast[k].back() == flags[k];
    if (same) {
      p.dims.back() *= out[d];
    } else {
      p.dims.push_back(out[d]);
      for (size_t k = 0; k < n; ++k) bcast[k].push_back(flags[k]);
    }
  }
  for (size_t k = 0; k < n; ++k) {
    p.strides[k].assign(p.dims.size(), 0);
    int64_t acc = 1;
    for (size_t d = p.dims.size(); d-- > 0;) {
      if (!bcast[k][d]) {
        p.strides[k][d] = acc;
        acc *= p.dims[d];
      }
    }
  }
  return p;
}

}  // namespace inferd::tf
