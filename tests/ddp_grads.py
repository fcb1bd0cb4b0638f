"""Run by test_distributed.py (directly, or under torchrun): one training step, then save the
gradients rank 0 holds (after DDP's all-reduce) for comparison."""

import sys
from pathlib import Path

import torch

from pix2pix.config import load_config
from pix2pix.data.datasets import collate_pairs
from pix2pix.models import unwrap
from pix2pix.training import distributed
from pix2pix.training.trainer import Trainer


def main(data: str, run: str, out: str, batch_size: int, method: str) -> None:
    cfg = load_config(None, [
        f"model.method={method}", "model.norm=instance", "model.dropout=0", "model.ngf=8", "model.ndf=8",
        "data.preprocess=none", "data.flip=false", "data.num_workers=0", "data.val_fraction=0",
        f"train.batch_size={batch_size}", "train.val_every=0", "train.sample_every=0",
        "train.precision=fp32", "train.step_in_backward=false",  # keep the gradients to compare
        "model.upsample=transposed",  # the README's figures were measured with the paper's networks
        # CycleGAN: no pool (each rank's pool would hold its own images) and no identity term
        *(["cyclegan.pool_size=0", "cyclegan.lambda_identity=0"] if method == "cyclegan" else []),
    ])
    trainer = Trainer(cfg, data, Path(run), progress=False)
    indices = next(iter(trainer.sampler))
    batch = collate_pairs([trainer.dataset[i] for i in indices])
    trainer.method.train_step(batch, trainer.precision)
    if trainer.dist.is_main:
        grads = {f"{name}.{key}": p.grad.detach().clone()
                 for name, net in trainer.method.networks().items()
                 for key, p in unwrap(net).named_parameters() if p.grad is not None}
        torch.save({"grads": grads, "indices": [i % len(trainer.dataset) for i in indices]}, out)
    distributed.barrier(trainer.dist)
    distributed.cleanup(trainer.dist)  # a clean exit: no process-group teardown racing with interpreter shutdown


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
