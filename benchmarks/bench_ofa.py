"""Once-for-All on CPU: sub-networks extracted from one trained elastic network (no retraining) against the
same sub-networks trained from scratch with the same budget.

A small elastic network (3 stages, C = 8) is trained with the sandwich rule and in-place distillation
(:class:`~parsecnas.strategies.ofa.Ofa`) for ``--steps`` weight steps. Then for the smallest, the largest and
``--random`` uniform sub-networks: the extracted network's test accuracy (batch norm recalibrated on 4 train
batches, weights copied, no training) beside the accuracy of the same architecture trained from scratch for
the same number of steps on the same batches, with the same optimiser and schedule. (Each elastic step trains
2 + ``random_subnets`` sub-networks, so the elastic network's total compute is larger than one scratch run's,
and smaller than all of them together.)

    OMP_NUM_THREADS=1 python benchmarks/bench_ofa.py                # built-in data, about 7 minutes
    OMP_NUM_THREADS=1 python benchmarks/bench_ofa.py --cifar        # and CIFAR-10 from PARSECNAS_DATA (longer)

Resolutions are 20/24/28 px on the 28-px built-in data and 24/28/32 px on CIFAR-10.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from parsecnas.data import Loader, LoaderConfig, load_dataset
from parsecnas.estimators.cost import count_multiply_adds, count_parameters
from parsecnas.evaluation import evaluate
from parsecnas.nets.elastic import ElasticMobileNet, recalibrate_bn
from parsecnas.nets.seeded import seeded
from parsecnas.optim import WeightOptimConfig, WeightOptimizer
from parsecnas.spaces.ofa import ElasticArch, OfaSpace
from parsecnas.strategies.ofa import Ofa, OfaConfig

LAYOUT = torch.channels_last


def loaders(dataset: str, batch: int, seed: int, test_examples: int) -> tuple[Callable[[], Loader], Loader, int, int]:
    ds = load_dataset(dataset, os.environ.get("PARSECNAS_DATA"))
    train = lambda: Loader.from_dataset(ds, "train", None, LoaderConfig.for_training(ds, batch), seed=seed)  # noqa: E731
    # a seeded random subset: a dataset stored class by class (the CIFAR-10 JPEG copy) has one class first
    subset = torch.randperm(len(ds.test_labels), generator=torch.Generator().manual_seed(seed))[:test_examples]
    test = Loader.from_dataset(ds, "test", subset.sort().values, LoaderConfig.for_evaluation(250))
    return train, test, ds.in_channels, ds.num_classes


def batches(loader: Loader, n: int) -> list[torch.Tensor]:
    return [loader.next_batch()[0].contiguous(memory_format=LAYOUT) for _ in range(n)]


def optimiser(net: torch.nn.Module, steps: int, epochs: int) -> WeightOptimizer:
    return WeightOptimizer(net.parameters(), WeightOptimConfig(lr=0.05, weight_decay=3e-5), epochs)


def train_elastic(space: OfaSpace, options: dict, train: Loader, steps: int, epochs: int) -> ElasticMobileNet:
    net = seeded(0, lambda: space.supernet(**options)).to(memory_format=LAYOUT)
    assert isinstance(net, ElasticMobileNet)
    per_epoch = steps // epochs
    ofa = Ofa(space, OfaConfig(epochs=epochs, steps_per_epoch=per_epoch, search_fraction=0.01), seed=0)
    opt = optimiser(net, steps, epochs)
    net.train()
    for step in range(per_epoch * epochs):
        x, y = train.next_batch()
        ofa.step(net, opt, (x.contiguous(memory_format=LAYOUT), y), (x, y))
        if (step + 1) % per_epoch == 0:
            opt.end_epoch()
    return net


def train_scratch(space: OfaSpace, arch: ElasticArch, options: dict, train: Loader, steps: int, epochs: int
                  ) -> torch.nn.Module:
    net = seeded(0, lambda: space.build(arch, **options)).to(memory_format=LAYOUT)
    opt = optimiser(net, steps, epochs)
    per_epoch = steps // epochs
    net.train()
    for step in range(per_epoch * epochs):
        x, y = train.next_batch()
        opt.zero_grad()
        F.cross_entropy(net(x.contiguous(memory_format=LAYOUT)), y).backward()
        opt.step()
        if (step + 1) % per_epoch == 0:
            opt.end_epoch()
    return net


def run(dataset: str, resolutions: tuple[int, ...], args: argparse.Namespace) -> list[dict]:
    space = OfaSpace(stages=3, resolutions=resolutions)
    make_train, test, in_channels, classes = loaders(dataset, args.batch_size, args.seed, args.test_examples)
    options = {"channels": args.channels, "num_classes": classes, "in_channels": in_channels}
    start = time.process_time()
    net = train_elastic(space, options, make_train(), args.steps, args.epochs)
    elastic_s = time.process_time() - start
    print(f"[{dataset}] elastic network trained: {args.steps} steps, {elastic_s:.0f} s CPU", flush=True)
    gen = torch.Generator().manual_seed(args.seed)
    archs = [("smallest", space.smallest()), ("largest", space.largest()),
             *((f"random {i + 1}", space.sample(gen)) for i in range(args.random))]
    calibration = batches(make_train(), 4)
    rows = []
    for name, arch in archs:
        recalibrate_bn(net, lambda x, a=arch: net(x, a), calibration)
        sub = net.extract(arch)
        extracted = evaluate(sub, test)["top1"]
        start = time.process_time()
        scratch = evaluate(train_scratch(space, arch, options, make_train(), args.steps, args.epochs), test)["top1"]
        rows.append({"dataset": dataset, "name": name, "arch": str(arch), "params_M": count_parameters(sub) / 1e6,
                     "madds_M": count_multiply_adds(sub, (in_channels, arch.resolution, arch.resolution)) / 1e6,
                     "extracted": extracted, "scratch": scratch, "scratch_s": time.process_time() - start})
        print(f"  {name:<9} extracted {extracted:.4f}  scratch {scratch:.4f}", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=400, help="weight steps of the elastic net and of each scratch run")
    p.add_argument("--epochs", type=int, default=4, help="epochs of the cosine schedule the steps are split into")
    p.add_argument("--batch-size", dest="batch_size", type=int, default=32)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--random", type=int, default=3, help="random sub-networks besides the smallest and largest")
    p.add_argument("--test-examples", dest="test_examples", type=int, default=1000)
    p.add_argument("--cifar", action="store_true", help="also CIFAR-10 from PARSECNAS_DATA (skipped without it)")
    p.add_argument("--cifar-only", dest="cifar_only", action="store_true", help="the CIFAR-10 part alone")
    p.add_argument("--cifar-steps", dest="cifar_steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    rows = [] if args.cifar_only else run("fashion-mnist-small", (20, 24, 28), args)
    if args.cifar or args.cifar_only:
        try:
            rows += run("cifar10", (24, 28, 32), argparse.Namespace(**{**vars(args), "steps": args.cifar_steps}))
        except (FileNotFoundError, OSError, ValueError) as err:
            print(f"skipping CIFAR-10: {str(err).splitlines()[0]}")
    print("\n| data | sub-network | params (M) | MAdds (M) | extracted, no retraining | from scratch | arch |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['dataset']} | {r['name']} | {r['params_M']:.3f} | {r['madds_M']:.2f} | {r['extracted']:.4f} | "
              f"{r['scratch']:.4f} | `{r['arch']}` |")


if __name__ == "__main__":
    main()
