"""tinytorch: an ML framework on NumPy, small enough to read, with PyTorch's names."""

from . import allocator  # isort: skip
from . import function  # first: tensor.py needs it loaded  # isort: skip
from . import autograd
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (
    arange,
    cat,
    default_generator,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    get_rng_state,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    set_rng_state,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)  # fmt: skip
from .dtypes import bool_ as bool  # noqa: A001  (tinytorch.bool, as torch.bool)
from .dtypes import float16, float32, float64, int8, int32, int64, uint8
from .function import OPS, Function
from .tensor import Tensor

# Functional forms of Tensor methods: tinytorch.exp(t) is t.exp().
exp, log, sqrt, tanh, sigmoid, relu = Tensor.exp, Tensor.log, Tensor.sqrt, Tensor.tanh, Tensor.sigmoid, Tensor.relu
abs, neg, clamp, clip = Tensor.abs, Tensor.neg, Tensor.clamp, Tensor.clip  # noqa: A001
maximum, minimum, matmul = Tensor.maximum, Tensor.minimum, Tensor.matmul
sum, mean, max, min, amax = Tensor.sum, Tensor.mean, Tensor.max, Tensor.min, Tensor.amax  # noqa: A001
var, std, logsumexp, argmax, argmin = Tensor.var, Tensor.std, Tensor.logsumexp, Tensor.argmax, Tensor.argmin
softmax, log_softmax = Tensor.softmax, Tensor.log_softmax
reshape, transpose, permute, flatten = Tensor.reshape, Tensor.transpose, Tensor.permute, Tensor.flatten
squeeze, unsqueeze, split, chunk = Tensor.squeeze, Tensor.unsqueeze, Tensor.split, Tensor.chunk
tril, triu, masked_fill = Tensor.tril, Tensor.triu, Tensor.masked_fill
eq, ne, lt, le, gt, ge = Tensor.eq, Tensor.ne, Tensor.lt, Tensor.le, Tensor.gt, Tensor.ge

from . import amp, compress, data, datasets, models, nn, optim, perf, quant, runs, text, train, utils  # noqa: E402  (they build on everything above)
from .record import record  # noqa: E402

allocator.keep_freed_memory()  # freed arrays stay in the heap for the next op (see allocator.py)

__version__ = "0.1.0"
