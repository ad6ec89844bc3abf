// The explicit backend's time loop for the plain LSTM cell on the CPU, with the gate arithmetic
// fused into one pass over (B, H) per step. It computes exactly what the Python loop in
// recurrence.py computes (same buffers, same (o, i, f, g) gate order); it exists because from
// Python each step costs about seven kernel launches, which at small sizes dominates the step.
//
// Legend: T time, B batch, H hidden. Gates are time-major (T, B, 4H) in (o, i, f, g) order.
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
void gates_forward(T* a, const T* c_prev, T* c, T* tc, T* h, int64_t B, int64_t H) {
  at::parallel_for(0, B, grain_rows(H), [&](int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b) {
    T* ab = a + b * 4 * H;
    const T* cp = c_prev + b * H;
    T* cb = c + b * H;
    T* tb = tc + b * H;
    T* hb = h + b * H;
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
template <typename T>
void gates_backward(const T* a, const T* c_prev, const T* tc, const T* dh, const T* dcs, T* dc,
                    T* dg, int64_t B, int64_t H) {
  at::parallel_for(0, B, grain_rows(H), [&](int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b) {
    const T* ab = a + b * 4 * H;
    const T* cp = c_prev + b * H;
    const T* tb = tc + b * H;
    const T* dhb = dh + b * H;
    const T* dcsb = dcs ? dcs + b * H : nullptr;
    T* dcb = dc + b * H;
    T* dgb = dg + b * 4 * H;
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

// act (T, B, 4H) holds W_ih x_t + b on entry; h0, c0 (B, H); w_hh_t (H, 4H).
// Writes the activations into act, and c (T, B, H), tanh(c) into tc, h into out.
void forward(torch::Tensor act, torch::Tensor h0, torch::Tensor c0, torch::Tensor w_hh_t,
             torch::Tensor cs, torch::Tensor tc, torch::Tensor out) {
  const int64_t steps = act.size(0), B = act.size(1), H = cs.size(2);
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstmkit_forward", [&] {
    torch::Tensor h_prev = h0, c_prev = c0;
    for (int64_t t = 0; t < steps; ++t) {
      torch::Tensor a = act[t];
      a.addmm_(h_prev, w_hh_t);
      gates_forward<scalar_t>(a.data_ptr<scalar_t>(), c_prev.data_ptr<scalar_t>(),
                              cs[t].data_ptr<scalar_t>(), tc[t].data_ptr<scalar_t>(),
                              out[t].data_ptr<scalar_t>(), B, H);
      h_prev = out[t];
      c_prev = cs[t];
    }
  });
}

// Fills d_gates (T, B, 4H) with ∂loss/∂(gate pre-activations); returns (∂loss/∂h0, ∂loss/∂c0).
// d_out (T, B, H) and d_cs (T, B, H) may be undefined (no gradient reached them).
std::vector<torch::Tensor> backward(torch::Tensor act, torch::Tensor cs, torch::Tensor tc,
                                    torch::Tensor c0, torch::Tensor w_hh,
                                    c10::optional<torch::Tensor> d_out,
                                    c10::optional<torch::Tensor> d_cs, torch::Tensor d_gates) {
  const int64_t steps = act.size(0), B = act.size(1), H = cs.size(2);
  torch::Tensor dh = d_out ? (*d_out)[steps - 1].clone() : torch::zeros({B, H}, act.options());
  torch::Tensor dc = torch::zeros({B, H}, act.options());
  AT_DISPATCH_FLOATING_TYPES(act.scalar_type(), "lstmkit_backward", [&] {
    for (int64_t t = steps - 1; t >= 0; --t) {
      const torch::Tensor c_prev = t > 0 ? cs[t - 1] : c0;
      torch::Tensor dg = d_gates[t];
      gates_backward<scalar_t>(act[t].data_ptr<scalar_t>(), c_prev.data_ptr<scalar_t>(),
                               tc[t].data_ptr<scalar_t>(), dh.data_ptr<scalar_t>(),
                               d_cs ? (*d_cs)[t].data_ptr<scalar_t>() : nullptr,
                               dc.data_ptr<scalar_t>(), dg.data_ptr<scalar_t>(), B, H);
      // ∂loss/∂h_{t-1}: the recurrent path plus the output gradient of step t-1.
      dh = (d_out && t > 0) ? at::addmm((*d_out)[t - 1], dg, w_hh) : at::mm(dg, w_hh);
    }
  });
  return {dh, dc};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &forward, "LSTM time loop, plain cell (CPU)");
  m.def("backward", &backward, "LSTM backward through time, plain cell (CPU)");
}
