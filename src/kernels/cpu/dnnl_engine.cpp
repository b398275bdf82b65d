// oneDNN bf16 convolutions for the CPU (see dnnl_engine.h for why oneDNN). Each call builds its primitive
// descriptors from the shapes; oneDNN's primitive cache (1024 entries by default) makes the repeated shapes of a
// network cheap after the first pass. Formats are `any`, so oneDNN picks its blocked bf16 layouts, and our F32 NCHW
// tensors are reordered in and out.
#include "kernels/cpu/dnnl_engine.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_ops.h"
#include "tensor/error.h"
#include "tensor/immutable_copies.h"

#ifdef BIGCOLOR_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace bigcolor::cpu::dnnl_engine {

#ifndef BIGCOLOR_WITH_DNNL

bool bf16_native() { return false; }
const char* isa_name() { return "none"; }
void conv2d_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int, bool) {
  throw Error("conv2d (bf16): this build has no oneDNN");
}
void conv2d_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, int,
                     bool) {
  throw Error("conv2d (bf16): this build has no oneDNN");
}
void attention_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) {
  throw Error("attention (bf16): this build has no oneDNN");
}

#else

namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& thread_stream() {  // a stream per calling thread (the in-process rank tests run several)
  thread_local dnnl::stream stream(cpu_engine());
  return stream;
}

bool has_isa(dnnl::cpu_isa isa) {
  const auto effective = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  const auto wanted = static_cast<unsigned>(isa);
  return (effective & wanted) == wanted;
}

memory::dims dims4(const Tensor& t) { return {t.dim(0), t.dim(1), t.dim(2), t.dim(3)}; }

// A user tensor (F32, plain NCHW or OIHW) as oneDNN memory, without a copy.
memory plain(const Tensor& t) {
  return memory({dims4(t), dt::f32, tag::abcd}, cpu_engine(), const_cast<void*>(static_cast<const void*>(t.raw())));
}

// oneDNN memory of `desc` in a tensor's storage, so its big blocks come from (and return to) the host cache
// (tensor/host_cache.h) instead of fresh pages on every call.
struct Buffer {
  memory mem;
  Tensor storage;
};

Buffer buffer(const memory::desc& desc) {
  const auto floats = static_cast<std::int64_t>((desc.get_size() + sizeof(float) - 1) / sizeof(float));
  Tensor storage = Tensor::empty({floats}, DType::F32, Device::CPU);
  return {memory(desc, cpu_engine(), storage.raw()), storage};
}

// `user` in the layout `desc` wants: itself when they agree, else a reordered copy.
Buffer reordered(memory user, const memory::desc& desc) {
  if (user.get_desc() == desc) return {user, Tensor{}};
  Buffer converted = buffer(desc);
  dnnl::reorder(user, converted.mem).execute(thread_stream(), user, converted.mem);
  return converted;
}

// `weight` in the layout `desc`: for an immutable weight (the fixed W/σ of a loaded model) the copy made on its first
// use (tensor/immutable_copies.h): the weights are converted once, not per call (17 ms of a 256² bf16 forward
// here); else a fresh reorder.
Buffer weights_as(const Tensor& weight, const memory::desc& desc) {
  if (!weight.immutable()) return reordered(plain(weight), desc);
  return ImmutableCopies<memory::desc, Buffer>::get(weight, desc, [&] {
    Buffer converted = reordered(plain(weight), desc);
    thread_stream().wait();
    return converted;
  });
}

// The convolution's input dims: in's, or its nearest ×2 upsampling's for the upconv.
memory::dims source_dims(const Tensor& in, bool upsample) {
  const std::int64_t f = upsample ? 2 : 1;
  return {in.dim(0), in.dim(1), f * in.dim(2), f * in.dim(3)};
}

// The convolution's input in the layout `wanted` (bf16). For the upconv, `in` is converted to bf16 NHWC first and
// upsampled there: the 4× larger tensor is written once, in 2-byte elements, never as F32 (which cost a quarter of
// the bf16 forward's reorder time when it was materialized in F32 and reordered).
Buffer conv_source(const Tensor& in, bool upsample, const memory::desc& wanted) {
  if (!upsample) return reordered(plain(in), wanted);
  const memory::desc small(dims4(in), dt::bf16, tag::acdb);
  const Buffer x = reordered(plain(in), small);
  const memory::desc big_desc(source_dims(in, true), dt::bf16, tag::acdb);
  Buffer big = buffer(big_desc);
  thread_stream().wait();
  const std::int64_t b = in.dim(0), c = in.dim(1), h = in.dim(2), w = in.dim(3);
  const auto* src = static_cast<const std::uint16_t*>(x.mem.get_data_handle());
  auto* dst = static_cast<std::uint16_t*>(big.mem.get_data_handle());
  const std::size_t pixel = sizeof(std::uint16_t) * static_cast<std::size_t>(c);
#pragma omp parallel for collapse(2) schedule(static)
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t y = 0; y < h; ++y) {
      const std::uint16_t* row = src + (i * h + y) * w * c;
      std::uint16_t* top = dst + (i * 2 * h + 2 * y) * 2 * w * c;  // output rows 2y and 2y + 1
      for (std::int64_t xx = 0; xx < w; ++xx) {
        std::memcpy(top + (2 * xx) * c, row + xx * c, pixel);
        std::memcpy(top + (2 * xx + 1) * c, row + xx * c, pixel);
      }
      std::memcpy(top + 2 * w * c, top, 2 * static_cast<std::size_t>(w) * pixel);
    }
  if (big_desc == wanted) return big;
  return reordered(big.mem, wanted);  // oneDNN wanted another layout: one more pass
}

struct ConvDescs {
  memory::desc src, weights, dst, bias;
  memory::dims strides{1, 1}, padding;
};

ConvDescs descs(const memory::dims& src, const Tensor& weight, const Tensor& out_like, int padding, dt result) {
  return {memory::desc(src, dt::bf16, tag::any), memory::desc(dims4(weight), dt::bf16, tag::any),
          memory::desc(dims4(out_like), result, tag::any), memory::desc({weight.dim(0)}, dt::f32, tag::a),
          {1, 1}, {padding, padding}};
}

dnnl::convolution_forward::primitive_desc forward_pd(const ConvDescs& d, bool with_bias, dnnl::prop_kind kind) {
  using cf = dnnl::convolution_forward;
  auto desc = with_bias ? cf::desc(kind, dnnl::algorithm::convolution_direct, d.src, d.weights, d.bias, d.dst,
                                   d.strides, d.padding, d.padding)
                        : cf::desc(kind, dnnl::algorithm::convolution_direct, d.src, d.weights, d.dst, d.strides,
                                   d.padding, d.padding);
  return cf::primitive_desc(desc, cpu_engine());
}

// A 2-D view (rows × cols, row stride `ld` elements) of plain memory as oneDNN memory, without a copy.
memory view2d(const void* p, std::int64_t rows, std::int64_t cols, std::int64_t ld, dt type) {
  return memory(memory::desc({rows, cols}, type, memory::dims{ld, 1}), cpu_engine(), const_cast<void*>(p));
}

// dst (M × N, F32, dense) = src (M × K) · weights (K × N), bf16 operands given as memory.
void matmul_f32(const memory& src, const memory& weights, const memory& dst) {
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src.get_desc(), weights.get_desc(), dst.get_desc()),
                                        cpu_engine());
  dnnl::matmul(pd).execute(thread_stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
}

// A row softmax (or its log, `algo` = softmax_log) of `src` (q × M F32) into `dst` (q × M, dst's type).
void softmax_rows(const memory& src, const memory& dst, dnnl::algorithm algo) {
  using sm = dnnl::softmax_v2_forward;
  const sm::primitive_desc pd(sm::desc(dnnl::prop_kind::forward_inference, algo, src.get_desc(), dst.get_desc(), 1),
                              cpu_engine());
  sm(pd).execute(thread_stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
}

// acc (F32, n) += add (F32, n).
void accumulate(float* acc, const float* add, std::int64_t n) {
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) acc[i] += add[i];
}

}  // namespace

bool bf16_native() {
  static const bool native = has_isa(dnnl::cpu_isa::avx512_core_bf16);
  return native;
}

const char* isa_name() {
  if (has_isa(dnnl::cpu_isa::avx512_core_amx)) return "avx512_core_amx";
  if (has_isa(dnnl::cpu_isa::avx512_core_bf16)) return "avx512_core_bf16";
  if (has_isa(dnnl::cpu_isa::avx512_core)) return "avx512_core";
  return "avx2 or older";
}

void conv2d_forward(const Tensor& out, const Tensor& in, const Tensor& weight, const Tensor& bias, int padding,
                    bool upsample) {
  const ConvDescs d = descs(source_dims(in, upsample), weight, out, padding, dt::f32);
  const auto pd = forward_pd(d, bias.defined(), dnnl::prop_kind::forward_inference);
  memory user_dst = plain(out);
  const Buffer src_mem = conv_source(in, upsample, pd.src_desc());
  const Buffer weight_mem = weights_as(weight, pd.weights_desc());
  const bool direct = pd.dst_desc() == user_dst.get_desc();
  const Buffer dst_buffer = direct ? Buffer{user_dst, Tensor{}} : buffer(pd.dst_desc());
  memory dst_mem = dst_buffer.mem;
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src_mem.mem}, {DNNL_ARG_WEIGHTS, weight_mem.mem}, {DNNL_ARG_DST, dst_mem}};
  if (bias.defined())
    args.emplace(DNNL_ARG_BIAS, memory(d.bias, cpu_engine(), const_cast<void*>(static_cast<const void*>(bias.raw()))));
  dnnl::convolution_forward(pd).execute(thread_stream(), args);
  if (!direct) dnnl::reorder(dst_mem, user_dst).execute(thread_stream(), dst_mem, user_dst);
  thread_stream().wait();
}

void conv2d_backward(const Tensor& d_in, const Tensor& d_weight, const Tensor& d_bias, const Tensor& d_out,
                     const Tensor& in, const Tensor& weight, int padding, bool upsample) {
  if (!d_in.defined() && !d_weight.defined() && !d_bias.defined()) return;
  const memory::dims src_dims = source_dims(in, upsample);
  const ConvDescs d = descs(src_dims, weight, d_out, padding, dt::bf16);
  const auto hint = forward_pd(d, false, dnnl::prop_kind::forward_training);
  const memory user_d_out = plain(d_out);
  dnnl::stream& stream = thread_stream();
  if (d_in.defined()) {  // d_src (F32) = conv_transpose(d_out, weight)
    using bd = dnnl::convolution_backward_data;
    const memory::desc d_src_desc(src_dims, dt::f32, tag::any);
    const bd::primitive_desc pd(bd::desc(dnnl::algorithm::convolution_direct, d_src_desc, d.weights, d.dst,
                                         d.strides, d.padding, d.padding),
                                cpu_engine(), hint);
    const Tensor d_src = upsample ? Tensor::empty(Shape(src_dims.begin(), src_dims.end()), DType::F32, Device::CPU) : d_in;
    memory user_d_src = plain(d_src);
    const bool direct = pd.diff_src_desc() == user_d_src.get_desc();
    const Buffer d_src_buffer = direct ? Buffer{user_d_src, Tensor{}} : buffer(pd.diff_src_desc());
    memory d_src_mem = d_src_buffer.mem;
    const Buffer d_dst = reordered(user_d_out, pd.diff_dst_desc());
    const Buffer w = weights_as(weight, pd.weights_desc());
    bd(pd).execute(stream, {{DNNL_ARG_DIFF_DST, d_dst.mem}, {DNNL_ARG_WEIGHTS, w.mem}, {DNNL_ARG_DIFF_SRC, d_src_mem}});
    if (!direct) dnnl::reorder(d_src_mem, user_d_src).execute(stream, d_src_mem, user_d_src);
    stream.wait();
    if (upsample) cpu::upsample_nearest2x_backward(d_in, d_src);  // each 2×2 block's sum
  }
  if (d_bias.defined()) {  // a plain sum of d_out, not a product: F32 from the F32 d_out, as every engine does
    if (upsample)
      cpu::upconv3x3_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight);
    else
      cpu::conv2d_backward(Tensor{}, Tensor{}, d_bias, d_out, in, weight, padding);
  }
  if (d_weight.defined()) {  // d_weight (F32) = correlation of src with d_out; oneDNN overwrites, the op accumulates
    using bw = dnnl::convolution_backward_weights;
    const memory::desc d_w_desc(dims4(weight), dt::f32, tag::any);
    const bw::primitive_desc pd(bw::desc(dnnl::algorithm::convolution_direct, d.src, d_w_desc, d.dst, d.strides,
                                         d.padding, d.padding),
                                cpu_engine(), hint);
    Tensor dw = Tensor::empty(weight.shape(), DType::F32, Device::CPU);
    memory user_dw = plain(dw);
    const bool direct = pd.diff_weights_desc() == user_dw.get_desc();
    const Buffer dw_buffer = direct ? Buffer{user_dw, Tensor{}} : buffer(pd.diff_weights_desc());
    memory dw_mem = dw_buffer.mem;
    const Buffer src_mem = conv_source(in, upsample, pd.src_desc());
    const Buffer d_dst = reordered(user_d_out, pd.diff_dst_desc());
    bw(pd).execute(stream, {{DNNL_ARG_SRC, src_mem.mem}, {DNNL_ARG_DIFF_DST, d_dst.mem}, {DNNL_ARG_DIFF_WEIGHTS, dw_mem}});
    if (!direct) dnnl::reorder(dw_mem, user_dw).execute(stream, dw_mem, user_dw);
    stream.wait();
    accumulate(d_weight.data<float>(), dw.data<float>(), dw.numel());
  }
}

// Per batch and block of q queries, as the FP32 kernel (cpu/attention.cpp), with the products on bf16 operands:
//   θ16 (Ck × q), φ16 (Ck × M), g16 (Cv × M): the operands rounded to bf16 (oneDNN's reorders: nearest even);
//   S (q × M) F32 = θ16ᵀ · φ16                                   (matmul, F32 accumulation)
//   P (q × M) bf16 = softmax(S), L (q × M) F32 = log softmax(S)  (oneDNN's softmax: F32 arithmetic)
//   lse[n] = S[n, 0] − L[n, 0]
//   out[:, block] (Cv × q) F32 = g16 · Pᵀ                          (matmul)
// P goes into the second product rounded to bf16, as autocast's bf16 softmax output does; the emulated engine
// keeps it F32, so the two differ by about u in `out` (their test bar says so).
void attention_forward(const Tensor& out, const Tensor& lse, const Tensor& theta, const Tensor& phi, const Tensor& g) {
  const std::int64_t batch = theta.dim(0), ck = theta.dim(1), n = theta.dim(2), m = phi.dim(2), cv = g.dim(1);
  if (batch * n == 0) return;
  dnnl::stream& stream = thread_stream();
  // Query blocks of up to 256, fewer for a long M: the score buffers stay near 1M elements each.
  const std::int64_t block = std::clamp<std::int64_t>((std::int64_t{1} << 20) / std::max<std::int64_t>(m, 1), 1,
                                                      std::min<std::int64_t>(256, n));
  Buffer phi16 = buffer(memory::desc({ck, m}, dt::bf16, tag::ab));
  Buffer g16 = buffer(memory::desc({cv, m}, dt::bf16, tag::ab));
  const Buffer theta16 = buffer(memory::desc({ck, block}, dt::bf16, tag::ab));
  const Buffer scores = buffer(memory::desc({block, m}, dt::f32, tag::ab));
  const Buffer log_p = buffer(memory::desc({block, m}, dt::f32, tag::ab));
  const Buffer p16 = buffer(memory::desc({block, m}, dt::bf16, tag::ab));
  const Buffer o = buffer(memory::desc({cv, block}, dt::f32, tag::ab));
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* th = theta.data<float>() + b * ck * n;
    memory phi_b = view2d(phi.data<float>() + b * ck * m, ck, m, m, dt::f32);
    memory g_b = view2d(g.data<float>() + b * cv * m, cv, m, m, dt::f32);
    dnnl::reorder(phi_b, phi16.mem).execute(stream, phi_b, phi16.mem);
    dnnl::reorder(g_b, g16.mem).execute(stream, g_b, g16.mem);
    for (std::int64_t n0 = 0; n0 < n; n0 += block) {
      const std::int64_t q = std::min(block, n - n0);
      // The block's operands and results as q-sized views of the block-sized buffers.
      memory th_block = view2d(th + n0, ck, q, n, dt::f32);
      memory th16 = view2d(theta16.mem.get_data_handle(), ck, q, q, dt::bf16);
      dnnl::reorder(th_block, th16).execute(stream, th_block, th16);
      const memory th16_t(memory::desc({q, ck}, dt::bf16, memory::dims{1, q}), cpu_engine(),
                          th16.get_data_handle());  // θ16ᵀ (q × Ck), the same bytes
      memory s = view2d(scores.mem.get_data_handle(), q, m, m, dt::f32);
      matmul_f32(th16_t, phi16.mem, s);
      memory l = view2d(log_p.mem.get_data_handle(), q, m, m, dt::f32);
      memory p = view2d(p16.mem.get_data_handle(), q, m, m, dt::bf16);
      softmax_rows(s, p, dnnl::algorithm::softmax_accurate);
      softmax_rows(s, l, dnnl::algorithm::softmax_log);
      const memory p_t(memory::desc({m, q}, dt::bf16, memory::dims{1, m}), cpu_engine(),
                       p.get_data_handle());  // Pᵀ (M × q)
      memory ob = view2d(o.mem.get_data_handle(), cv, q, q, dt::f32);
      matmul_f32(g16.mem, p_t, ob);
      stream.wait();
      const auto* sv = static_cast<const float*>(s.get_data_handle());
      const auto* lv = static_cast<const float*>(l.get_data_handle());
      float* lse_b = lse.data<float>() + b * n + n0;
      for (std::int64_t i = 0; i < q; ++i) lse_b[i] = sv[i * m] - lv[i * m];
      const auto* ov = static_cast<const float*>(ob.get_data_handle());
      float* out_b = out.data<float>() + b * cv * n + n0;
      for (std::int64_t c = 0; c < cv; ++c) std::memcpy(out_b + c * n, ov + c * q, sizeof(float) * q);
    }
  }
}

#endif

}  // namespace bigcolor::cpu::dnnl_engine
