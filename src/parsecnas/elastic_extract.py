"""Sub-networks of a finished Once-for-All search as standalone networks: the trained elastic network of the
run directory, one sub-network's batch norm recalibrated on train batches, its weights copied out.

Example:
    >>> sub = extract_from_run("runs/ofa")  # doctest: +SKIP
    >>> sub.net(torch.randn(1, 1, 28, 28)).shape, sub.held_out_accuracy  # doctest: +SKIP
    >>> export_model(sub.net, "runs/ofa/subnet.ts", "torchscript", 28)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import from_dict
from .evaluation import evaluate
from .nets.elastic import ElasticMobileNet, MobileSubnet, recalibrate_bn
from .run import Run
from .search import SearchConfig, load_trained_supernet
from .spaces.elastic_arch import ElasticArch

__all__ = ["ExtractedSubnet", "extract_from_run"]


@dataclass
class ExtractedSubnet:
    """One extracted sub-network and what it was measured at.

    Attributes:
        net: the standalone network (eval mode), with copies of the trained weights.
        architecture: its :class:`~parsecnas.spaces.elastic_arch.ElasticArch`.
        held_out_accuracy: its accuracy on the search run's held-out examples.
        config: the search run's config (dataset, network options).
    """

    net: MobileSubnet
    architecture: ElasticArch
    held_out_accuracy: float
    config: SearchConfig


def extract_from_run(run_dir: str | Path, architecture: str | None = None, calibration_batches: int = 4
                     ) -> ExtractedSubnet:
    """The sub-network ``architecture`` (its string form; default: the run's ``architecture.txt``) of the
    elastic network trained in ``run_dir``, with batch norm recalibrated on ``calibration_batches`` batches
    of the run's weight-training split; no retraining.

    Raises:
        ValueError: the run did not train an elastic network, or ``architecture`` is not in its space.
        FileNotFoundError: the run holds no checkpoint (or no ``architecture.txt`` and none was given).
    """
    if calibration_batches < 1:
        raise ValueError(f"calibration_batches must be >= 1, got {calibration_batches}")
    run = Run(run_dir)
    config = from_dict(SearchConfig, run.config())
    trained = load_trained_supernet(config, run_dir)
    net = trained.net
    if not isinstance(net, ElasticMobileNet) or trained.train is None:
        raise ValueError(f"{run_dir} is a search of the {config.space!r} space; extraction needs an elastic "
                         f"network (a search with --space ofa)")
    if architecture is None:
        path = run.path_of("architecture.txt")
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist (the search has not finished); give the architecture")
        architecture = path.read_text(encoding="utf-8").strip()
    arch: Any = trained.space.parse(architecture)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    calibration = [trained.train.next_batch()[0].contiguous(memory_format=layout)
                   for _ in range(calibration_batches)]
    recalibrate_bn(net, lambda x: net(x, arch), calibration)
    sub = net.extract(arch).eval()
    accuracy = evaluate(sub, trained.held_out, config.channels_last)["top1"]
    return ExtractedSubnet(sub, arch, accuracy, config)
