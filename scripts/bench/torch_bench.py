#!/usr/bin/python3
"""PyTorch's side of seqsh's benchmark (scripts/bench/run.sh): the same
workloads, one configuration per process.

    torch_bench.py w1|w5 THREADS BATCH REPS
    torch_bench.py w2|w3|w4 THREADS BATCH REPS X.npy Y.npy

Prints one line per timed repetition, "ms VALUE", then "rss_kb VALUE"
(this process's peak resident set, from getrusage).

W1: forward only, eval mode under torch.no_grad(), model and input in
    torch.channels_last; input ones(B, 3, 250, 250); one warm-up call.
W5: forward only, as W1, on ones(B, 3, 224, 224); tuned as a careful user
    would: channels_last under no_grad in eager mode, and the same model
    through torch.jit.optimize_for_inference (oneDNN with conv+relu fused);
    after a warm-up of each, the faster one is timed and named on a line
    "variant NAME".  TensorFlow's 'same' padding of the stride-2 layers
    (0 before, 1 after on even sizes) is torch's padding=1: the same shapes
    and work, the windows shifted by one pixel.
W2, W3: one epoch per repetition over the arrays in X.npy / Y.npy (loaded
    before any timing), shuffled with a fresh permutation each epoch as
    Keras does, the last batch partial; Adam with Keras's defaults
    (lr 1e-3, betas 0.9/0.999, eps 1e-7); cross-entropy on logits (seqsh's
    softmax + sparse categorical cross-entropy computes the same thing);
    a warm-up pass over the first 2048 samples (seqsh: a fit on 2048).
W4: the same loop for Embedding(10000, 64) -> nn.LSTM(64, batch_first) ->
    Linear(64, 1) on the LSTM's last output, BCEWithLogitsLoss (seqsh's
    sigmoid + binary cross-entropy computes the same thing), Adam as above
    with foreach=True (its multi-tensor update, faster on CPU here).
"""
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


def bench_w1(batch, reps):
    model = w1_model().eval().to(memory_format=torch.channels_last)
    x = torch.ones(batch, 3, 250, 250).to(memory_format=torch.channels_last)
    times = []
    with torch.no_grad():
        model(x)                                  # warm-up
        for _ in range(reps):
            t0 = time.perf_counter()
            y = model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    assert tuple(y.shape) == (batch, 10)
    return times


def bench_w5(batch, reps):
    model = w5_model().eval().to(memory_format=torch.channels_last)
    x = torch.ones(batch, 3, 224, 224).to(memory_format=torch.channels_last)
    with torch.no_grad():
        variants = {'eager channels_last': model,
                    'jit optimize_for_inference':
                        torch.jit.optimize_for_inference(torch.jit.trace(model, x))}
        best = None
        for name, m in variants.items():
            for _ in range(3):                    # warm-up (and the JIT's passes)
                y = m(x)
            assert tuple(y.shape) == (batch, 256, 28, 28)
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                m(x)
                times.append((time.perf_counter() - t0) * 1e3)
            if best is None or sorted(times)[len(times) // 2] < sorted(best[1])[len(best[1]) // 2]:
                best = (name, times)
    print('variant %s' % best[0])
    return best[1]


def bench_train(model, x, y, batch, reps, loss_fn=None, foreach=None):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999),
                           eps=1e-7, foreach=foreach)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    n = x.shape[0]

    def epoch(n=n):
        model.train()
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()

    epoch(min(n, 2048))                           # warm-up: 2048 samples
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        epoch()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main(argv):
    if len(argv) < 5:
        sys.exit(__doc__)
    work, threads, batch, reps = argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if work == 'w1':
        times = bench_w1(batch, reps)
    elif work == 'w4':
        x = torch.from_numpy(np.load(argv[5])).long()   # token ids
        y = torch.from_numpy(np.load(argv[6]).astype(np.float32))
        times = bench_train(W4(), x, y, batch, reps, nn.BCEWithLogitsLoss(), foreach=True)
    elif work == 'w5':
        times = bench_w5(batch, reps)
    elif work in ('w2', 'w3'):
        x = torch.from_numpy(np.load(argv[5]).astype(np.float32, copy=False))
        y = torch.from_numpy(np.load(argv[6]).astype(np.int64))
        if work == 'w2':
            model = w2_model()
        else:
            # the data is (N, 28, 28, 1) channels-last; torch wants NCHW
            x = x.permute(0, 3, 1, 2).contiguous()
            model = w3_model()
        times = bench_train(model, x, y, batch, reps)
    else:
        sys.exit('unknown workload ' + work)
    for t in times:
        print('ms %.3f' % t)
    print('rss_kb %d' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print('threads %d' % torch.get_num_threads())


if __name__ == '__main__':
    main(sys.argv)
