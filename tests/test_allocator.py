"""The trainer's allocator setting can be set, repeated and undone."""

import sys

import torch


def test_keep_freed_memory_and_restore_defaults():
    from pix2pix.allocator import keep_freed_memory, restore_defaults

    first = keep_freed_memory()
    assert keep_freed_memory() is first
    if sys.platform.startswith("linux"):
        assert first is True  # glibc: the setting took (the trainer's speed figures depend on it)
    big = torch.ones(64, 1024, 1024)  # 256 MB: would have been mmapped
    del big
    assert torch.ones(64, 1024, 1024).sum().item() == 64 * 1024 * 1024
    assert restore_defaults() is first
    assert keep_freed_memory() is first  # and set again, as the next trainer does
