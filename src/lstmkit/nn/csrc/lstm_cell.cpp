// The explicit backend's time loop for the plain LSTM cell on the CPU, with the gate arithmetic
// fused into one pass over (B, H) per step. It computes exactly what the Python loop in
// recurrence.py computes (same buffers, same (o, i, f, g) gate order); it exists because from
// Python each step costs about seven kernel launches, which at small sizes dominates the step.
//
// Legend: T time, B batch, H hidden. Buffers are batch-major (B, T, ·), so a step's rows are
// strided: each pointer below comes with its row stride (ld*). Gates are in (o, i, f, g) order.
#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <cmath>

namespace {

// Rows per thread: below about 16k elements a step's arithmetic is cheaper than waking a thread.
inline int64_t grain_rows(int64_t H) { return std::max<int64_t>(1, 16384 / H); }

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// act[t] holds the gate pre-activations on entry and their activations on exit.
template <typename T>
void gates_forward(T* a, int64_t lda, const T* c_prev, int64_t ldp, T* c, T* tc, T* h,
                   int64_t ld, int64_t B, int64_t H) {
  at::parallel_for(0, B, grain_rows(H), [&](int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b) {
    T* ab = a + b * lda;
    const T* cp = c_prev + b * ldp;
    T* cb = c + b * ld;
    T* tb = tc + b * ld;
    T* hb = h + b * ld;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T o = sigmoid(ab[j]);
      const T i = sigmoid(ab[H + j]);
      const T f = sigmoid(ab[2 * H + j]);
      const T g = std::tanh(ab[3 * H + j]);
      const T cc = f * cp[j] + i * g;
      const T t = std::tanh(cc);
      ab[j] = o;
      ab[H + j] = i;
      ab[2 * H + j] = f;
      ab[3 * H + j] = g;
      cb[j] = cc;
      tb[j] = t;
      hb[j] = o * t;
    }
  }
  });
}

// dh: ∂loss/∂h_t; dc: on entry ∂loss/∂c_t from step t+1, on exit ∂loss/∂c_{t-1}.
// dh, dc are contiguous (B, H); a, dg share the gates' row stride lda, tc and dcs the states' ld.
template <typename T>
void gates_backward(const T* a, int64_t lda, const T* c_prev, int64_t ldp, const T* tc,
                    const T* dcs, int64_t ld, const T* dh, T* dc, T* dg, int64_t B, int64_t H) {
  at::parallel_for(0, B, grain_rows(H), [&](int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b) {
    const T* ab = a + b * lda;
    const T* cp = c_prev + b * ldp;
    const T* tb = tc + b * ld;
    const T* dhb = dh + b * H;
    const T* dcsb = dcs ? dcs + b * ld : nullptr;
    T* dcb = dc + b * H;
    T* dgb = dg + b * lda;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const T o = ab[j], i = ab[H + j], f = ab[2 * H + j], g = ab[3 * H + j];
      const T t = tb[j];
      T d = dcb[j] + dhb[j] * o * (T(1) - t * t);
      if (dcsb) d += dcsb[j];
      dgb[j] = dhb[j] * t * o * (T(1) - o);
      dgb[H + j] = d * g * i * (T(1) - i);
      dgb[2 * H + j] = d * cp[j] * f * (T(1) - f);
      dgb[3 * H + j] = d * i * (T(1) - g * g);
      dcb[j] = d * f;
    }
  }
  });
}

}  // namespace

// act (B, T, 4H) holds W_ih x_t + b on entry; h0, c0 (B, H); w_hh_t (H, 4H); all buffers are
// contiguous. Writes the activations into act, and c (B, T, H), tanh(c) into tc, h into out.
void forward(torch::Tensor act, torch::Tensor h0, torch::Tensor c0, torch::Tensor w_hh_t,
             torch::Tensor cs, torch::Tensor tc, torch::Tensor out) {
  const int64_t B = act.size(0), steps = act.size(1), H = cs.size(2);
  const int64_t lda = act.stride(0), ld = cs.stride(0);
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstmkit_forward", [&] {
    torch::Tensor h_prev = h0;
    const scalar_t* c_prev = c0.data_ptr<scalar_t>();
    int64_t ldp = H;
    for (int64_t t = 0; t < steps; ++t) {
      torch::Tensor a = act.select(1, t);
      a.addmm_(h_prev, w_hh_t);
      scalar_t* c = cs.select(1, t).data_ptr<scalar_t>();
      gates_forward<scalar_t>(a.data_ptr<scalar_t>(), lda, c_prev, ldp, c,
                              tc.select(1, t).data_ptr<scalar_t>(),
                              out.select(1, t).data_ptr<scalar_t>(), ld, B, H);
      h_prev = out.select(1, t);
      c_prev = c;
      ldp = ld;
    }
  });
}

// Fills d_gates (B, T, 4H) with ∂loss/∂(gate pre-activations); returns (∂loss/∂h0, ∂loss/∂c0).
// d_out (B, T, H) and d_cs (B, T, H), contiguous, may be absent (no gradient reached them).
std::vector<torch::Tensor> backward(torch::Tensor act, torch::Tensor cs, torch::Tensor tc,
                                    torch::Tensor c0, torch::Tensor w_hh,
                                    c10::optional<torch::Tensor> d_out,
                                    c10::optional<torch::Tensor> d_cs, torch::Tensor d_gates) {
  const int64_t B = act.size(0), steps = act.size(1), H = cs.size(2);
  const int64_t lda = act.stride(0), ld = cs.stride(0);
  torch::Tensor dh = d_out ? d_out->select(1, steps - 1).contiguous()
                           : torch::zeros({B, H}, act.options());
  torch::Tensor dc = torch::zeros({B, H}, act.options());
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstmkit_backward", [&] {
    for (int64_t t = steps - 1; t >= 0; --t) {
      const scalar_t* c_prev =
          t > 0 ? cs.select(1, t - 1).data_ptr<scalar_t>() : c0.data_ptr<scalar_t>();
      torch::Tensor dg = d_gates.select(1, t);
      gates_backward<scalar_t>(act.select(1, t).data_ptr<scalar_t>(), lda, c_prev,
                               t > 0 ? ld : H, tc.select(1, t).data_ptr<scalar_t>(),
                               d_cs ? d_cs->select(1, t).data_ptr<scalar_t>() : nullptr, ld,
                               dh.data_ptr<scalar_t>(), dc.data_ptr<scalar_t>(),
                               dg.data_ptr<scalar_t>(), B, H);
      // ∂loss/∂h_{t-1}: the recurrent path plus the output gradient of step t-1.
      dh = (d_out && t > 0) ? at::addmm(d_out->select(1, t - 1), dg, w_hh) : at::mm(dg, w_hh);
    }
  });
  return {dh, dc};
}

// Both directions of a bidirectional layer at once, each direction's time loop on a thread of
// its own (inside it, the step's product and gate arithmetic run on that thread alone). One
// after the other, each direction's small per-step products are split across the threads and
// the threads meet at every step; here they meet once. Each argument holds forward's seven
// tensors (act, h0, c0, w_hh_t, cs, tc, out) for one direction.
void forward_pair(std::vector<torch::Tensor> one, std::vector<torch::Tensor> two) {
  TORCH_CHECK(one.size() == 7 && two.size() == 7, "forward_pair: expected 7 tensors a direction");
  at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
    at::NoGradGuard no_grad;  // grad mode is per thread: a pool thread's is on
    for (int64_t d = begin; d < end; ++d) {
      auto& v = d ? two : one;
      forward(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
    }
  });
}

// backward for both directions at once, as forward_pair; each argument holds backward's
// arguments for one direction, absent gradients as undefined tensors. Returns (∂loss/∂h0,
// ∂loss/∂c0) of the first direction, then of the second.
std::vector<torch::Tensor> backward_pair(std::vector<c10::optional<torch::Tensor>> one,
                                         std::vector<c10::optional<torch::Tensor>> two) {
  TORCH_CHECK(one.size() == 8 && two.size() == 8, "backward_pair: expected 8 tensors a direction");
  std::vector<torch::Tensor> grads(4);
  at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
    at::NoGradGuard no_grad;
    for (int64_t d = begin; d < end; ++d) {
      auto& v = d ? two : one;
      auto g = backward(*v[0], *v[1], *v[2], *v[3], *v[4], v[5], v[6], *v[7]);
      grads[2 * d] = g[0];
      grads[2 * d + 1] = g[1];
    }
  });
  return grads;
}

// Sets (or clears) flush-to-zero and denormals-are-zero on this thread and on every thread of
// torch's intra-op pool; returns whether the CPU can. torch.set_flush_denormal changes the
// calling thread's alone (the control register is per thread), so with two or more threads the
// pool's other threads went on computing with subnormal floats, many times slower. The build
// compiles with -fopenmp but links no OpenMP runtime of its own: the parallel region below runs
// on the runtime torch loaded, whose threads are torch's intra-op pool.
bool set_flush_denormal_all_threads(bool on) {
  bool supported = at::globalContext().setFlushDenormal(on);
#ifdef _OPENMP
#pragma omp parallel
  { at::globalContext().setFlushDenormal(on); }
#endif
  return supported;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "LSTM time loop, plain cell (CPU)");
  m.def("backward", &backward, "LSTM backward through time, plain cell (CPU)");
  m.def("forward_pair", &forward_pair, "forward for both directions at once (CPU)");
  m.def("backward_pair", &backward_pair, "backward for both directions at once (CPU)");
  m.def("set_flush_denormal_all_threads", &set_flush_denormal_all_threads,
        "torch.set_flush_denormal on every intra-op thread (CPU)");
}
