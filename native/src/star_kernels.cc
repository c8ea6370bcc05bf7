// star_kernels: native CPU kernels for the tfjs `wasm` backend of STaR Studio.
//
// The TypeScript side (src/engine/compute/native.ts) registers these over the wasm backend's kernels.
// Every function works in place on the WebAssembly heap: the first argument is the heap as a typed array
// (backend.wasm.HEAPU8), tensors are passed as byte offsets into it. Nothing is copied.
//
// Plain C N-API (node_api.h), no node-addon-api dependency. Matrix products go to OpenBLAS (linked statically).

#include <node_api.h>
#include <cblas.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
// OpenBLAS DYNAMIC_ARCH internals: drop and re-pick the kernel set (reads OPENBLAS_CORETYPE).
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);
}

namespace {

// Bumped whenever an export is added or changes; the loader rejects older builds.
constexpr int kAddonVersion = 4;

// Elementwise loops are compiled for the baseline (SSE2) and AVX2; the loader picks by CPU features. Memory-bound
// loops measured slower with AVX-512; arithmetic-heavy ones (tanh) get an AVX-512 clone too.
#define ELEMWISE __attribute__((target_clones("avx2", "default")))
#define ELEMWISE_COMPUTE __attribute__((target_clones("avx512f", "avx2", "default")))

// ---------------------------------------------------------------------------------------------------------------
// argument helpers

struct Heap {
  uint8_t* data = nullptr;
  size_t bytes = 0;
};

bool Throw(napi_env env, const char* msg) {
  napi_throw_error(env, "STAR_NATIVE", msg);
  return false;
}

bool GetHeap(napi_env env, napi_value v, Heap* h) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (is_ta) {
    napi_typedarray_type type;
    size_t length = 0, byte_offset = 0;
    void* data = nullptr;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byte_offset) != napi_ok)
      return Throw(env, "heap: bad typed array");
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: elem = 1;
    }
    h->data = static_cast<uint8_t*>(data);
    h->bytes = length * elem;
    return true;
  }
  bool is_ab = false;
  napi_is_arraybuffer(env, v, &is_ab);
  if (is_ab) {
    void* data = nullptr;
    size_t len = 0;
    if (napi_get_arraybuffer_info(env, v, &data, &len) != napi_ok) return Throw(env, "heap: bad array buffer");
    h->data = static_cast<uint8_t*>(data);
    h->bytes = len;
    return true;
  }
  return Throw(env, "heap must be a typed array or ArrayBuffer");
}

bool GetI64(napi_env env, napi_value v, int64_t* out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) return Throw(env, "expected a number");
  return true;
}

bool GetBool(napi_env env, napi_value v, bool* out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) return Throw(env, "expected a boolean");
  return true;
}

// Int32Array argument (shapes, permutations).
bool GetI32s(napi_env env, napi_value v, std::vector<int64_t>* out) {
  bool is_ta = false;
  napi_is_typedarray(env, v, &is_ta);
  if (!is_ta) return Throw(env, "expected an Int32Array");
  napi_typedarray_type type;
  size_t length = 0, byte_offset = 0;
  void* data = nullptr;
  napi_value ab;
  napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &byte_offset);
  if (type != napi_int32_array) return Throw(env, "expected an Int32Array");
  const int32_t* p = static_cast<const int32_t*>(data);
  out->assign(p, p + length);
  return true;
}

// A float pointer into the heap at byte offset `off`, holding `count` floats; bounds- and alignment-checked.
bool HeapPtr(napi_env env, const Heap& h, int64_t off, int64_t count, float** out) {
  if (off < 0 || count < 0 || (off & 3) != 0 || static_cast<uint64_t>(off) + static_cast<uint64_t>(count) * 4 > h.bytes)
    return Throw(env, "tensor outside the heap");
  *out = reinterpret_cast<float*>(h.data + off);
  return true;
}

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

template <size_t N>
bool Args(napi_env env, napi_callback_info info, napi_value (&argv)[N], size_t min) {
  size_t argc = N;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < min) return Throw(env, "too few arguments");
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// sgemm(heap, aOff, bOff, cOff, batch, M, N, K, transA, transB, aStride, bStride)
//   for i in [0, batch): C[i] = op(A[i]) @ op(B[i]);  A[i] at aOff + 4*i*aStride (aStride 0 = broadcast),
//   C is (batch, M, N) row-major and written fully.

napi_value Sgemm(napi_env env, napi_callback_info info) {
  napi_value a[12];
  if (!Args(env, info, a, 12)) return nullptr;
  Heap h;
  int64_t aOff, bOff, cOff, batch, M, N, K, aStride, bStride;
  bool tA, tB;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &aOff) || !GetI64(env, a[2], &bOff) ||
      !GetI64(env, a[3], &cOff) || !GetI64(env, a[4], &batch) || !GetI64(env, a[5], &M) ||
      !GetI64(env, a[6], &N) || !GetI64(env, a[7], &K) || !GetBool(env, a[8], &tA) || !GetBool(env, a[9], &tB) ||
      !GetI64(env, a[10], &aStride) || !GetI64(env, a[11], &bStride))
    return nullptr;
  if (batch < 0 || M < 0 || N < 0 || K < 0 || aStride < 0 || bStride < 0 || M > INT32_MAX || N > INT32_MAX ||
      K > INT32_MAX) {
    Throw(env, "sgemm: bad sizes");
    return nullptr;
  }
  float *pa, *pb, *pc;
  const int64_t aLast = batch > 0 ? (batch - 1) * aStride + M * K : 0;
  const int64_t bLast = batch > 0 ? (batch - 1) * bStride + K * N : 0;
  if (!HeapPtr(env, h, aOff, aLast, &pa) || !HeapPtr(env, h, bOff, bLast, &pb) ||
      !HeapPtr(env, h, cOff, batch * M * N, &pc))
    return nullptr;
  if (batch == 0 || M == 0 || N == 0) return Undefined(env);
  if (K == 0) {
    std::memset(pc, 0, sizeof(float) * batch * M * N);
    return Undefined(env);
  }
  const int lda = static_cast<int>(tA ? M : K), ldb = static_cast<int>(tB ? K : N);
  for (int64_t i = 0; i < batch; i++)
    cblas_sgemm(CblasRowMajor, tA ? CblasTrans : CblasNoTrans, tB ? CblasTrans : CblasNoTrans, static_cast<int>(M),
                static_cast<int>(N), static_cast<int>(K), 1.0f, pa + i * aStride, lda, pb + i * bStride, ldb, 0.0f,
                pc + i * M * N, static_cast<int>(N));
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------------------------
// transpose(heap, inOff, outOff, shape: Int32Array, perm: Int32Array)  -- 4-byte elements (float32 / int32)

void Transpose2D(const uint32_t* in, uint32_t* out, int64_t rows, int64_t cols) {
  // out[c][r] = in[r][c], blocked for cache reuse
  constexpr int64_t BS = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += BS) {
    const int64_t r1 = r0 + BS < rows ? r0 + BS : rows;
    for (int64_t c0 = 0; c0 < cols; c0 += BS) {
      const int64_t c1 = c0 + BS < cols ? c0 + BS : cols;
      for (int64_t r = r0; r < r1; r++) {
        const uint32_t* src = in + r * cols;
        for (int64_t c = c0; c < c1; c++) out[c * rows + r] = src[c];
      }
    }
  }
}

napi_value Transpose(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!Args(env, info, a, 5)) return nullptr;
  Heap h;
  int64_t inOff, outOff;
  std::vector<int64_t> shape, perm;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &inOff) || !GetI64(env, a[2], &outOff) ||
      !GetI32s(env, a[3], &shape) || !GetI32s(env, a[4], &perm))
    return nullptr;
  const size_t r = shape.size();
  if (perm.size() != r || r == 0) {
    Throw(env, "transpose: bad perm");
    return nullptr;
  }
  int64_t total = 1;
  std::vector<bool> seen(r, false);
  for (size_t i = 0; i < r; i++) {
    if (shape[i] < 0 || perm[i] < 0 || perm[i] >= static_cast<int64_t>(r) || seen[perm[i]]) {
      Throw(env, "transpose: bad perm");
      return nullptr;
    }
    seen[perm[i]] = true;
    total *= shape[i];
  }
  float *fin, *fout;
  if (!HeapPtr(env, h, inOff, total, &fin) || !HeapPtr(env, h, outOff, total, &fout)) return nullptr;
  if (total == 0) return Undefined(env);
  const uint32_t* in = reinterpret_cast<const uint32_t*>(fin);
  uint32_t* out = reinterpret_cast<uint32_t*>(fout);

  // Drop size-1 axes and merge input axes that stay adjacent (in order) in the output.
  std::vector<int64_t> s, p;  // reduced input shape and perm
  {
    std::vector<int64_t> keep;  // input axes with size > 1
    for (size_t i = 0; i < r; i++)
      if (shape[i] != 1) keep.push_back(static_cast<int64_t>(i));
    std::vector<int64_t> newIndex(r, -1);
    for (size_t j = 0; j < keep.size(); j++) newIndex[keep[j]] = static_cast<int64_t>(j);
    std::vector<int64_t> s1, p1;
    for (int64_t k : keep) s1.push_back(shape[k]);
    for (size_t i = 0; i < r; i++)
      if (shape[perm[i]] != 1) p1.push_back(newIndex[perm[i]]);
    // merge: output axes i, i+1 with p1[i+1] == p1[i] + 1 form one axis
    std::vector<std::vector<int64_t>> groups;  // in output order, each a run of input axes
    for (size_t i = 0; i < p1.size(); i++) {
      if (i > 0 && p1[i] == p1[i - 1] + 1) groups.back().push_back(p1[i]);
      else groups.push_back({p1[i]});
    }
    // groups sorted by their first input axis give the merged input order
    std::vector<int64_t> sortedByIn(groups.size());
    for (size_t g = 0; g < groups.size(); g++) sortedByIn[g] = static_cast<int64_t>(g);
    for (size_t x = 0; x < sortedByIn.size(); x++)
      for (size_t y = x + 1; y < sortedByIn.size(); y++)
        if (groups[sortedByIn[y]][0] < groups[sortedByIn[x]][0]) std::swap(sortedByIn[x], sortedByIn[y]);
    std::vector<int64_t> inPos(groups.size());
    for (size_t x = 0; x < sortedByIn.size(); x++) {
      int64_t g = sortedByIn[x];
      inPos[g] = static_cast<int64_t>(x);
      int64_t sz = 1;
      for (int64_t ax : groups[g]) sz *= s1[ax];
      s.push_back(sz);
    }
    for (size_t g = 0; g < groups.size(); g++) p.push_back(inPos[g]);
  }
  const size_t rr = s.size();
  bool identity = true;
  for (size_t i = 0; i < rr; i++) identity = identity && p[i] == static_cast<int64_t>(i);
  if (identity) {
    std::memcpy(out, in, sizeof(uint32_t) * total);
    return Undefined(env);
  }
  std::vector<int64_t> inStride(rr), outShape(rr);
  inStride[rr - 1] = 1;
  for (int64_t i = static_cast<int64_t>(rr) - 2; i >= 0; i--) inStride[i] = inStride[i + 1] * s[i + 1];
  for (size_t i = 0; i < rr; i++) outShape[i] = s[p[i]];

  if (p[rr - 1] == static_cast<int64_t>(rr) - 1) {
    // innermost axis kept: copy contiguous runs
    const int64_t run = outShape[rr - 1];
    const size_t outer = rr - 1;
    std::vector<int64_t> idx(outer, 0);
    int64_t src = 0;
    for (int64_t o = 0; o < total; o += run) {
      std::memcpy(out + o, in + src, sizeof(uint32_t) * run);
      for (int64_t d = static_cast<int64_t>(outer) - 1; d >= 0; d--) {
        idx[d]++;
        src += inStride[p[d]];
        if (idx[d] < outShape[d]) break;
        src -= inStride[p[d]] * outShape[d];
        idx[d] = 0;
      }
    }
    return Undefined(env);
  }
  // Innermost axis moves. Let q = the output position of input's last axis; the tile (output axis q,
  // output last axis) is a 2-D transpose when output's last axis is input axis j: run blocked 2-D transposes
  // over all other axes. Inner tile: rows = s[j]... handled generically: iterate over all output axes except
  // q and rr-1, and transpose the (s[p[rr-1]] x s[rr-1]) plane with the right strides.
  {
    const int64_t q = [&] {
      for (size_t i = 0; i < rr; i++)
        if (p[i] == static_cast<int64_t>(rr) - 1) return static_cast<int64_t>(i);
      return static_cast<int64_t>(0);
    }();
    const int64_t j = p[rr - 1];                 // input axis that becomes the output's innermost
    const int64_t rows = s[j], cols = s[rr - 1];  // plane: in[row*inStride[j] + col], out[col*outStride[q] + row]
    std::vector<int64_t> outStride(rr);
    outStride[rr - 1] = 1;
    for (int64_t i = static_cast<int64_t>(rr) - 2; i >= 0; i--) outStride[i] = outStride[i + 1] * outShape[i + 1];
    const int64_t inRowStride = inStride[j], outColStride = outStride[q];
    // other output axes
    std::vector<int64_t> axes;
    for (size_t i = 0; i < rr; i++)
      if (static_cast<int64_t>(i) != q && i != rr - 1) axes.push_back(static_cast<int64_t>(i));
    std::vector<int64_t> idx(axes.size(), 0);
    const int64_t planes = total / (rows * cols);
    int64_t src = 0, dst = 0;
    constexpr int64_t BS = 32;
    for (int64_t pl = 0; pl < planes; pl++) {
      const uint32_t* pin = in + src;
      uint32_t* pout = out + dst;
      if (inRowStride == cols && outColStride == rows) {
        Transpose2D(pin, pout, rows, cols);
      } else {
        for (int64_t r0 = 0; r0 < rows; r0 += BS) {
          const int64_t r1 = r0 + BS < rows ? r0 + BS : rows;
          for (int64_t c0 = 0; c0 < cols; c0 += BS) {
            const int64_t c1 = c0 + BS < cols ? c0 + BS : cols;
            for (int64_t rw = r0; rw < r1; rw++)
              for (int64_t c = c0; c < c1; c++) pout[c * outColStride + rw] = pin[rw * inRowStride + c];
          }
        }
      }
      for (int64_t d = static_cast<int64_t>(axes.size()) - 1; d >= 0; d--) {
        const int64_t ax = axes[d];
        idx[d]++;
        src += inStride[p[ax]];
        dst += outStride[ax];
        if (idx[d] < outShape[ax]) break;
        src -= inStride[p[ax]] * outShape[ax];
        dst -= outStride[ax] * outShape[ax];
        idx[d] = 0;
      }
    }
  }
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------------------------
// binary(heap, op, aOff, bOff, outOff, outShape: Int32Array, aStrides: Int32Array, bStrides: Int32Array)
//   out = a (op) b with broadcasting: strides are in elements, 0 along broadcast axes. op: 0 add, 1 sub, 2 mul,
//   3 div. IEEE single-precision results, the same as the stock kernels.

enum BinOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

#define DEFINE_BINARY_LOOPS(NAME, EXPR)                                                                         \
  ELEMWISE void NAME##VV(const float* a, const float* b, float* o, int64_t n) {                                 \
    for (int64_t i = 0; i < n; i++) { const float x = a[i], y = b[i]; o[i] = (EXPR); }                          \
  }                                                                                                             \
  ELEMWISE void NAME##VS(const float* a, const float* b, float* o, int64_t n) {                                 \
    const float y = *b;                                                                                         \
    for (int64_t i = 0; i < n; i++) { const float x = a[i]; o[i] = (EXPR); }                                    \
  }                                                                                                             \
  ELEMWISE void NAME##SV(const float* a, const float* b, float* o, int64_t n) {                                 \
    const float x = *a;                                                                                         \
    for (int64_t i = 0; i < n; i++) { const float y = b[i]; o[i] = (EXPR); }                                    \
  }                                                                                                             \
  void NAME##Strided(const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {             \
    for (int64_t i = 0; i < n; i++) { const float x = a[i * sa], y = b[i * sb]; o[i] = (EXPR); }                \
  }

DEFINE_BINARY_LOOPS(Add, x + y)
DEFINE_BINARY_LOOPS(Sub, x - y)
DEFINE_BINARY_LOOPS(Mul, x * y)
DEFINE_BINARY_LOOPS(Div, x / y)

struct BinaryLoops {
  void (*vv)(const float*, const float*, float*, int64_t);
  void (*vs)(const float*, const float*, float*, int64_t);
  void (*sv)(const float*, const float*, float*, int64_t);
  void (*strided)(const float*, int64_t, const float*, int64_t, float*, int64_t);
};

const BinaryLoops kBinary[] = {
    {AddVV, AddVS, AddSV, AddStrided},
    {SubVV, SubVS, SubSV, SubStrided},
    {MulVV, MulVS, MulSV, MulStrided},
    {DivVV, DivVS, DivSV, DivStrided},
};

napi_value Binary(napi_env env, napi_callback_info info) {
  napi_value a[8];
  if (!Args(env, info, a, 8)) return nullptr;
  Heap h;
  int64_t op, aOff, bOff, oOff;
  std::vector<int64_t> shape, as, bs;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &op) || !GetI64(env, a[2], &aOff) || !GetI64(env, a[3], &bOff) ||
      !GetI64(env, a[4], &oOff) || !GetI32s(env, a[5], &shape) || !GetI32s(env, a[6], &as) || !GetI32s(env, a[7], &bs))
    return nullptr;
  const size_t r = shape.size();
  if (op < 0 || op > 3 || as.size() != r || bs.size() != r) {
    Throw(env, "binary: bad arguments");
    return nullptr;
  }
  int64_t total = 1, aSpan = 1, bSpan = 1;  // elements touched: 1 + sum (shape-1)*stride
  for (size_t i = 0; i < r; i++) {
    if (shape[i] < 0 || as[i] < 0 || bs[i] < 0) {
      Throw(env, "binary: bad arguments");
      return nullptr;
    }
    total *= shape[i];
    if (shape[i] > 0) {
      aSpan += (shape[i] - 1) * as[i];
      bSpan += (shape[i] - 1) * bs[i];
    }
  }
  float *pa, *pb, *po;
  if (total == 0) return Undefined(env);
  if (!HeapPtr(env, h, aOff, aSpan, &pa) || !HeapPtr(env, h, bOff, bSpan, &pb) || !HeapPtr(env, h, oOff, total, &po))
    return nullptr;
  // Drop size-1 axes, merge axes that are contiguous for both operands.
  std::vector<int64_t> s, sa, sb;
  for (size_t i = 0; i < r; i++) {
    if (shape[i] == 1) continue;
    if (!s.empty() && sa.back() == as[i] * shape[i] && sb.back() == bs[i] * shape[i]) {
      s.back() *= shape[i];
      sa.back() = as[i];
      sb.back() = bs[i];
    } else {
      s.push_back(shape[i]);
      sa.push_back(as[i]);
      sb.push_back(bs[i]);
    }
  }
  if (s.empty()) {
    s.push_back(1);
    sa.push_back(0);
    sb.push_back(0);
  }
  const BinaryLoops& L = kBinary[op];
  const size_t rr = s.size();
  const int64_t n = s[rr - 1], ia = sa[rr - 1], ib = sb[rr - 1];
  const size_t outer = rr - 1;
  std::vector<int64_t> idx(outer, 0);
  int64_t offA = 0, offB = 0;
  for (int64_t o = 0; o < total; o += n) {
    const float* x = pa + offA;
    const float* y = pb + offB;
    float* z = po + o;
    if (ia == 1 && ib == 1) L.vv(x, y, z, n);
    else if (ia == 1 && ib == 0) L.vs(x, y, z, n);
    else if (ia == 0 && ib == 1) L.sv(x, y, z, n);
    else L.strided(x, ia, y, ib, z, n);
    for (int64_t d = static_cast<int64_t>(outer) - 1; d >= 0; d--) {
      idx[d]++;
      offA += sa[d];
      offB += sb[d];
      if (idx[d] < s[d]) break;
      offA -= sa[d] * s[d];
      offB -= sb[d] * s[d];
      idx[d] = 0;
    }
  }
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------------------------
// sum(heap, inOff, outOff, outer, R, inner): out[o, i] = sum_r in[o, r, i]  (float32)
//   inner > 1: each output accumulates in r order, as the stock kernel does. inner == 1: 8 partial sums.

ELEMWISE void SumRows(const float* __restrict in, float* __restrict out, int64_t outer, int64_t R) {
  for (int64_t o = 0; o < outer; o++) {
    const float* x = in + o * R;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t r = 0;
    for (; r + 8 <= R; r += 8)
      for (int l = 0; l < 8; l++) acc[l] += x[r + l];
    float t = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; r < R; r++) t += x[r];
    out[o] = t;
  }
}

ELEMWISE void SumCols(const float* __restrict in, float* __restrict out, int64_t outer, int64_t R, int64_t inner) {
  for (int64_t o = 0; o < outer; o++) {
    float* z = out + o * inner;
    const float* x = in + o * R * inner;
    for (int64_t i = 0; i < inner; i++) z[i] = x[i];
    for (int64_t r = 1; r < R; r++) {
      const float* xr = x + r * inner;
      for (int64_t i = 0; i < inner; i++) z[i] += xr[i];
    }
  }
}

napi_value Sum(napi_env env, napi_callback_info info) {
  napi_value a[6];
  if (!Args(env, info, a, 6)) return nullptr;
  Heap h;
  int64_t inOff, outOff, outer, R, inner;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &inOff) || !GetI64(env, a[2], &outOff) ||
      !GetI64(env, a[3], &outer) || !GetI64(env, a[4], &R) || !GetI64(env, a[5], &inner))
    return nullptr;
  if (outer < 0 || R < 0 || inner < 0) {
    Throw(env, "sum: bad sizes");
    return nullptr;
  }
  float *pin, *pout;
  if (!HeapPtr(env, h, inOff, outer * R * inner, &pin) || !HeapPtr(env, h, outOff, outer * inner, &pout)) return nullptr;
  if (outer * inner == 0) return Undefined(env);
  if (R == 0) std::memset(pout, 0, sizeof(float) * outer * inner);
  else if (inner == 1) SumRows(pin, pout, outer, R);
  else SumCols(pin, pout, outer, R, inner);
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------------------------
// unary(heap, op, inOff, outOff, n)   op: 0 tanh, 1 gelu (tanh approximation)

// tanh as a rational function (Eigen's generic_fast_tanh_float): within a few ulp of tanhf over all floats,
// and it vectorizes. NaN stays NaN; tiny |x| returns x.
inline float TanhF(float x0) {
  const float c = 7.90531110763549805f;
  const float x = x0 > c ? c : (x0 < -c ? -c : x0);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  const float t = p / q;
  return (x0 < 0.0004f && x0 > -0.0004f) ? x0 : t;
}

ELEMWISE_COMPUTE void TanhLoop(const float* __restrict in, float* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; i++) out[i] = TanhF(in[i]);
}

// GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
constexpr float kGeluC = 0.7978845608028654f, kGeluA = 0.044715f;

ELEMWISE_COMPUTE void GeluLoop(const float* __restrict in, float* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float x = in[i];
    out[i] = 0.5f * x * (1.0f + TanhF(kGeluC * (x + kGeluA * x * x * x)));
  }
}

// d gelu / dx * dy
ELEMWISE_COMPUTE void GeluGradLoop(const float* __restrict x_, const float* __restrict dy, float* __restrict out,
                                   int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float x = x_[i], x2 = x * x;
    const float t = TanhF(kGeluC * (x + kGeluA * x2 * x));
    const float d = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kGeluC * (1.0f + 3.0f * kGeluA * x2);
    out[i] = dy[i] * d;
  }
}

// geluGrad(heap, xOff, dyOff, outOff, n)
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!Args(env, info, a, 5)) return nullptr;
  Heap h;
  int64_t xOff, dyOff, outOff, n;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &xOff) || !GetI64(env, a[2], &dyOff) ||
      !GetI64(env, a[3], &outOff) || !GetI64(env, a[4], &n))
    return nullptr;
  float *px, *pdy, *pout;
  if (n < 0 || !HeapPtr(env, h, xOff, n, &px) || !HeapPtr(env, h, dyOff, n, &pdy) || !HeapPtr(env, h, outOff, n, &pout))
    return nullptr;
  GeluGradLoop(px, pdy, pout, n);
  return Undefined(env);
}

// copyRows(heap, inOff, outOff, rows, cols, inStride, outStride): out[r * outStride + c] = in[r * inStride + c]
//   (4-byte elements; Unpack and Pack)
napi_value CopyRows(napi_env env, napi_callback_info info) {
  napi_value a[7];
  if (!Args(env, info, a, 7)) return nullptr;
  Heap h;
  int64_t inOff, outOff, rows, cols, inStride, outStride;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &inOff) || !GetI64(env, a[2], &outOff) ||
      !GetI64(env, a[3], &rows) || !GetI64(env, a[4], &cols) || !GetI64(env, a[5], &inStride) ||
      !GetI64(env, a[6], &outStride))
    return nullptr;
  if (rows < 0 || cols < 0 || inStride < cols || outStride < cols) {
    Throw(env, "copyRows: bad sizes");
    return nullptr;
  }
  float *pin, *pout;
  if (rows == 0 || cols == 0) return Undefined(env);
  if (!HeapPtr(env, h, inOff, (rows - 1) * inStride + cols, &pin) ||
      !HeapPtr(env, h, outOff, (rows - 1) * outStride + cols, &pout))
    return nullptr;
  for (int64_t r = 0; r < rows; r++) std::memcpy(pout + r * outStride, pin + r * inStride, sizeof(float) * cols);
  return Undefined(env);
}

napi_value Unary(napi_env env, napi_callback_info info) {
  napi_value a[5];
  if (!Args(env, info, a, 5)) return nullptr;
  Heap h;
  int64_t op, inOff, outOff, n;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &op) || !GetI64(env, a[2], &inOff) || !GetI64(env, a[3], &outOff) ||
      !GetI64(env, a[4], &n))
    return nullptr;
  float *pin, *pout;
  if (n < 0 || !HeapPtr(env, h, inOff, n, &pin) || !HeapPtr(env, h, outOff, n, &pout)) return nullptr;
  switch (op) {
    case 0: TanhLoop(pin, pout, n); break;
    case 1: GeluLoop(pin, pout, n); break;
    default: Throw(env, "unary: unknown op"); return nullptr;
  }
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------------------------
// LayerNorm over the last axis, forward and backward (rows x D, float32).
//   layerNorm(heap, xOff, gOff, bOff, yOff, meanOff, rstdOff, rows, D, eps)
//     mean = mean(x), var = mean((x - mean)^2), rstd = 1/sqrt(var + eps), y = (x - mean) * rstd * g + b
//   layerNormGrad(heap, xOff, gOff, meanOff, rstdOff, dyOff, dxOff, dgOff, dbOff, rows, D)
//     xhat = (x - mean) * rstd, t = dy * g
//     dx = rstd * (t - mean(t) - xhat * mean(t * xhat)),  dg = sum_rows dy * xhat,  db = sum_rows dy

ELEMWISE void LayerNormLoop(const float* __restrict x, const float* __restrict g, const float* __restrict b,
                            float* __restrict y, float* __restrict mean, float* __restrict rstd, int64_t rows,
                            int64_t D, float eps) {
  const float invD = 1.0f / static_cast<float>(D);
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    float s = 0;
    for (int64_t i = 0; i < D; i++) s += xr[i];
    const float m = s * invD;
    float v = 0;
    for (int64_t i = 0; i < D; i++) {
      const float d = xr[i] - m;
      v += d * d;
    }
    const float rs = 1.0f / std::sqrt(v * invD + eps);
    for (int64_t i = 0; i < D; i++) yr[i] = (xr[i] - m) * rs * g[i] + b[i];
    mean[r] = m;
    rstd[r] = rs;
  }
}

ELEMWISE void LayerNormGradLoop(const float* __restrict x, const float* __restrict g, const float* __restrict mean,
                                const float* __restrict rstd, const float* __restrict dy, float* __restrict dx,
                                float* __restrict dg, float* __restrict db, int64_t rows, int64_t D) {
  const float invD = 1.0f / static_cast<float>(D);
  for (int64_t i = 0; i < D; i++) dg[i] = db[i] = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * D;
    const float* dyr = dy + r * D;
    float* dxr = dx + r * D;
    const float m = mean[r], rs = rstd[r];
    float st = 0, stx = 0;
    for (int64_t i = 0; i < D; i++) {
      const float xh = (xr[i] - m) * rs;
      const float t = dyr[i] * g[i];
      st += t;
      stx += t * xh;
      dg[i] += dyr[i] * xh;
      db[i] += dyr[i];
    }
    const float mt = st * invD, mtx = stx * invD;
    for (int64_t i = 0; i < D; i++) {
      const float xh = (xr[i] - m) * rs;
      dxr[i] = rs * (dyr[i] * g[i] - mt - xh * mtx);
    }
  }
}

napi_value LayerNorm(napi_env env, napi_callback_info info) {
  napi_value a[10];
  if (!Args(env, info, a, 10)) return nullptr;
  Heap h;
  int64_t xOff, gOff, bOff, yOff, mOff, rOff, rows, D;
  double eps;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &xOff) || !GetI64(env, a[2], &gOff) || !GetI64(env, a[3], &bOff) ||
      !GetI64(env, a[4], &yOff) || !GetI64(env, a[5], &mOff) || !GetI64(env, a[6], &rOff) || !GetI64(env, a[7], &rows) ||
      !GetI64(env, a[8], &D))
    return nullptr;
  if (napi_get_value_double(env, a[9], &eps) != napi_ok) {
    Throw(env, "layerNorm: eps");
    return nullptr;
  }
  if (rows < 0 || D <= 0) {
    Throw(env, "layerNorm: bad sizes");
    return nullptr;
  }
  float *px, *pg, *pb, *py, *pm, *pr;
  if (!HeapPtr(env, h, xOff, rows * D, &px) || !HeapPtr(env, h, gOff, D, &pg) || !HeapPtr(env, h, bOff, D, &pb) ||
      !HeapPtr(env, h, yOff, rows * D, &py) || !HeapPtr(env, h, mOff, rows, &pm) || !HeapPtr(env, h, rOff, rows, &pr))
    return nullptr;
  LayerNormLoop(px, pg, pb, py, pm, pr, rows, D, static_cast<float>(eps));
  return Undefined(env);
}

napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  napi_value a[11];
  if (!Args(env, info, a, 11)) return nullptr;
  Heap h;
  int64_t xOff, gOff, mOff, rOff, dyOff, dxOff, dgOff, dbOff, rows, D;
  if (!GetHeap(env, a[0], &h) || !GetI64(env, a[1], &xOff) || !GetI64(env, a[2], &gOff) || !GetI64(env, a[3], &mOff) ||
      !GetI64(env, a[4], &rOff) || !GetI64(env, a[5], &dyOff) || !GetI64(env, a[6], &dxOff) ||
      !GetI64(env, a[7], &dgOff) || !GetI64(env, a[8], &dbOff) || !GetI64(env, a[9], &rows) || !GetI64(env, a[10], &D))
    return nullptr;
  if (rows < 0 || D <= 0) {
    Throw(env, "layerNormGrad: bad sizes");
    return nullptr;
  }
  float *px, *pg, *pm, *pr, *pdy, *pdx, *pdg, *pdb;
  if (!HeapPtr(env, h, xOff, rows * D, &px) || !HeapPtr(env, h, gOff, D, &pg) || !HeapPtr(env, h, mOff, rows, &pm) ||
      !HeapPtr(env, h, rOff, rows, &pr) || !HeapPtr(env, h, dyOff, rows * D, &pdy) ||
      !HeapPtr(env, h, dxOff, rows * D, &pdx) || !HeapPtr(env, h, dgOff, D, &pdg) || !HeapPtr(env, h, dbOff, D, &pdb))
    return nullptr;
  LayerNormGradLoop(px, pg, pm, pr, pdy, pdx, pdg, pdb, rows, D);
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------------------------
// adamw(heap, vOff, mOff, sOff, gOff, scaleOff, vOutOff, mOutOff, sOutOff, n, beta1, beta2, eps, stepSize, decay)
//   One AdamW step for one parameter, in the same float32 operation order as the composed tfjs ops:
//   gi = g * scale; m' = m*b1 + gi*(1-b1); s' = s*b2 + gi^2*(1-b2);
//   update = m' / (sqrt(s') + eps) * stepSize [+ v * decay]; v' = v - update

ELEMWISE void AdamWLoop(const float* __restrict v, const float* __restrict m, const float* __restrict s,
                        const float* __restrict g, float scale, float* __restrict vo, float* __restrict mo,
                        float* __restrict so, int64_t n, float b1, float c1, float b2, float c2, float eps,
                        float stepSize, float decay, bool useDecay) {
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] * scale;
    const float m1 = m[i] * b1 + gi * c1;
    const float s1 = s[i] * b2 + (gi * gi) * c2;
    float update = m1 / (std::sqrt(s1) + eps) * stepSize;
    if (useDecay) update = update + v[i] * decay;
    vo[i] = v[i] - update;
    mo[i] = m1;
    so[i] = s1;
  }
}

napi_value AdamW(napi_env env, napi_callback_info info) {
  napi_value a[15];
  if (!Args(env, info, a, 15)) return nullptr;
  Heap h;
  int64_t off[8], n;  // v, m, s, g, scale, vOut, mOut, sOut ; n
  double hp[5];       // beta1, beta2, eps, stepSize, decay
  if (!GetHeap(env, a[0], &h)) return nullptr;
  for (int i = 0; i < 8; i++)
    if (!GetI64(env, a[1 + i], &off[i])) return nullptr;
  if (!GetI64(env, a[9], &n)) return nullptr;
  for (int i = 0; i < 5; i++)
    if (napi_get_value_double(env, a[10 + i], &hp[i]) != napi_ok) {
      Throw(env, "adamw: expected numbers");
      return nullptr;
    }
  if (n < 0) {
    Throw(env, "adamw: bad size");
    return nullptr;
  }
  float* p[8];
  for (int i = 0; i < 8; i++)
    if (!HeapPtr(env, h, off[i], i == 4 ? 1 : n, &p[i])) return nullptr;
  // Constants rounded to float32 as tfjs rounds its scalars; 1 - beta is computed in double first, as in JS.
  AdamWLoop(p[0], p[1], p[2], p[3], *p[4], p[5], p[6], p[7], n, static_cast<float>(hp[0]),
            static_cast<float>(1.0 - hp[0]), static_cast<float>(hp[1]), static_cast<float>(1.0 - hp[1]),
            static_cast<float>(hp[2]), static_cast<float>(hp[3]), static_cast<float>(hp[4]), hp[4] != 0.0);
  return Undefined(env);
}

// ---------------------------------------------------------------------------------------------------------------
// OpenBLAS kernel selection
//
// With DYNAMIC_ARCH, OpenBLAS picks its kernels from the CPU's family/model. A CPU newer than the library
// (e.g. Emerald Rapids under OpenBLAS 0.3.21) falls back to "Prescott" (SSE3) kernels, 5x slower than the AVX-512
// ones. When that happens and the user did not set OPENBLAS_CORETYPE, pick by instruction set instead.

bool IsLegacyCore(const char* name) {
  static const char* const legacy[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom",
                                       "Sandybridge", "Katmai", "Coppermine", "Northwood", "Banias", "Opteron",
                                       "Opteron(SSE3)", "Barcelona", "Bobcat", "Bulldozer", "Piledriver",
                                       "Steamroller", "Excavator", "Unknown"};
  if (!name) return true;
  for (const char* l : legacy)
    if (std::strcmp(name, l) == 0) return true;
  return false;
}

void FixCoreType() {
  if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice stands
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512cd");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const char* current = openblas_get_corename();
  const char* want = nullptr;
  if (avx512 && (IsLegacyCore(current) || (current && std::strcmp(current, "Haswell") == 0 && __builtin_cpu_is("intel"))))
    want = "SkylakeX";
  else if (avx2 && IsLegacyCore(current))
    want = "Haswell";
  if (!want) return;
  setenv("OPENBLAS_CORETYPE", want, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
}

napi_value CoreName(napi_env env, napi_callback_info) {
  napi_value r;
  const char* name = openblas_get_corename();
  napi_create_string_utf8(env, name ? name : "unknown", NAPI_AUTO_LENGTH, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// threads

napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value a[1];
  if (!Args(env, info, a, 1)) return nullptr;
  int64_t n;
  if (!GetI64(env, a[0], &n)) return nullptr;
  if (n < 1) n = 1;
  if (n > 256) n = 256;
  openblas_set_num_threads(static_cast<int>(n));
  napi_value r;
  napi_create_int32(env, openblas_get_num_threads(), &r);
  return r;
}

napi_value GetThreads(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_int32(env, openblas_get_num_threads(), &r);
  return r;
}

napi_value Init(napi_env env, napi_value exports) {
  static bool coreFixed = false;
  if (!coreFixed) {
    coreFixed = true;
    FixCoreType();
  }
  struct Fn {
    const char* name;
    napi_callback cb;
  } fns[] = {
      {"sgemm", Sgemm},
      {"transpose", Transpose},
      {"binary", Binary},
      {"sum", Sum},
      {"unary", Unary},
      {"geluGrad", GeluGrad},
      {"copyRows", CopyRows},
      {"layerNorm", LayerNorm},
      {"layerNormGrad", LayerNormGrad},
      {"adamw", AdamW},
      {"setThreads", SetThreads},
      {"getThreads", GetThreads},
      {"coreName", CoreName},
  };
  for (const Fn& f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.cb, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  napi_value version;
  napi_create_int32(env, kAddonVersion, &version);
  napi_set_named_property(env, exports, "version", version);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
