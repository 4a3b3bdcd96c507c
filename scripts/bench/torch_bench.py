#!/usr/bin/python3
"""PyTorch's side of seqsh's benchmark (scripts/bench/run.sh): the same
workloads, one configuration per process.

    torch_bench.py w1|w5 tuned|untuned THREADS BATCH REPS
    torch_bench.py w2|w3|w4 tuned|untuned THREADS BATCH REPS X.npy Y.npy

Prints one line per timed repetition, "ms VALUE" (for W2-W4 also "epoch_ms
VALUE", the epoch alone), a line "variant TEXT" naming what ran, then
"rss_kb VALUE" (this process's peak resident set, from getrusage).

untuned: what a plain PyTorch user writes: eval mode and torch.no_grad()
    for inference, the default (NCHW) layout, Adam's default update.
tuned: what a careful user adds.  Here: channels_last model and input; for
    the forward workloads the same model also through
    torch.jit.optimize_for_inference (oneDNN, conv+relu fused), each warmed
    up, and the faster one timed; Adam's multi-tensor update (foreach=True);
    subnormal floats flushed to zero (torch.set_flush_denormal(True)), the
    mode TensorFlow's and seqsh's training run in: Adam's moments of weights
    whose gradient stays 0 decay into the subnormal range, where each
    operation on them costs the CPU a microcode assist.
    run.sh sets the process's environment for it too: OMP_WAIT_POLICY=PASSIVE
    and glibc's malloc tunables (see run.sh).

W1: forward on ones(B, 3, 250, 250); one warm-up call (three when tuned).
W5: the same on ones(B, 3, 224, 224).  TensorFlow's 'same' padding of the
    stride-2 layers (0 before, 1 after on even sizes) is torch's padding=1:
    the same shapes and work, the windows shifted by one pixel.
W2, W3: one repetition is what a user's script does: np.load of X.npy and
    Y.npy, then one epoch over them, shuffled with a fresh permutation as
    Keras does, the last batch partial; Adam with Keras's defaults (lr 1e-3,
    betas 0.9/0.999, eps 1e-7); cross-entropy on logits (seqsh's softmax +
    sparse categorical cross-entropy computes the same thing).  Warm-up: a
    pass over the first 2048 samples (seqsh: a fit on 2048).
W4: the same loop for Embedding(10000, 64) -> nn.LSTM(64, batch_first) ->
    Linear(64, 1) on the LSTM's last output, BCEWithLogitsLoss (seqsh's
    sigmoid + binary cross-entropy computes the same thing).
"""
import os
import resource
import sys
import time

import numpy as np
import torch
from torch import nn


def w1_model():
    # Keras MaxPooling2D(k): stride k, 'valid' (floor) -- torch's default.
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, stride=2), nn.ReLU(),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(3),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(3),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(),   # GlobalMaxPooling2D
        nn.Linear(32, 10),
    )


def w5_model():
    """MobileNet v1's stem and first four depthwise-separable blocks, no
    batch normalisation (scripts/bench/w5.seq)."""
    def dw(c, stride):
        return nn.Conv2d(c, c, 3, stride=stride, padding=1, groups=c)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU(),
        dw(32, 1), nn.ReLU(), nn.Conv2d(32, 64, 1), nn.ReLU(),
        dw(64, 2), nn.ReLU(), nn.Conv2d(64, 128, 1), nn.ReLU(),
        dw(128, 1), nn.ReLU(), nn.Conv2d(128, 128, 1), nn.ReLU(),
        dw(128, 2), nn.ReLU(), nn.Conv2d(128, 256, 1), nn.ReLU(),
    )


def w2_model():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def w3_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        # Keras flattens channels-last (H, W, C); the order only permutes
        # the dense kernel's rows, the work is the same.
        nn.Flatten(),
        nn.Linear(5 * 5 * 64, 10),
    )


class W4(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10000, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True)
        self.out = nn.Linear(64, 1)

    def forward(self, x):
        _, (h, _) = self.lstm(self.emb(x))
        return self.out(h[-1]).squeeze(1)


def timed_runs(m, x, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        y = m(x)
        times.append((time.perf_counter() - t0) * 1e3)
    return times, y


def bench_forward(model, shape, want, tuned, reps):
    """Inference on ones(shape); returns (variant name, times)."""
    model = model.eval()
    x = torch.ones(*shape)
    with torch.no_grad():
        if not tuned:
            model(x)                              # warm-up
            times, y = timed_runs(model, x, reps)
            assert tuple(y.shape) == want
            return 'eager NCHW', times
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
        variants = {'eager channels_last': model,
                    'jit optimize_for_inference channels_last':
                        torch.jit.optimize_for_inference(torch.jit.trace(model, x))}
        best = None
        for name, m in variants.items():
            for _ in range(3):                    # warm-up (and the JIT's passes)
                m(x)
            times, y = timed_runs(m, x, reps)
            assert tuple(y.shape) == want
            if best is None or sorted(times)[len(times) // 2] < sorted(best[1])[len(best[1]) // 2]:
                best = (name, times)
        return best


def load_xy(work, xpath, ypath, tuned):
    x = np.load(xpath)
    y = np.load(ypath)
    if work == 'w4':
        return torch.from_numpy(x).long(), torch.from_numpy(y.astype(np.float32))
    x = torch.from_numpy(x.astype(np.float32, copy=False))
    y = torch.from_numpy(y.astype(np.int64))
    if work == 'w3':
        # the data is (N, 28, 28, 1) channels-last: NCHW is a permuted view
        # (channels_last strides); the plain user makes it contiguous NCHW
        x = x.permute(0, 3, 1, 2)
        x = x.contiguous(memory_format=torch.channels_last if tuned else torch.contiguous_format)
    return x, y


def bench_train(work, tuned, batch, reps, xpath, ypath):
    """Times reps of (load X and Y, one epoch); returns (variant, times, epoch times)."""
    model = {'w2': w2_model, 'w3': w3_model, 'w4': W4}[work]()
    if work == 'w3' and tuned:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999),
                           eps=1e-7, foreach=True if tuned else None)
    loss_fn = nn.BCEWithLogitsLoss() if work == 'w4' else nn.CrossEntropyLoss()

    def epoch(x, y, n):
        model.train()
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()

    x, y = load_xy(work, xpath, ypath, tuned)
    epoch(x, y, min(x.shape[0], 2048))            # warm-up: 2048 samples
    del x, y
    times, epochs = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        x, y = load_xy(work, xpath, ypath, tuned)
        t1 = time.perf_counter()
        epoch(x, y, x.shape[0])
        t2 = time.perf_counter()
        del x, y
        times.append((t2 - t0) * 1e3)
        epochs.append((t2 - t1) * 1e3)
    variant = ('channels_last, ' if work == 'w3' and tuned else '') + \
              ('Adam foreach' if tuned else 'Adam default')
    return variant, times, epochs


def main(argv):
    if len(argv) < 6 or argv[2] not in ('tuned', 'untuned'):
        sys.exit(__doc__)
    work, tuned = argv[1], argv[2] == 'tuned'
    threads, batch, reps = int(argv[3]), int(argv[4]), int(argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    flushed = tuned and os.environ.get('BENCH_TORCH_NO_FLUSH') is None \
        and torch.set_flush_denormal(True)
    epochs = []
    if work == 'w1':
        variant, times = bench_forward(w1_model(), (batch, 3, 250, 250), (batch, 10), tuned, reps)
    elif work == 'w5':
        variant, times = bench_forward(w5_model(), (batch, 3, 224, 224), (batch, 256, 28, 28),
                                       tuned, reps)
    elif work in ('w2', 'w3', 'w4'):
        variant, times, epochs = bench_train(work, tuned, batch, reps, argv[6], argv[7])
    else:
        sys.exit('unknown workload ' + work)
    if flushed:
        variant += ', subnormals flushed'
    for t in times:
        print('ms %.3f' % t)
    for t in epochs:
        print('epoch_ms %.3f' % t)
    print('variant %s' % variant)
    print('rss_kb %d' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print('threads %d' % torch.get_num_threads())


if __name__ == '__main__':
    main(sys.argv)
