"""Compressing a trained Fashion-MNIST milestone, measured: pruning (global and per-layer magnitude,
structured), each before and after a short fine-tuning with the masks kept; low-rank SVD of its
Linear layers; and knowledge distillation into a small student.

Every variant starts again from the checkpoint. Fine-tuning is --finetune-epochs of SGD (momentum
0.9, cosine from --lr), with the masks applied throughout: the sparsity after fine-tuning is
counted again, not assumed. After fine-tuning the masks are removed (the zeros stay): "dense MB" is
the float32 parameters, "sparse MB" the same stored as a bitmask plus the nonzero values.

    python examples/compress_milestone.py [--model mlp|cnn] [--amounts 0.5,0.8,0.9] [--ranks 16,32,64]
        [--finetune-epochs 1] [--distill-epochs 2] [--teacher cnn|mlp] [--distill 4:0.9,2:0.5]
        [--sections prune,lowrank,distill] [--checkpoints DIR] [--limit N]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import RunConfig, arg, parse_config, seed_everything, warmup_cosine
from quantize_milestones import MILESTONES, ROOT, accuracy, load_milestone, loaders, print_table

import tinytorch as tt
from tinytorch import nn
from tinytorch.compress import (
    distillation_loss,
    low_rank_model,
    prune_magnitude,
    prune_structured,
    remove,
    sparse_nbytes,
    sparsity_report,
)
from tinytorch.data import DataLoader
from tinytorch.quant import model_nbytes
from tinytorch.train import fit


@dataclass
class Config(RunConfig):
    model: str = arg("mlp", "which Fashion-MNIST milestone to compress", choices=["mlp", "cnn"])
    checkpoints: str = arg(str(ROOT / "checkpoints"), "folder of the milestone checkpoints")
    amounts: str = arg("0.5,0.8,0.9", "global magnitude pruning amounts")
    layer_amount: float = arg(0.8, "amount for the per-layer magnitude pruning row (0 to skip)")
    structured_amount: float = arg(0.5, "fraction of hidden units / channels removed by structured pruning (0 to skip)")
    ranks: str = arg("16,32,64", "ranks for the low-rank factorization ('' to skip)")
    finetune_epochs: int = arg(1, "fine-tuning epochs after each compression")
    lr: float = arg(0.01, "fine-tuning learning rate (start of the cosine)")
    distill_epochs: int = arg(2, "epochs for the distillation students (0 to skip)")
    teacher: str = arg("cnn", "distillation teacher (a Fashion-MNIST milestone)", choices=["cnn", "mlp"])
    student_hidden: int = arg(32, "hidden units of the student MLP 784-H-10")
    distill: str = arg("4:0.9", "T:alpha of each distilled student, comma-separated (e.g. 4:0.9,2:0.5)")
    sections: str = arg("prune,lowrank,distill", "which measurements to run")


def finetune(model: nn.Module, train_loader: DataLoader, cfg: Config) -> None:
    """SGD with momentum, the lr falling along a cosine over the fine-tuning steps."""
    if cfg.finetune_epochs <= 0:
        return
    train_loader.generator = np.random.default_rng(cfg.seed)  # every variant fine-tunes on the same batch order
    optimizer = tt.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    scheduler = warmup_cosine(optimizer, total_steps=cfg.finetune_epochs * len(train_loader))
    fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, cfg.finetune_epochs, scheduler=scheduler,
        scheduler_interval="step", progress=cfg.progress)  # fmt: skip


def zeros(model: nn.Module) -> int:
    return sparsity_report(model)[-1]["zeros"]


def prune_row(name: str, prune: Any, key: str, cfg: Config) -> dict[str, Any]:
    """Load, prune with prune(model), measure, fine-tune with the masks on, measure again."""
    train_loader, test_loader = loaders("fashion", cfg)
    model, _ = load_milestone(key, cfg.checkpoints)
    prune(model)
    pruned_zeros = zeros(model)
    acc_pruned = accuracy(model, test_loader)
    start = time.perf_counter()
    finetune(model, train_loader, cfg)
    remove(model)  # training is over: the zeros stay, the masks (1 byte per weight) and hooks go
    total = sparsity_report(model)[-1]
    return {
        "variant": name, "sparsity %": 100 * total["sparsity"], "zeros kept": "yes" if total["zeros"] >= pruned_zeros else "NO",
        "dense MB": model_nbytes(model) / 1e6, "sparse MB": sparse_nbytes(model) / 1e6,
        "acc pruned %": 100 * acc_pruned, "acc fine-tuned %": 100 * accuracy(model, test_loader),
        "fine-tune s": time.perf_counter() - start,
    }  # fmt: skip


def hidden_layers(model: nn.Module) -> list[nn.Module]:
    """Every Linear and Conv2d but the classifier, whose output units are the classes."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    return layers[:-1]


def pruning(key: str, cfg: Config) -> list[dict[str, Any]]:
    _, test_loader = loaders("fashion", cfg)
    model, _ = load_milestone(key, cfg.checkpoints)
    rows = [{
        "variant": "dense (checkpoint)", "sparsity %": 100 * sparsity_report(model)[-1]["sparsity"], "zeros kept": "-",
        "dense MB": model_nbytes(model) / 1e6, "sparse MB": sparse_nbytes(model) / 1e6,
        "acc pruned %": 100 * accuracy(model, test_loader), "acc fine-tuned %": "-", "fine-tune s": "-",
    }]  # fmt: skip
    for amount in [float(a) for a in cfg.amounts.split(",") if a.strip()]:
        rows.append(prune_row(f"global magnitude {amount:.0%}", lambda m, a=amount: prune_magnitude(m, a), key, cfg))
    if cfg.layer_amount:
        a = cfg.layer_amount
        rows.append(prune_row(f"per-layer magnitude {a:.0%}", lambda m: prune_magnitude(m, a, scope="layer"), key, cfg))
    if cfg.structured_amount:
        a = cfg.structured_amount
        name = f"structured {a:.0%} of hidden {'units' if cfg.model == 'mlp' else 'units and channels'} (L2)"
        rows.append(prune_row(name, lambda m: prune_structured(m, a, modules=hidden_layers(m)), key, cfg))
    return rows


def low_rank(key: str, cfg: Config) -> list[dict[str, Any]]:
    train_loader, test_loader = loaders("fashion", cfg)
    rows = []
    for rank in [int(r) for r in cfg.ranks.split(",") if r.strip()]:
        model, _ = load_milestone(key, cfg.checkpoints)
        before = sum(p.numel() for p in model.parameters())
        layers = low_rank_model(model, rank)
        acc = accuracy(model, test_loader)
        finetune(model, train_loader, cfg)
        rows.append({
            "rank": rank, "layers factored": ", ".join(f"{r['layer']} {r['shape']}" for r in layers),
            "rel. error": ", ".join(f"{r['relative_error']:.3f}" for r in layers),
            "parameters": f"{before:,} -> {sum(p.numel() for p in model.parameters()):,}",
            "acc factored %": 100 * acc, "acc fine-tuned %": 100 * accuracy(model, test_loader),
        })  # fmt: skip
    return rows


def student(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))  # (N, 1, 28, 28) -> (N, 10)


def train_student(teacher: nn.Module | None, cfg: Config, T: float = 4.0, alpha: float = 0.9) -> tuple[float, float]:
    """(test accuracy, seconds) of the student after cfg.distill_epochs of Adam 1e-3: with the
    teacher, distillation_loss(T, alpha); without, cross-entropy. Same seed, init and batch order."""
    train_loader, test_loader = loaders("fashion", cfg)
    seed_everything(cfg.seed)
    model = student(cfg.student_hidden)
    train_loader.generator = np.random.default_rng(cfg.seed)  # the same batch order for both students
    optimizer = tt.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    for _ in range(cfg.distill_epochs):
        model.train()
        for x, y in train_loader:
            logits = model(x)
            if teacher is None:
                loss = nn.functional.cross_entropy(logits, y)
            else:
                with tt.no_grad():
                    soft = teacher(x)
                loss = distillation_loss(logits, soft, y, T=T, alpha=alpha)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return accuracy(model, test_loader), time.perf_counter() - start


def distillation(cfg: Config) -> list[dict[str, Any]]:
    _, test_loader = loaders("fashion", cfg)
    teacher, _ = load_milestone(f"fmnist_{cfg.teacher}", cfg.checkpoints)
    params = sum(p.numel() for p in student(cfg.student_hidden).parameters())
    rows = [{"model": f"teacher: {MILESTONES['fmnist_' + cfg.teacher][0]}", "parameters": sum(p.numel() for p in teacher.parameters()),
             "test acc %": 100 * accuracy(teacher, test_loader), "train s": "-"}]  # fmt: skip
    name = f"student 784-{cfg.student_hidden}-10"
    acc, seconds = train_student(None, cfg)
    rows.append({"model": f"{name}, labels only", "parameters": params, "test acc %": 100 * acc, "train s": seconds})
    for setting in cfg.distill.split(","):
        T, alpha = (float(v) for v in setting.split(":"))
        acc, seconds = train_student(teacher, cfg, T, alpha)
        rows.append({"model": f"{name}, distilled T={T:g} alpha={alpha:g}", "parameters": params, "test acc %": 100 * acc,
                     "train s": seconds})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(Config, __doc__, argv)
    key, sections = f"fmnist_{cfg.model}", cfg.sections.split(",")
    if "prune" in sections:
        print(
            f"Pruning {MILESTONES[key][0]} (test accuracy; {cfg.finetune_epochs} fine-tuning epoch(s), masks kept):", flush=True
        )
        print_table(pruning(key, cfg))
    if "lowrank" in sections and cfg.ranks:
        print(f"Low-rank factorization of {MILESTONES[key][0]}'s Linear layers (truncated SVD), then fine-tuning:", flush=True)
        print_table(low_rank(key, cfg))
    if "distill" in sections and cfg.distill_epochs > 0:
        print(f"Knowledge distillation, {cfg.distill_epochs} epoch(s) of Adam 1e-3 per student:", flush=True)
        print_table(distillation(cfg))


if __name__ == "__main__":
    main()
