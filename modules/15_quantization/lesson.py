# %% [markdown]
# # Lesson 15 · Quantization
#
# A trained float32 weight costs 4 bytes. Stored as an 8-bit integer `q` together with a **scale**
# (the real size of one integer step) and a **zero point** (the integer that stands for real 0),
# `x ~ scale * (q - zero_point)`, it costs 1, and the model keeps almost all of its accuracy. This
# is *post-training quantization*: no retraining, only a look at the weights and at a few batches
# of real inputs.
#
# - **Build**: the affine parameters of a range; quantize and dequantize; weights quantized per
#   output channel; an int8 matrix multiply that sums exactly in int32; and a quantized linear layer
#   made of those pieces, each checked against `tinytorch.quant`.
# - **Use**: a Fashion-MNIST MLP trained here, quantized with your pieces (calibrated on real
#   batches), then with `tinytorch.quant.quantize_model`: the same logits, and the test accuracy.
# - **Understand**: the model's bytes, the accuracy before and after, where the rounding error goes
#   (per weight, per channel, in the logits, in the activations' range), and what int8 costs in time
#   here.
# - **Reflect**: why about four times smaller and not exactly four, why the accuracy barely moves,
#   why per channel, and why int8 is not faster in NumPy.
#
# Prerequisites: lessons 01 (dtypes and bytes) and 03 (`Linear`). Fill in every
# `raise NotImplementedError()`, run the cell and the check under it; `tinytorch check 15` runs every
# check and more tests on your notebook.

# %%
import os
import sys

if "numpy" not in sys.modules:  # BLAS fixes its thread count when NumPy loads: one thread, unless you set another
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (steadier timings; threads fighting a busy machine are slow)

import time

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import tinytorch as tt
from tinytorch import nn, quant

FAST = os.environ.get("TINYTORCH_FAST") == "1"  # CI: a slice of the data and a short training
rng = np.random.default_rng(0)
QMIN, QMAX = -128, 127  # the int8 range

# %% [markdown]
# ## Build
#
# ### 1. A range becomes a scale and a zero point
#
# Affine (asymmetric) quantization maps the real range `[x_min, x_max]` onto the 256 integers
# `[-128, 127]`:
#
# - `scale = (x_max - x_min) / (127 - (-128))`: the real size of one integer step;
# - `zero_point = -128 - round(x_min / scale)`: the integer that `x_min / scale` lands on, shifted so
#   that `x_min` becomes `-128`, clipped to the int8 range.
#
# First widen the range to contain 0 (`x_min = min(x_min, 0)`, `x_max = max(x_max, 0)`): then real 0
# is exactly the integer `zero_point`, so ReLU's zeros and zero padding stay exact. A range of zero
# width (an all-zero tensor) still needs a step > 0: use `np.finfo(np.float32).eps`. Return the
# scale as `np.float32` (compute it first, then the zero point from it) and the zero point as an
# `int`.


# %%
def affine_qparams(x_min, x_max):
    """(scale, zero_point) that map [x_min, x_max], widened to hold 0, onto the int8 range [-128, 127]."""
    ### BEGIN SOLUTION
    lo, hi = min(float(x_min), 0.0), max(float(x_max), 0.0)
    scale = np.float32(max((hi - lo) / (QMAX - QMIN), float(np.finfo(np.float32).eps)))
    zero_point = int(np.clip(QMIN - round(lo / float(scale)), QMIN, QMAX))
    return scale, zero_point
    ### END SOLUTION


# %% tags=["check"]
# Check: affine_qparams gives tinytorch's scale and zero point, and real 0 is an integer
for lo, hi in [(-1.0, 1.0), (-0.3, 2.5), (0.0, 6.0), (-4.0, -1.0), (0.0, 0.0), (-2.2, 0.7)]:
    scale, zero_point = affine_qparams(lo, hi)
    want_scale, want_zp = quant.calculate_qparams(lo, hi)
    assert np.isclose(scale, want_scale, rtol=1e-6), f"scale of [{lo}, {hi}] should be {want_scale}, but is {scale}"
    assert zero_point == int(want_zp), f"zero_point of [{lo}, {hi}] should be {int(want_zp)}, but is {zero_point}"
    assert QMIN <= zero_point <= QMAX, f"the zero point {zero_point} should be an int8 value"
print("ok: [-0.3, 2.5] ->", affine_qparams(-0.3, 2.5))

# %% [markdown]
# ### 2. Quantize and dequantize
#
# `q = clamp(round(x / scale) + zero_point, -128, 127)`, stored as `int8`; back to reals,
# `x ~ scale * (q - zero_point)` as float32 (subtract in int32: `q - zero_point` can leave the int8
# range). Inside the range, the round trip errs by at most half a step, `scale / 2`; outside, values
# clip to the ends. Use `np.rint` (round half to even, as tinytorch and PyTorch) and let `scale` and
# `zero_point` broadcast against `x`: step 3 passes one scale per row.


# %%
def quantize(x, scale, zero_point):
    """q = clamp(round(x / scale) + zero_point, -128, 127) as int8; scale and zero_point broadcast against x."""
    ### BEGIN SOLUTION
    q = np.rint(np.asarray(x, np.float32) / scale) + zero_point
    return np.clip(q, QMIN, QMAX).astype(np.int8)
    ### END SOLUTION


def dequantize(q, scale, zero_point):
    """x ~ scale * (q - zero_point), as float32."""
    ### BEGIN SOLUTION
    return (q.astype(np.int32) - zero_point).astype(np.float32) * np.float32(scale)
    ### END SOLUTION


# %% tags=["check"]
# Check: quantize and dequantize agree with tinytorch's, the round trip errs by at most scale / 2, outside values clip
x = rng.standard_normal(1000).astype(np.float32)
scale, zero_point = quant.calculate_qparams(x.min(), x.max())
q = quantize(x, scale, zero_point)
assert q.dtype == np.int8, f"quantize should return int8, but returns {q.dtype}"
want = quant.quantize(x, scale, zero_point)
assert np.array_equal(q, want), f"quantize differs from tinytorch's at {np.flatnonzero(q != want)[:5]}"
back = dequantize(q, scale, zero_point)
assert back.dtype == np.float32, f"dequantize should return float32, but returns {back.dtype}"
assert np.allclose(back, quant.dequantize(want, scale, zero_point), rtol=1e-6), "dequantize should be scale * (q - zero_point)"
error = np.abs(back - x).max()
assert error <= scale / 2 * (1 + 1e-4), (
    f"inside the range the error should be at most scale / 2 = {scale / 2:.5f}, but is {error:.5f}"
)
assert dequantize(quantize(np.zeros(3), scale, zero_point), scale, zero_point).tolist() == [0, 0, 0], (
    "real 0 should come back exactly"
)
outside = quantize(np.array([100.0, -100.0]), scale, zero_point).tolist()
assert outside == [QMAX, QMIN], f"values outside the range should clip to [{QMAX}, {QMIN}], but give {outside}"
print(f"ok: 1000 values, scale {float(scale):.4f}, largest round-trip error {error:.4f} (half a step: {float(scale) / 2:.4f})")

# %% [markdown]
# ### 3. Weights: symmetric, one scale per output channel
#
# Weights are centred on 0, so they are quantized **symmetrically**: zero point 0 and
# `scale = max |w| / 127`, so `+max` and `-max` land on `127` and `-127`. One scale for the whole
# matrix is set by its largest weight; a row (an output channel) whose weights are all small then
# uses only a few of the 255 levels. So give each row `c` its own `scale[c] = max_i |w[c, i]| / 127`
# (at least `eps`, for an all-zero row). Reuse your `quantize` with the scales as a column
# `(out, 1)`, which broadcasts over each row.


# %%
def quantize_per_channel(w):
    """Symmetric int8 per output channel of w (out, in): (q int8 (out, in), scale float32 (out,)), zero points 0."""
    ### BEGIN SOLUTION
    largest = np.abs(w).max(axis=1).astype(np.float64)  # (out,)
    scale = np.maximum(largest / 127, np.finfo(np.float32).eps).astype(np.float32)
    return quantize(w, scale[:, None], 0), scale  # (out, in) / (out, 1)
    ### END SOLUTION


# %% tags=["check"]
# Check: quantize_per_channel gives tinytorch's int8 weights and scales, and beats one scale per tensor
w = rng.standard_normal((6, 50)).astype(np.float32) * np.array([[0.01], [0.1], [1.0], [0.05], [2.0], [0.3]], np.float32)
q, scale = quantize_per_channel(w)
want_q, want_scale = quant.quantize_weight(w, per_channel=True)
assert q.dtype == np.int8 and q.shape == w.shape, f"q should be int8 of shape {w.shape}, but is {q.dtype} {q.shape}"
assert scale.shape == (6,), f"one scale per output channel: shape (6,), but got {scale.shape}"
assert np.allclose(scale, want_scale, rtol=1e-6), f"the scales should be tinytorch's\n{want_scale}\nbut are\n{scale}"
assert np.abs(q.astype(int) - want_q).max() <= 1 and (q != want_q).mean() < 0.01, "q should be tinytorch's int8 weights"
assert np.abs(q).max() <= 127, "symmetric quantization uses [-127, 127]"
per_channel_error = np.abs(q * scale[:, None] - w).max(axis=1)  # (6,)
tensor_q, tensor_scale = quant.quantize_weight(w, per_channel=False)
per_tensor_error = np.abs(tensor_q * tensor_scale - w).max(axis=1)
assert np.all(per_channel_error <= per_tensor_error + 1e-7), "each row's own scale should never be worse than one shared scale"
print("ok: largest error per row, per channel:", np.round(per_channel_error, 5), " per tensor:", np.round(per_tensor_error, 5))

# %% [markdown]
# ### 4. An int8 matrix multiply that sums in int32
#
# A product of two int8 values is at most `128 * 128 = 2^14` in size, but a sum of `k` of them needs
# about `14 + log2(k)` bits: it overflows int8 at once (NumPy's int8 `matmul` wraps around silently)
# and int16 soon. Integer hardware multiplies int8 and accumulates in **int32**, which holds any sum
# of up to 65535 such products exactly (twice that, with the zero point's share; tinytorch refuses
# larger `k`). Write `a @ b` for int8 `a (n, k)` and `b (k, m)`, exact, as int32.


# %%
def int8_matmul(a, b):
    """a @ b for int8 a (n, k) and b (k, m), summed exactly: int32 (n, m)."""
    ### BEGIN SOLUTION
    return np.matmul(a.astype(np.int32), b.astype(np.int32))  # (n, k) @ (k, m) -> (n, m), int32 sums
    ### END SOLUTION


# %% tags=["check"]
# Check: int8_matmul is exact, int32, and survives the largest products (where int8 matmul wraps around)
a = rng.integers(-128, 128, (16, 300)).astype(np.int8)
b = rng.integers(-128, 128, (300, 8)).astype(np.int8)
got = int8_matmul(a, b)
assert got.dtype == np.int32, f"int8_matmul should return int32, but returns {got.dtype}"
assert got.shape == (16, 8), f"(16, 300) @ (300, 8) should have shape (16, 8), but has {got.shape}"
want = quant.int_matmul(a, b, method="int32")
assert np.array_equal(got, want), "int8_matmul should be exactly tinytorch's int_matmul"
worst = np.full((2, 1000), -128, np.int8)
extreme = int8_matmul(worst, worst.T)
assert extreme[0, 0] == 1000 * 128 * 128, f"1000 products of -128 * -128 sum to {1000 * 128 * 128}, but got {extreme[0, 0]}"
print(f"ok: exact; int8 matmul would have said {np.matmul(worst, worst.T)[0, 0]} instead of {extreme[0, 0]}")

# %% [markdown]
# ### 5. The quantized linear layer
#
# With the input `x ~ s_x (q_x - z_x)` (one scale and zero point for the activations, from
# calibration) and the weight `W ~ s_w q_w` (per output channel, zero point 0):
#
# `y = x W^T + b ~ s_x s_w (q_x q_w^T - z_x sum_i q_w[:, i]) + b`.
#
# The bracket is integer arithmetic, done exactly with `int8_matmul` (the zero point's share is one
# int32 vector, `sum_i q_w[:, i]`, the same for every row); one float multiply per output channel
# then leaves the integers, and the float32 bias is added last. This is what
# `tinytorch.quant.QuantLinear` computes.


# %%
def quant_linear(qx, x_scale, x_zero_point, qw, w_scale, bias):
    """y ~ x W^T + b from int8 qx (N, in) and int8 qw (out, in) with w_scale (out,); float32 (N, out)."""
    ### BEGIN SOLUTION
    acc = int8_matmul(qx, qw.T)  # (N, in) @ (in, out) -> (N, out), int32
    acc -= np.int32(x_zero_point) * qw.sum(axis=1, dtype=np.int32)  # (out,): the zero point's share of every sum
    out = acc.astype(np.float32) * (np.float32(x_scale) * w_scale)  # (N, out) * (out,)
    return out if bias is None else out + bias
    ### END SOLUTION


# %% tags=["check"]
# Check: quant_linear gives tinytorch's QuantizedLinear, and stays close to the float layer
tt.manual_seed(0)
layer = nn.Linear(40, 12)
x = rng.standard_normal((32, 40)).astype(np.float32) + 0.5
x_scale, x_zero_point = quant.calculate_qparams(x.min(), x.max())
qx = quant.quantize(x, x_scale, x_zero_point)
qw, w_scale = quant.quantize_weight(layer.weight.data)  # tinytorch's weights: this checks quant_linear alone
ours = quant_linear(qx, float(x_scale), int(x_zero_point), qw, w_scale, layer.bias.data)
theirs = quant.QuantizedLinear.apply(
    tt.tensor(qx), tt.tensor(qw), tt.tensor(w_scale), layer.bias, input_scale=float(x_scale), input_zero_point=int(x_zero_point)
).numpy()
assert ours.shape == (32, 12), f"quant_linear of (32, 40) by a (12, 40) weight should be (32, 12), but is {ours.shape}"
assert np.allclose(ours, theirs, rtol=1e-5, atol=1e-6), (
    f"quant_linear should be tinytorch's QuantizedLinear; largest gap {np.abs(ours - theirs).max():.2e}"
)
with tt.no_grad():
    exact = layer(tt.tensor(x)).numpy()
relative = np.linalg.norm(ours - exact) / np.linalg.norm(exact)
assert relative < 0.05, f"the int8 layer should stay within a few % of the float one, but is {relative:.1%} away"
print(f"ok: int8 layer within {relative:.2%} of the float layer (relative error of the outputs)")

# %% [markdown]
# ## Use
#
# Real data: Fashion-MNIST (28×28 grey images of clothes, ten classes), normalised with the
# training images' mean and standard deviation. The model is the Fashion-MNIST milestone's MLP,
# `784-256-128-10` with ReLU, trained here with SGD and momentum (with `FAST`, on a slice and for a
# few steps, so it is less accurate). Without the dataset the lesson makes learnable stand-in
# images (ten noisy prototypes) and says so.

# %%
from tinytorch.data import DataLoader, TensorDataset
from tinytorch.datasets import DatasetError, FashionMNIST

try:
    train_set, test_set = FashionMNIST(train=True), FashionMNIST(train=False)
    train_images, train_labels = train_set.data, train_set.targets
    test_images, test_labels = test_set.data, test_set.targets
    source = "Fashion-MNIST"
except DatasetError as e:
    print(f"Fashion-MNIST is not on this machine, so this lesson uses noisy prototype images instead.\n  ({e})")
    prototypes = rng.integers(0, 256, (10, 28, 28))
    train_labels, test_labels = rng.integers(0, 10, 12000), rng.integers(0, 10, 2000)
    train_images, test_images = (np.clip(prototypes[y] + rng.normal(0, 90, (len(y), 28, 28)), 0, 255).astype(np.uint8)
                                 for y in (train_labels, test_labels))  # fmt: skip
    source = "stand-in images (Fashion-MNIST not found)"
n_train, n_test = (3000, 1000) if FAST else (len(train_images), len(test_images))
mean, std = float(train_images[:n_train].mean() / 255), float(train_images[:n_train].std() / 255)  # Python floats keep float32


def prepare(images):
    return ((images.astype(np.float32) / 255 - mean) / std).reshape(-1, 1, 28, 28)  # (N, 1, 28, 28) float32


x_train, y_train = prepare(train_images[:n_train]), train_labels[:n_train].astype(np.int64)
x_test, y_test = prepare(test_images[:n_test]), test_labels[:n_test].astype(np.int64)
print(f"{source}: {n_train} training and {n_test} test images, {x_train.dtype} {x_train.shape[1:]}")


def make_mlp():
    tt.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def predict(model, x, batch=1000):
    """The model's logits for the float32 array x, as a NumPy array (eval mode, no gradients)."""
    model.eval()
    with tt.no_grad():
        return np.concatenate([model(tt.tensor(x[i : i + batch])).numpy() for i in range(0, len(x), batch)])


def accuracy(logits):
    return float((logits.argmax(axis=1) == y_test).mean())


epochs = 2
model = make_mlp()
optimizer = tt.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=0)
start = time.perf_counter()
for _ in range(epochs):
    model.train()
    for xb, yb in loader:
        loss = nn.functional.cross_entropy(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
float_logits = predict(model, x_test)
float_accuracy = accuracy(float_logits)
print(f"trained {epochs} epochs in {time.perf_counter() - start:.1f} s: test accuracy {float_accuracy:.1%}")

# %% [markdown]
# ### Your quantization
#
# **Calibration**: run a few training batches through the float model and note the smallest and
# largest value reaching each `Linear` (a forward pre-hook sees a layer's input); `affine_qparams`
# turns each range into the input's scale and zero point. Then each weight goes through
# `quantize_per_channel`, and the forward pass runs on your pieces: quantize the input, `quant_linear`,
# ReLU (which needs no quantization: it runs on the float output).

# %%
calibration_batches = 4 if FAST else 10
calibration = [tt.tensor(x_train[i : i + 256]) for i in range(0, min(len(x_train), calibration_batches * 256), 256)]
ranges = {}  # layer name -> [smallest, largest] input seen
linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def observe(name):
    def hook(module, args):
        seen = ranges.setdefault(name, [np.inf, -np.inf])
        seen[0], seen[1] = min(seen[0], float(args[0].data.min())), max(seen[1], float(args[0].data.max()))

    return hook


handles = [m.register_forward_pre_hook(observe(name)) for name, m in linears]
model.eval()
with tt.no_grad():
    for xb in calibration:
        model(xb)
for handle in handles:
    handle.remove()

mine = {}  # layer name -> what your quantized layer needs
for name, m in linears:
    x_scale, x_zero_point = affine_qparams(*ranges[name])
    qw, w_scale = quantize_per_channel(m.weight.data)
    mine[name] = dict(x_scale=x_scale, x_zero_point=x_zero_point, qw=qw, w_scale=w_scale, bias=m.bias.data)
    print(
        f"layer {name}: input range [{ranges[name][0]:+.2f}, {ranges[name][1]:+.2f}] -> scale {x_scale:.4f}, zero point {x_zero_point}"
    )


def my_int8_forward(x):
    """The MLP on your pieces: Flatten, then each Linear quantized, ReLU in float."""
    h = x
    for name, m in model.named_children():
        if isinstance(m, nn.Flatten):
            h = h.reshape(len(h), -1)  # (N, 784)
        elif isinstance(m, nn.Linear):
            p = mine[name]
            qx = quantize(h, p["x_scale"], p["x_zero_point"])
            h = quant_linear(qx, p["x_scale"], p["x_zero_point"], p["qw"], p["w_scale"], p["bias"])
        else:
            h = np.maximum(h, 0)  # ReLU
    return h


start = time.perf_counter()
my_logits = np.concatenate([my_int8_forward(x_test[i : i + 1000]) for i in range(0, n_test, 1000)])
my_seconds = time.perf_counter() - start
print(
    f"your int8 MLP: test accuracy {accuracy(my_logits):.1%} (float: {float_accuracy:.1%}), {1e3 * my_seconds:.0f} ms for {n_test} images"
)

# %% [markdown]
# ### tinytorch's
#
# `tinytorch.quant.quantize_model(model, calibration)` does the same in one call: observers
# on every `Linear` and `Conv2d` input, weights per output channel, each layer replaced by a
# `QuantLinear` whose buffers are int8. The float model is left as it was. Same calibration batches,
# same rules: the logits must be yours.

# %%
start = time.perf_counter()
qmodel = quant.quantize_model(model, calibration, num_batches=len(calibration))
quantize_seconds = time.perf_counter() - start
print(qmodel)
start = time.perf_counter()
int8_logits = predict(qmodel, x_test)
tt_seconds = time.perf_counter() - start
int8_accuracy = accuracy(int8_logits)
gap = float(np.abs(my_logits - int8_logits).max())
print(
    f"quantize_model took {1e3 * quantize_seconds:.0f} ms; tinytorch's int8 MLP: accuracy {int8_accuracy:.1%}, {1e3 * tt_seconds:.0f} ms"
)
print(f"largest difference between your logits and tinytorch's: {gap:.2e}")
assert gap < 1e-3, "your quantized MLP and tinytorch's should compute the same logits"

# %% [markdown]
# ## Understand
#
# ### Bytes
#
# `tinytorch.quant.model_nbytes` adds up every parameter and buffer array. In the quantized model the
# weights are int8; the biases stay float32, and each layer adds one float32 scale per output
# channel and the input's scale and zero point. Per layer:


# %%
def part_bytes(module):
    """{part: bytes} of one layer: weight, bias, and the scales and zero points of a quantized one."""
    arrays = dict(module.named_parameters()) | dict(module.named_buffers())
    parts = {"weight": arrays["weight"].data.nbytes, "bias": arrays["bias"].data.nbytes}
    parts["scales"] = sum(t.data.nbytes for n, t in arrays.items() if n not in ("weight", "bias"))
    return parts


float_bytes, int8_bytes = quant.model_nbytes(model), quant.model_nbytes(qmodel)
qlayers = dict(qmodel.named_modules())
layer_bytes = {name: (part_bytes(m), part_bytes(qlayers[name])) for name, m in linears}
print(f"{'layer':<8}{'float32 B':>12}{'int8 B':>10}{'  of which weight, bias, scales':>36}")
for name, (f, q) in layer_bytes.items():
    print(f"{name:<8}{sum(f.values()):>12,}{sum(q.values()):>10,}{q['weight']:>14,}{q['bias']:>10,}{q['scales']:>10,}")
size_ratio = float_bytes / int8_bytes
print(f"whole model: {float_bytes:,} B -> {int8_bytes:,} B, {size_ratio:.2f}x smaller")

fig = go.Figure()
names = [f"layer {n} {tuple(m.weight.shape)}" for n, m in linears]
fig.add_trace(go.Bar(x=names, y=[sum(f.values()) for f, _ in layer_bytes.values()], name="float32", marker_color="#1f77b4"))
fig.add_trace(go.Bar(x=names, y=[sum(q.values()) for _, q in layer_bytes.values()], name="int8 (with scales and float32 bias)",
                     marker_color="#ff7f0e", text=[f"{sum(f.values()) / sum(q.values()):.2f}x smaller" for f, q in layer_bytes.values()]))  # fmt: skip
fig.update_layout(barmode="group", width=760, height=340, margin=dict(l=10, r=10, t=40, b=10), yaxis_title="bytes (log scale)",
                  yaxis_type="log", title="bytes per layer")  # fmt: skip
fig.show()

# %% [markdown]
# ### Accuracy, and what the choices change
#
# The same trained model, quantized several ways: weights per channel (the default) or with one
# scale per tensor, and the activations' range from the plain min and max or from percentiles
# (`observer="percentile"`: the rarest largest values clip, every other value gets a finer step).
# "Agreement" is the share of test images whose predicted class stays the same.

# %%
variants = {"float32": float_logits, "int8, per channel, min-max": int8_logits}
for per_channel, observer in ((False, "minmax"), (True, "percentile")):
    name = f"int8, per {'channel' if per_channel else 'tensor'}, {'min-max' if observer == 'minmax' else 'percentile'}"
    variants[name] = predict(quant.quantize_model(model, calibration, len(calibration), per_channel, observer), x_test)
variant_accuracy = {name: accuracy(logits) for name, logits in variants.items()}
agreement = {name: float((logits.argmax(1) == float_logits.argmax(1)).mean()) for name, logits in variants.items()}
for name in variants:
    print(f"{name:<32} accuracy {variant_accuracy[name]:6.2%}   agreement with float32 {agreement[name]:7.2%}")

# %% [markdown]
# ### Where the rounding error goes
#
# Left: the first layer's weights after a round trip, `dequantize(quantize(w)) - w`, with one scale
# for the tensor and with a scale per channel. Middle: why per channel helps: the scale each output
# channel gets, against the one scale a tensor gets (set by its largest weight). Right: what reaches
# the output, the int8 model's logits minus the float model's.

# %%
w1 = model[1].weight.data  # (256, 784)
q_tensor, s_tensor = quant.quantize_weight(w1, per_channel=False)
q_channel, s_channel = quant.quantize_weight(w1, per_channel=True)
error_tensor = (q_tensor * s_tensor - w1).ravel()
error_channel = (q_channel * s_channel[:, None] - w1).ravel()
logit_error = (int8_logits - float_logits).ravel()
rms = {"per tensor": float(np.sqrt(np.mean(error_tensor**2))), "per channel": float(np.sqrt(np.mean(error_channel**2)))}
logit_relative = float(np.linalg.norm(int8_logits - float_logits) / np.linalg.norm(float_logits))
print(
    f"first layer's weights: rms {float(np.sqrt(np.mean(w1**2))):.4f}; rounding error rms per tensor {rms['per tensor']:.2e}, per channel {rms['per channel']:.2e}"
)
print(f"per-channel scales from {s_channel.min():.2e} to {s_channel.max():.2e}; the per-tensor scale {float(s_tensor[0]):.2e}")
print(f"logits: relative error {logit_relative:.2%}, largest |error| {np.abs(logit_error).max():.3f}")

fig = make_subplots(rows=1, cols=3, subplot_titles=("weight error, first layer", "scale per output channel", "logit error"))
for errors, name, color in ((error_tensor, "per tensor", "#d62728"), (error_channel, "per channel", "#1f77b4")):
    fig.add_trace(go.Histogram(x=errors, name=name, marker_color=color, opacity=0.6, nbinsx=80), 1, 1)
order = np.argsort(s_channel)
fig.add_trace(go.Scatter(y=s_channel[order], mode="lines", name="per channel (sorted)", line=dict(color="#1f77b4")), 1, 2)
fig.add_trace(
    go.Scatter(y=np.full(len(order), float(s_tensor[0])), mode="lines", name="per tensor", line=dict(color="#d62728")), 1, 2
)
fig.add_trace(go.Histogram(x=logit_error, name="int8 - float32 logits", marker_color="#2ca02c", nbinsx=80), 1, 3)
fig.update_layout(barmode="overlay", width=980, height=340, margin=dict(l=10, r=10, t=40, b=10))
fig.update_xaxes(title_text="output channel", row=1, col=2)
fig.update_yaxes(type="log", row=1, col=2)
fig.show()

# %% [markdown]
# The activations have one range per layer, from calibration. The hidden layer's inputs are ReLU
# outputs: a mass at 0 and a long thin tail, and min-max spends the 256 levels on the whole tail.
# Below, the second layer's input over the test images, with the step each observer chose.

# %%
hidden = []
handle = model[3].register_forward_pre_hook(lambda module, args: hidden.append(args[0].data.ravel().copy()))
predict(model, x_test[:500])
handle.remove()
hidden = np.concatenate(hidden)
percentile_model = quant.quantize_model(model, calibration, len(calibration), observer="percentile")
steps = {name: float(q[3].input_scale.data) for name, q in (("min-max", qmodel), ("percentile", percentile_model))}
print(
    f"second layer's input: {(hidden == 0).mean():.1%} exact zeros, 99.9th percentile {np.percentile(hidden, 99.9):.2f}, max {hidden.max():.2f}"
)
for name, step in steps.items():
    print(f"{name:>10}: step {step:.4f}, so the 256 levels reach {255 * step:.2f}")
fig = go.Figure(go.Histogram(x=hidden[hidden > 0], nbinsx=120, marker_color="#7f7f7f", name="nonzero inputs"))
for (name, step), color in zip(steps.items(), ("#d62728", "#1f77b4")):
    fig.add_vline(x=255 * step, line=dict(color=color, dash="dash"), annotation_text=f"{name} range ends")
fig.update_layout(width=760, height=300, margin=dict(l=10, r=10, t=40, b=10), yaxis_type="log",
                  title="the second layer's input (zeros left out) and the range each observer keeps")  # fmt: skip
fig.show()

# %% [markdown]
# ### Time
#
# The float model, tinytorch's int8 model (its exact int32 sums come from float BLAS, see
# `tinytorch/quant/affine.py`), the same with NumPy's integer `matmul` (`method="int32"`: no BLAS),
# and your NumPy version, on one batch of test images. The profiler shows where the int8 model's
# time goes, op by op.


# %%
def best_ms(fns, rounds=5 if FAST else 10):
    """The best time of each function in ms, measured in interleaved rounds (a busy moment hits them all alike)."""
    times = {name: [] for name in fns}
    for k in range(rounds + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if k:  # round 0 warms up
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * min(t) for name, t in times.items()}


from tinytorch.perf import Profile

batch = tt.tensor(x_test[:256])
slow = quant.quantize_model(model, calibration, len(calibration), method="int32")
with tt.no_grad():
    times = best_ms({
        "float32": lambda: model(batch),
        "int8 (BLAS sums)": lambda: qmodel(batch),
        "int8 (int32 matmul)": lambda: slow(batch),
        "int8 (yours)": lambda: my_int8_forward(batch.data),
    })  # fmt: skip
for name, ms in times.items():
    print(f"{name:<22}{ms:8.2f} ms for a batch of {len(batch)}  ({ms / times['float32']:.1f}x float32)")
with tt.no_grad(), Profile() as prof:
    qmodel(batch)
print(prof.text(top=8))

# %% [markdown]
# ## Reflect

# %%
print(
    f"1. float32 {float_bytes:,} B, int8 {int8_bytes:,} B: {size_ratio:.2f}x smaller; weights are {sum(q['weight'] for _, q in layer_bytes.values()) / int8_bytes:.1%} of the int8 model"
)
print(
    f"2. accuracy float32 {float_accuracy:.2%}, int8 {int8_accuracy:.2%} ({100 * (int8_accuracy - float_accuracy):+.2f} points); same class for {agreement['int8, per channel, min-max']:.2%} of the images"
)
print(
    f"3. weight rounding error rms: per tensor {rms['per tensor']:.2e}, per channel {rms['per channel']:.2e}; accuracy per tensor {variant_accuracy['int8, per tensor, min-max']:.2%}"
)
print(
    f"4. a batch of {len(batch)}: float32 {times['float32']:.2f} ms, int8 {times['int8 (BLAS sums)']:.2f} ms, int8 with NumPy's int32 matmul {times['int8 (int32 matmul)']:.2f} ms"
)

# %% [markdown]
# **1. Why about four times smaller, and not exactly four?** Every weight goes from four bytes to
# one, and the weights are nearly all of the model (line 1). What stays float32 is small: the biases,
# one scale per output channel, and the input's scale and zero point per layer. The larger the
# layers, the closer the ratio comes to four. The same arithmetic holds for the memory traffic of
# inference: a quarter of the bytes to read for each weight.
#
# **2. Why does the accuracy barely move?** Each weight moves by at most half a step, and the errors
# look like small uniform noise around zero (the left histogram). A neuron adds hundreds of them
# with different signs, so they largely cancel, and the logits move by a small fraction of their
# size (the right histogram). A prediction changes only for an image near a decision boundary:
# line 2 counts how few. Quantization can even gain a little accuracy by luck; it is noise, not
# learning.
#
# **3. Why one scale per channel?** One scale per tensor is set by the largest weight of the whole
# matrix; a channel whose weights are all small then uses only a few of the integer levels (the
# middle plot: no channel's own scale is above the shared one, most are far below it). Per channel,
# each row gets its own step, so the rounding error is smaller (line 3), at the cost of one float
# per output channel, which the int32 sums absorb for free: each output column is rescaled once.
# Activations get one range per tensor, so their outliers matter: min-max keeps the rare largest
# values and gives everything else a coarser step, percentiles clip those few and keep the rest
# finer.
#
# **4. Is int8 faster here?** Not in NumPy (line 4). The int8 model quantizes each input, multiplies
# integer matrices that NumPy either converts to floats for BLAS (exact, but the same float
# multiply as before, plus the conversions) or multiplies with its own integer loop, which has no
# BLAS behind it and is far slower; then it rescales. The speed of real int8 inference comes from
# hardware: SIMD instructions that do four int8 multiply-adds where float32 does one, and a quarter
# of the bytes to bring from memory, which is what limits small-batch inference. Here, the win is
# the size; on a phone or an accelerator, it is also the time.
