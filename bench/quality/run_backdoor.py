#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Backdoor suite (issue 13): harder public backdoor attacks on Fashion-MNIST, each learned by a
small CNN trained on the poisoned rows, and one default `assay scan` per attack on the CNN's
64-dim penultimate features, next to baselines on the same features; the issue's targets are
checked on a tune half and a held-out half (different seeds, patterns, target class, source
classes and patch locations), reported apart.

Stages (one function each; every stage is cached in the work folder and resumable):
  1. data       plant each attack (clean, blend, SIG, WaNet, TaCT, Adaptive-Blend,
                Adaptive-Patch, BadNets 0.3/1/3%, all-to-all) in the 60,000 training images,
                train the CNN on the poisoned rows, measure clean test accuracy and the attack
                success rate (ASR); an attack not learned (ASR < 0.5) is strengthened step by
                step along its ladder, and its first (weak) parameters are kept as an instance
                too. Writes WORK/INSTANCE/data.h5, truth.csv, trusted.h5, trusted_ids.txt.
  2. baselines  spectral signatures, IsolationForest, LOF (from exact FAISS neighbours), kNN
                label disagreement and kNN distance, on the same embeddings.
  3. scans      `assay scan data.h5 --truth truth.csv --out WORK/INSTANCE/scan -q`, cached by
                the input's, the truth's and the binary's SHA-256 and the arguments; with
                --trusted data|ids also with --trusted-data / --trusted-ids.
  4. evaluate   poisons against clean rows, cover rows left out of both: AUROC, recall@budget,
                flagged shares of poison, clean and cover rows, gate verdict, detectors fired.
  5. targets    issue 13's targets, met or missed with the numbers, per half.
  6. report     Markdown (--md) and JSON (--json).

    /usr/bin/python3 bench/quality/run_backdoor.py --build build/release \\
        --md build/release/backdoor-suite/suite.md

`--smoke`: 4,000 rows, 1 epoch, clean + badnets3 + blend1 (tune half), no LOF, no ladder;
fails when the script or a scan fails or a number is missing, never on a target missed.
"""
import argparse
import concurrent.futures
import csv
import datetime
import gzip
import json
import math
import os
import platform
import shlex
import sys
import time
import types
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_quality as rq  # noqa: E402  (sets OMP_WAIT_POLICY before numpy/torch/faiss load)
import numpy as np  # noqa: E402

REPO = rq.REPO
SUITE_VERSION = 1       # bump when planting, training or extraction change: retrains everything
BASELINE_VERSION = 1
ARCH = ("cnn64-v1: conv3x3(16)-relu-pool-conv3x3(32)-relu-pool-fc64-relu-fc10, Adam 1e-3, "
        "batch 128")
EXTRACT = "unique-rows-v1"  # identical images get identical embeddings (run_quality's trick)
CLEAN, POISON, COVER = 0, 1, 2
LEARNED_ASR = 0.5
TRUSTED_PER_CLASS = 100
TRUSTED_IDS = 1000
TRUSTED_ID_BASE = 1_000_000
SMOKE_ATTACKS = ["clean", "badnets3", "blend1"]

# The two halves. Defaults of assay may be chosen looking at `tune` only; `heldout` differs in
# every free choice of the attacks: seeds, noise patterns, target class, TaCT's source and cover
# classes, every patch location, SIG's frequency.
HALVES = {
    "tune": dict(seed=1, pattern_seed=11, target=0, train_seed=1,
                 patch_at=(24, 24),                    # BadNets / all2all: bottom-right
                 tact_source=2, tact_cover=(4, 8),     # Pullover -> T-shirt; Coat, Bag keep
                 tact_at=(0, 23),                      # TaCT's 5x5 patch: top-right
                 patches_at=((2, 2), (2, 22), (22, 2), (22, 22)),   # Adaptive-Patch
                 sig_f=6, wanet_k=4),
    "heldout": dict(seed=2, pattern_seed=23, target=7, train_seed=2,
                    patch_at=(0, 0),                   # top-left
                    tact_source=3, tact_cover=(1, 6),  # Dress -> Sneaker; Trouser, Shirt keep
                    tact_at=(23, 0),                   # bottom-left
                    patches_at=((0, 12), (12, 0), (12, 24), (24, 12)),
                    sig_f=5, wanet_k=4),
}


def log(msg):
    print("[backdoor] " + msg, file=sys.stderr, flush=True)


def count(rate, n):
    return max(1, int(round(rate * n)))


def pick(rng, candidates, n):
    return np.sort(rng.choice(candidates, n, replace=False))


def noise_pattern(seed):
    """A fixed uniform-noise image in [0, 1]: the blend triggers' pattern."""
    return np.random.default_rng(seed).random((28, 28)).astype(np.float32)


def new_truth(n):
    return np.full(n, CLEAN, dtype=np.int8)


# ---------------------------------------------------------------------------------------------
# 1a. attacks: plant(x, y, rng, p) -> (x', y', truth) and trigger(x, p) -> x' for the ASR.
#     x is N x 28 x 28 float32 in [0, 1]; p is the half's settings plus the ladder step's.
# ---------------------------------------------------------------------------------------------

def plant_clean(x, y, rng, p):
    return x, y, new_truth(len(y))


def blend(x, pattern, alpha):
    return (1.0 - alpha) * x + alpha * pattern


def plant_blend(x, y, rng, p):
    """Chen et al. 2017 blended injection: a fixed noise pattern mixed in at opacity alpha on
    rows of the other classes, relabelled to the target."""
    truth = new_truth(len(y))
    rows = pick(rng, np.flatnonzero(y != p["target"]), count(p["rate"], len(y)))
    x[rows] = blend(x[rows], noise_pattern(p["pattern_seed"]), p["alpha"])
    y[rows] = p["target"]
    truth[rows] = POISON
    return x, y, truth


def trigger_blend(x, p):
    return blend(x, noise_pattern(p["pattern_seed"]), p["alpha"])


def sig_signal(p):
    j = np.arange(28, dtype=np.float32)
    return (p["delta"] * np.sin(2 * np.pi * j * p["sig_f"] / 28)).astype(np.float32)[None, :]


def plant_sig(x, y, rng, p):
    """Barni et al. 2019 clean-label SIG: a horizontal sinusoid added to a share of the TARGET
    class's own images; no label changes, so label-based detectors see nothing wrong."""
    truth = new_truth(len(y))
    own = np.flatnonzero(y == p["target"])
    rows = pick(rng, own, count(p["frac"], len(own)))
    x[rows] = trigger_sig(x[rows], p)
    truth[rows] = POISON
    return x, y, truth


def trigger_sig(x, p):
    return np.clip(x + sig_signal(p), 0.0, 1.0)


def wanet_grid(p):
    """Nguyen & Tran 2021: a k x k random flow field (seeded by the half's pattern), normalised
    to mean |value| 1, upsampled bicubically to 28 x 28, added to the identity grid at strength
    s / 28 and clamped to the image."""
    torch = rq.torch_or_none()
    k = p["wanet_k"]
    ins = np.random.default_rng(p["pattern_seed"] + 3).random((1, 2, k, k)) * 2 - 1
    ins = torch.from_numpy((ins / np.mean(np.abs(ins))).astype(np.float32))
    flow = torch.nn.functional.interpolate(ins, size=28, mode="bicubic",
                                           align_corners=True).permute(0, 2, 3, 1)
    axis = torch.linspace(-1, 1, 28)
    rows, cols = torch.meshgrid(axis, axis, indexing="ij")
    identity = torch.stack((cols, rows), 2)[None]  # grid_sample wants (x = column, y = row)
    return torch.clamp(identity + p["s"] * flow / 28, -1, 1)


def warp(x, grid, jitter=None):
    torch = rq.torch_or_none()
    g = grid.repeat(len(x), 1, 1, 1)
    if jitter is not None:  # WaNet's noise mode: a random per-image grid perturbation
        g = torch.clamp(g + torch.from_numpy(jitter.astype(np.float32)) / 28, -1, 1)
    out = torch.nn.functional.grid_sample(torch.from_numpy(x[:, None].astype(np.float32)), g,
                                          mode="bilinear", align_corners=True)
    return out[:, 0].numpy()


def plant_wanet(x, y, rng, p):
    """WaNet: poisons (other classes, relabelled) warped by the fixed field; noise-mode cover
    rows (warp plus random grid noise, labels kept) teach the model that only the exact warp
    matters, which is what makes WaNet hard to see."""
    truth = new_truth(len(y))
    grid = wanet_grid(p)
    rows = pick(rng, np.flatnonzero(y != p["target"]), count(p["rate"], len(y)))
    x[rows] = warp(x[rows], grid)
    y[rows] = p["target"]
    truth[rows] = POISON
    cover = pick(rng, np.flatnonzero(truth == CLEAN), count(p["cover"], len(y)))
    x[cover] = warp(x[cover], grid, rng.random((len(cover), 28, 28, 2)) * 2 - 1)
    truth[cover] = COVER
    return x, y, truth


def trigger_wanet(x, p):
    return warp(x, wanet_grid(p))


def tact_patch(p):
    return (np.random.default_rng(p["pattern_seed"] + 5).random((5, 5)) > 0.5).astype(np.float32)


def stamp_tact(x, p):
    r, c = p["tact_at"]
    x = x.copy()
    x[:, r:r + 5, c:c + 5] = tact_patch(p)
    return x


def plant_tact(x, y, rng, p):
    """Tang et al. 2021 TaCT (source-specific): the trigger on rows of ONE source class,
    relabelled to the target, and on rows of two cover classes that keep their labels, so the
    trigger alone does not decide the class and the poisons' features stay near their source."""
    truth = new_truth(len(y))
    rows = pick(rng, np.flatnonzero(y == p["tact_source"]), count(p["rate"], len(y)))
    x[rows] = stamp_tact(x[rows], p)
    y[rows] = p["target"]
    truth[rows] = POISON
    per_class = count(p["cover"], len(y)) // len(p["tact_cover"])
    for c in p["tact_cover"]:
        cover = pick(rng, np.flatnonzero((y == c) & (truth == CLEAN)), max(1, per_class))
        x[cover] = stamp_tact(x[cover], p)
        truth[cover] = COVER
    return x, y, truth


def trigger_tact(x, p):
    return stamp_tact(x, p)


def piece_mask(pieces):
    """28 x 28 mask of the chosen pieces of a 4 x 4 grid of 7 x 7 pieces."""
    m = np.zeros((4, 4), dtype=np.float32)
    m.flat[list(pieces)] = 1.0
    return np.kron(m, np.ones((7, 7), dtype=np.float32))


def adaptive_blend_rows(x, rows, rng, pattern, alpha):
    for i in rows:
        m = piece_mask(rng.choice(16, 8, replace=False)) * alpha
        x[i] = (1.0 - m) * x[i] + m * pattern


def plant_adap_blend(x, y, rng, p):
    """Qi et al. ICLR 2023 Adaptive-Blend: each poison gets a random half of the 16 pieces of
    the pattern at low opacity, and as many cover rows (random halves too, labels kept) break
    the link between any partial trigger and the target; the full pattern at a higher opacity
    triggers at test time. Poisons and covers then sit close to their clean classes."""
    truth = new_truth(len(y))
    pattern = noise_pattern(p["pattern_seed"] + 7)
    n = count(p["rate"], len(y))
    rows = pick(rng, np.flatnonzero(y != p["target"]), n)
    adaptive_blend_rows(x, rows, rng, pattern, p["alpha"])
    y[rows] = p["target"]
    truth[rows] = POISON
    cover = pick(rng, np.flatnonzero(truth == CLEAN), n)
    adaptive_blend_rows(x, cover, rng, pattern, p["alpha"])
    truth[cover] = COVER
    return x, y, truth


def trigger_adap_blend(x, p):
    return blend(x, noise_pattern(p["pattern_seed"] + 7), p["test_alpha"])


def adaptive_patches(p):
    return np.random.default_rng(p["pattern_seed"] + 9).random((len(p["patches_at"]), 4, 4)) \
        .astype(np.float32)


def stamp_patches(img, which, patches, at, alpha):
    for j in which:
        r, c = at[j]
        img[r:r + 4, c:c + 4] = (1.0 - alpha) * img[r:r + 4, c:c + 4] + alpha * patches[j]


def plant_adap_patch(x, y, rng, p):
    """Qi et al. ICLR 2023 Adaptive-Patch: several small patches at different places, each poison
    stamped with a random subset at low opacity, cover rows likewise with labels kept; the test
    trigger is every patch."""
    truth = new_truth(len(y))
    patches, at = adaptive_patches(p), p["patches_at"]
    n = count(p["rate"], len(y))
    rows = pick(rng, np.flatnonzero(y != p["target"]), n)
    for i in rows:
        stamp_patches(x[i], rng.choice(len(at), p["per_row"], replace=False), patches, at,
                      p["alpha"])
    y[rows] = p["target"]
    truth[rows] = POISON
    cover = pick(rng, np.flatnonzero(truth == CLEAN), n)
    for i in cover:
        stamp_patches(x[i], rng.choice(len(at), p["per_row"], replace=False), patches, at,
                      p["alpha"])
    truth[cover] = COVER
    return x, y, truth


def trigger_adap_patch(x, p):
    x = x.copy()
    patches, at = adaptive_patches(p), p["patches_at"]
    for img in x:
        stamp_patches(img, range(len(at)), patches, at, p["test_alpha"])
    return x


def stamp_white(x, p):
    r, c = p["patch_at"]
    x = x.copy()
    x[:, r:r + 4, c:c + 4] = 1.0
    return x


def plant_badnets(x, y, rng, p):
    """Gu et al. 2017 BadNets: a 4 x 4 white square on rows of other classes, relabelled."""
    truth = new_truth(len(y))
    rows = pick(rng, np.flatnonzero(y != p["target"]), count(p["rate"], len(y)))
    x[rows] = stamp_white(x[rows], p)
    y[rows] = p["target"]
    truth[rows] = POISON
    return x, y, truth


def plant_all2all(x, y, rng, p):
    """All-to-all BadNets: the patch moves every class to the next one (y -> y + 1 mod 10), so no
    single class receives all the poisons."""
    truth = new_truth(len(y))
    rows = pick(rng, np.arange(len(y)), count(p["rate"], len(y)))
    x[rows] = stamp_white(x[rows], p)
    y[rows] = (y[rows] + 1) % 10
    truth[rows] = POISON
    return x, y, truth


# name: plant, test trigger, the ladder of parameters (first = the issue's; each next step
# stronger, tried only while the attack is not learned), the keys shown in the tables.
ATTACKS = {
    "clean": dict(plant=plant_clean, trigger=None, ladder=[{}], show=[]),
    "blend1": dict(plant=plant_blend, trigger=trigger_blend, show=["target"],
                   ladder=[dict(rate=0.01, alpha=0.2), dict(rate=0.01, alpha=0.3),
                           dict(rate=0.02, alpha=0.3)]),
    "sig": dict(plant=plant_sig, trigger=trigger_sig, show=["target", "sig_f"],
                ladder=[dict(frac=0.3, delta=0.1), dict(frac=0.5, delta=0.15),
                        dict(frac=0.5, delta=0.2), dict(frac=0.5, delta=0.3),
                        dict(frac=0.8, delta=0.3)]),
    "wanet": dict(plant=plant_wanet, trigger=trigger_wanet, show=["target", "wanet_k"],
                  ladder=[dict(rate=0.02, cover=0.04, s=0.5), dict(rate=0.02, cover=0.04, s=1.0),
                          dict(rate=0.02, cover=0.04, s=2.0), dict(rate=0.02, cover=0.04, s=4.0),
                          dict(rate=0.05, cover=0.10, s=4.0)]),
    "tact": dict(plant=plant_tact, trigger=trigger_tact,
                 show=["target", "tact_source", "tact_cover", "tact_at"],
                 ladder=[dict(rate=0.01, cover=0.005), dict(rate=0.02, cover=0.005)]),
    "adap_blend": dict(plant=plant_adap_blend, trigger=trigger_adap_blend, show=["target"],
                       ladder=[dict(rate=0.003, alpha=0.15, test_alpha=0.2),
                               dict(rate=0.003, alpha=0.2, test_alpha=0.3),
                               dict(rate=0.01, alpha=0.2, test_alpha=0.3),
                               dict(rate=0.02, alpha=0.3, test_alpha=0.4)]),
    "adap_patch": dict(plant=plant_adap_patch, trigger=trigger_adap_patch,
                       show=["target", "patches_at"],
                       ladder=[dict(rate=0.003, alpha=0.5, test_alpha=0.8, per_row=2),
                               dict(rate=0.003, alpha=0.8, test_alpha=1.0, per_row=2),
                               dict(rate=0.01, alpha=0.8, test_alpha=1.0, per_row=2),
                               dict(rate=0.02, alpha=1.0, test_alpha=1.0, per_row=2)]),
    "badnets03": dict(plant=plant_badnets, trigger=stamp_white, show=["target", "patch_at"],
                      ladder=[dict(rate=0.003)]),
    "badnets1": dict(plant=plant_badnets, trigger=stamp_white, show=["target", "patch_at"],
                     ladder=[dict(rate=0.01)]),
    "badnets3": dict(plant=plant_badnets, trigger=stamp_white, show=["target", "patch_at"],
                     ladder=[dict(rate=0.03)]),
    "all2all": dict(plant=plant_all2all, trigger=stamp_white, show=["patch_at"],
                    ladder=[dict(rate=0.01), dict(rate=0.02)]),
}


def attack_params(half, step):
    p = dict(HALVES[half])
    p.update(step)
    return p


def describe(attack, p, step):
    shown = [(k, p[k]) for k in ATTACKS[attack]["show"]] + sorted(step.items())

    def text(v):
        if isinstance(v, (list, tuple)):
            return "(" + ",".join(text(u) for u in v) + ")"
        return "%g" % v if isinstance(v, float) else str(v)
    return ", ".join("%s=%s" % (k, text(v)) for k, v in shown) or "nothing planted"


# ---------------------------------------------------------------------------------------------
# 1b. the model: trained on the poisoned rows, read out at its 64-unit penultimate layer
# ---------------------------------------------------------------------------------------------

def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path[:-3]):
        path = path[:-3]
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(idx_dir, split, rows=0):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(idx_dir, prefix + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(idx_dir, prefix + "-labels-idx1-ubyte.gz"))
    if rows:
        x, y = x[:rows], y[:rows]
    return (x.astype(np.float32) / 255.0), y.astype(np.int64)


def make_model(torch):
    nn = torch.nn

    class SmallCNN64(nn.Module):
        """run_quality's CNN with a 64-unit penultimate layer (the embedding assay reads)."""

        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU())
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            return self.head(self.features(x))

    return SmallCNN64()


def train_model(torch, images, labels, epochs, seed):
    torch.manual_seed(seed)
    model = make_model(torch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, 128):
            batch = order[start:start + 128]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images[batch]), labels[batch])
            loss.backward()
            opt.step()
    model.eval()
    return model


def predict(torch, model, x):
    """Softmax probabilities and penultimate activations of images x (N x 28 x 28 or N x 784).
    Batches of 256: on these CPUs about 1.7x faster than 2,048 (max-pooling's cache use)."""
    images = rq.to_images(torch, x)
    probs, embs = [], []
    with torch.no_grad():
        for start in range(0, images.shape[0], 256):
            h = model.features(images[start:start + 256])
            probs.append(torch.softmax(model.head(h), dim=1).numpy())
            embs.append(h.numpy())
    return np.concatenate(probs), np.concatenate(embs)


def predicted(torch, model, x):
    return predict(torch, model, x)[0].argmax(1)


def embed_unique(torch, model, x):
    """Penultimate activations, each distinct image run once and copied to every row that has
    it: a row's place in a batch changes the last bits, and exact copies must stay exact."""
    flat = np.ascontiguousarray(x.reshape(len(x), -1))
    _, first, inverse = np.unique(flat.view(np.dtype((np.void, flat.shape[1] * 4))),
                                  return_index=True, return_inverse=True)
    probs, emb = predict(torch, model, flat[first])
    inverse = inverse.reshape(-1)
    return emb[inverse], probs[inverse]


def attack_success(torch, model, xt, yt, attack, p):
    """ASR: triggered test images of the classes the attack moves, predicted as it wants (the
    target; for all2all y + 1; for TaCT only the source class, with the rate on the classes
    that are neither source nor target beside it, which should stay low)."""
    trigger = ATTACKS[attack]["trigger"]
    if trigger is None:
        return {}
    if attack == "all2all":
        rows, want = np.arange(len(yt)), (yt + 1) % 10
    elif attack == "tact":
        rows = np.flatnonzero(yt == p["tact_source"])
        want = np.full(len(yt), p["target"])
    else:
        rows = np.flatnonzero(yt != p["target"])
        want = np.full(len(yt), p["target"])
    out = {"asr": float(np.mean(predicted(torch, model, trigger(xt[rows], p)) == want[rows])),
           "asr_rows": int(len(rows))}
    if attack == "tact":
        other = np.flatnonzero((yt != p["tact_source"]) & (yt != p["target"]))
        out["asr_other_classes"] = float(np.mean(
            predicted(torch, model, trigger(xt[other], p)) == p["target"]))
    return out


def write_h5(path, emb, labels, ids, description):
    import h5py
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.create_dataset("embeddings", data=emb.astype("<f4"))
        lab = f.create_dataset("labels", data=labels.astype("<i4"))
        lab.attrs.create("class_names", rq.CLASS_NAMES, dtype=h5py.string_dtype("utf-8"))
        f.create_dataset("ids", data=np.asarray(ids).astype("<i8"))
        f.attrs["description"] = description
    os.replace(tmp, path)


def write_truth(path, truth, attack, source):
    with open(path + ".tmp", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "is_poison", "attack", "source"])
        # assay's truth reader wants a value in every field: clean rows say `none` (as
        # assay-fmnist writes them), cover rows `cover`, poisons the attack's name.
        names = {CLEAN: "none", POISON: attack, COVER: "cover"}
        for i, t in enumerate(truth):
            w.writerow([i, int(t == POISON), names[int(t)], int(source[i])])
    os.replace(path + ".tmp", path)


def write_text(path, lines):
    with open(path + ".tmp", "w") as f:
        f.write("".join("%s\n" % s for s in lines))
    os.replace(path + ".tmp", path)


def train_step(a, half, attack, k, step):
    """One rung of an attack's ladder: plant, train, measure, write the instance files into
    WORK/.steps/HALF-ATTACK-K. Reused when the stamp (suite version, half, parameters, rows,
    epochs, architecture, torch) matches."""
    torch = a.torch
    folder = os.path.join(a.work, ".steps", "%s-%s-%d" % (half, attack, k))
    os.makedirs(folder, exist_ok=True)
    p = attack_params(half, step)
    params = json.loads(json.dumps({
        "suite": SUITE_VERSION, "half": half, "attack": attack, "step": k, "params": p,
        "rows": a.rows, "epochs": a.epochs, "arch": ARCH, "extract": EXTRACT,
        "torch": torch.__version__, "threads": 2}))
    stamp = os.path.join(folder, "step.json")
    files = [os.path.join(folder, f) for f in ("data.h5", "truth.csv", "trusted.h5",
                                               "trusted_ids.txt", "model.pt")]
    old = rq.read_json(stamp)
    if old and old.get("params") == params and all(os.path.exists(f) for f in files):
        return dict(old["info"], folder=folder, reused=True)
    if os.path.exists(stamp):
        os.remove(stamp)  # a stale stamp must never vouch for half-rewritten files

    t0 = time.monotonic()
    h = HALVES[half]
    x0, y0 = a.train
    rng = np.random.default_rng([h["seed"], zlib.crc32(attack.encode())])
    x, y, truth = ATTACKS[attack]["plant"](x0.copy(), y0.copy(), rng, p)
    x = np.clip(x, 0.0, 1.0).astype(np.float32)
    plant_seconds = time.monotonic() - t0

    t0 = time.monotonic()
    model = train_model(torch, rq.to_images(torch, x), torch.from_numpy(y), a.epochs,
                        h["train_seed"])
    train_seconds = time.monotonic() - t0

    t0 = time.monotonic()
    emb, probs = embed_unique(torch, model, x)
    xt, yt = a.test
    info = {"attack": attack, "half": half, "step": k, "step_params": step,
            "params_text": describe(attack, p, step),
            "rows": int(len(y)), "poisons": int(np.sum(truth == POISON)),
            "covers": int(np.sum(truth == COVER)),
            "label_changed": int(np.sum(y != y0)),
            "test_accuracy": float(np.mean(predicted(torch, model, xt) == yt)),
            "train_accuracy_given_labels": float(np.mean(probs.argmax(1) == y)),
            "all_zero_embedding_rows": int(np.sum(~emb.any(axis=1))),
            "plant_seconds": plant_seconds, "train_seconds": train_seconds}
    if info["poisons"]:
        info["poisons_fit"] = float(np.mean(probs.argmax(1)[truth == POISON] ==
                                            y[truth == POISON]))
    info.update(attack_success(torch, model, xt, yt, attack, p))
    info["learned"] = (attack == "clean") or info.get("asr", 0.0) >= LEARNED_ASR

    desc = ("Fashion-MNIST %s (%s half: %s): 64-dim penultimate activations of a small CNN "
            "trained on the poisoned rows (%s, %d epochs, seed %d)"
            % (attack, half, info["params_text"], ARCH, a.epochs, h["train_seed"]))
    write_h5(os.path.join(folder, "data.h5"), emb, y, np.arange(len(y)), desc)
    write_truth(os.path.join(folder, "truth.csv"), truth, attack, y0)
    # Trusted subsets: 100 clean test images per class through the same model (a defender's
    # small vetted set), and the ids of 1,000 clean training rows (a vetted slice of the data).
    trng = np.random.default_rng([h["seed"], 1000])
    pick_test = np.sort(np.concatenate([trng.choice(np.flatnonzero(yt == c), TRUSTED_PER_CLASS,
                                                    replace=False) for c in range(10)]))
    temb, _ = embed_unique(torch, model, xt[pick_test])
    write_h5(os.path.join(folder, "trusted.h5"), temb, yt[pick_test],
             TRUSTED_ID_BASE + pick_test,
             "trusted subset: %d clean test-split images per class (ids %d + test index) "
             "through the model of %s" % (TRUSTED_PER_CLASS, TRUSTED_ID_BASE, desc))
    clean_rows = np.flatnonzero(truth == CLEAN)
    write_text(os.path.join(folder, "trusted_ids.txt"),
               np.sort(trng.choice(clean_rows, min(TRUSTED_IDS, len(clean_rows)),
                                   replace=False)).tolist())
    torch.save(model.state_dict(), os.path.join(folder, "model.pt.tmp"))
    os.replace(os.path.join(folder, "model.pt.tmp"), os.path.join(folder, "model.pt"))
    info["write_seconds"] = time.monotonic() - t0
    rq.write_json(stamp, {"params": params, "info": info})
    log("%s-%s step %d (%s): ASR %s, test accuracy %.3f, trained in %.1f s"
        % (half, attack, k, info["params_text"], rq.fmt(info.get("asr")),
           info["test_accuracy"], train_seconds))
    return dict(info, folder=folder, reused=False)


INSTANCE_FILES = ("data.h5", "truth.csv", "trusted.h5", "trusted_ids.txt")


def materialise(a, step_info, name, role, ladder):
    """WORK/NAME/{data.h5,truth.csv,trusted.h5,trusted_ids.txt}: hard links to the chosen
    step's files (copies where links are impossible), replaced atomically."""
    folder = os.path.join(a.work, name)
    os.makedirs(folder, exist_ok=True)
    for f in INSTANCE_FILES:
        src, dst = os.path.join(step_info["folder"], f), os.path.join(folder, f)
        if os.path.exists(dst) and os.path.samefile(src, dst):
            continue
        tmp = dst + ".tmp"
        if os.path.exists(tmp):
            os.remove(tmp)
        try:
            os.link(src, tmp)
        except OSError:
            import shutil
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    inst = {"name": name, "half": step_info["half"], "attack": step_info["attack"],
            "role": role, "folder": folder, "info": {k: v for k, v in step_info.items()
                                                     if k not in ("folder", "reused")},
            "ladder": ladder}
    rq.write_json(os.path.join(folder, "instance.json"), inst)
    return inst


def build_attack(a, half, attack):
    """Climbs the attack's ladder until the model learns it (ASR >= 0.5) or the ladder ends.
    Returns the final instance (HALF-ATTACK) and, when the first step was not learned, that
    weak step too (HALF-ATTACK-weak)."""
    ladder = ATTACKS[attack]["ladder"][:1] if a.smoke else ATTACKS[attack]["ladder"]
    steps = []
    for k, step in enumerate(ladder):
        info = train_step(a, half, attack, k, step)
        a.times["train"] += 0 if info["reused"] else info["train_seconds"]
        steps.append(info)
        if info["learned"]:
            break
    record = [{k: s.get(k) for k in ("step", "step_params", "params_text", "asr",
                                     "asr_other_classes", "test_accuracy", "learned",
                                     "poisons", "covers", "train_seconds")} for s in steps]
    out = [materialise(a, steps[-1], "%s-%s" % (half, attack), "final", record)]
    if len(steps) > 1:
        out.append(materialise(a, steps[0], "%s-%s-weak" % (half, attack), "weak", record))
    return out


# ---------------------------------------------------------------------------------------------
# 2. baselines on the embeddings (cached per instance)
# ---------------------------------------------------------------------------------------------

def lof_from_neighbours(dist_sq, ids):
    """LocalOutlierFactor (Breunig et al.; scikit-learn's formula) from exact neighbour lists:
    reach(i, j) = max(d(i, j), k-distance(j)), lrd = 1 / mean reach, LOF = mean lrd of the
    neighbours / own lrd. scikit-learn's own tree search over 64 dims is much slower here."""
    d = np.sqrt(np.maximum(dist_sq, 0))
    kdist = d[:, -1]
    reach = np.maximum(d, kdist[ids])
    lrd = 1.0 / (reach.mean(axis=1) + 1e-10)
    return lrd[ids].mean(axis=1) / lrd


def compute_baselines(x, y, with_lof):
    from sklearn.ensemble import IsolationForest
    out = {}
    t0 = time.monotonic()
    out["spectral signatures"] = {"score": rq.spectral_signatures(x, y),
                                  "seconds": time.monotonic() - t0}
    t0 = time.monotonic()
    iso = IsolationForest(random_state=0).fit(x)
    out["IsolationForest"] = {"score": -iso.score_samples(x), "seconds": time.monotonic() - t0}
    t0 = time.monotonic()
    dist, ids = rq.exact_neighbours(x, 20 if with_lof else 10)
    knn_seconds = time.monotonic() - t0
    if with_lof:
        t0 = time.monotonic()
        out["LOF"] = {"score": lof_from_neighbours(dist, ids),
                      "seconds": knn_seconds + time.monotonic() - t0}
    d10, i10 = dist[:, :10], ids[:, :10]
    out["kNN label disagreement"] = {"score": np.mean(y[i10] != y[:, None], axis=1),
                                     "seconds": knn_seconds}
    out["kNN distance"] = {"score": np.mean(np.sqrt(np.maximum(d10, 0)), axis=1),
                           "seconds": knn_seconds}
    return out


BASELINES = ["spectral signatures", "IsolationForest", "LOF", "kNN label disagreement",
             "kNN distance"]


def cached_baselines(a, inst):
    import faiss
    import sklearn
    data = os.path.join(inst["folder"], "data.h5")
    key = {"input_sha256": rq.sha256_file(data), "version": BASELINE_VERSION,
           "lof": not a.no_lof, "sklearn": sklearn.__version__, "numpy": np.__version__,
           "faiss": getattr(faiss, "__version__", "?")}
    stem = os.path.join(inst["folder"], "baselines")
    old = rq.read_json(stem + ".json")
    if old and old.get("key") == key and os.path.exists(stem + ".npz"):
        stored = np.load(stem + ".npz")
        return {name: {"score": stored["s%d" % j], "seconds": s}
                for j, (name, s) in enumerate(old["baselines"])}, True
    x, y, _, _ = rq.read_h5(data)
    out = compute_baselines(x.astype(np.float32), y, not a.no_lof)
    np.savez(stem + ".tmp.npz", **{"s%d" % j: b["score"] for j, b in enumerate(out.values())})
    os.replace(stem + ".tmp.npz", stem + ".npz")
    rq.write_json(stem + ".json", {"key": key, "baselines": [[n, b["seconds"]]
                                                              for n, b in out.items()]})
    return out, False


# ---------------------------------------------------------------------------------------------
# 3. scans (cached by input, truth, binary and arguments)
# ---------------------------------------------------------------------------------------------

def scan_modes(a):
    modes = [("default", "scan", [])]
    for t in a.trusted:
        flag, f = {"data": ("--trusted-data", "trusted.h5"),
                   "ids": ("--trusted-ids", "trusted_ids.txt")}[t]
        modes.append(("trusted-" + t, "scan-trusted-" + t, [flag, f]))
    return modes


def cached_scan(a, inst, mode, outname, extra):
    """run_quality.run_scan, or an earlier identical scan's outputs re-read (its stamp holds the
    SHA-256 of the input, the truth, the trusted file and the binary, and the arguments)."""
    folder = inst["folder"]
    data, truth = os.path.join(folder, "data.h5"), os.path.join(folder, "truth.csv")
    args = [(os.path.join(folder, e) if e in INSTANCE_FILES else e) for e in extra]
    key = {"input_sha256": rq.sha256_file(data), "truth_sha256": rq.sha256_file(truth),
           "assay_sha256": a.assay_sha256, "scan_args": a.scan_args, "mode_args": extra,
           "mode_sha256": [rq.sha256_file(os.path.join(folder, e)) for e in extra
                           if e in INSTANCE_FILES]}
    out = os.path.join(folder, outname)
    stamp = out + ".json"
    old = rq.read_json(stamp)
    if old and old.get("key") == key and os.path.exists(os.path.join(out, "scores.csv")):
        reader = types.SimpleNamespace(assay="/bin/true", scan_args=[])
        result = rq.run_scan(reader, data, truth, out)
        result.update(old["run"], reused=True)
        return result
    if os.path.exists(stamp):
        os.remove(stamp)
    runner = types.SimpleNamespace(assay=a.assay, scan_args=a.scan_args + args)
    result = rq.run_scan(runner, data, truth, out)
    if result["exit_code"] in (0, 1) and "error" not in result:
        rq.write_json(stamp, {"key": key, "run": {k: result[k] for k in
                                                  ("command", "exit_code", "seconds")}})
    result["reused"] = False
    log("scan %s [%s]: exit %s in %.1f s" % (inst["name"], mode, result["exit_code"],
                                            result["seconds"]))
    return result


# ---------------------------------------------------------------------------------------------
# 4. evaluate: poisons against clean rows; cover rows are neither
# ---------------------------------------------------------------------------------------------

def read_truth_codes(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return np.array([POISON if r["is_poison"] == "1" else COVER if r["attack"] == "cover"
                     else CLEAN for r in rows], dtype=np.int8)


def rank_metrics(score, truth):
    keep = truth != COVER
    s, pos = np.asarray(score, dtype=float)[keep], (truth == POISON)[keep]
    p = int(pos.sum())
    if p == 0 or np.all(np.isnan(s)):
        return {}
    return {"auroc": rq.auroc(s, pos), "recall_at_budget": rq.top_budget(s, pos, p)[1]}


def share(mask, rows):
    return float(mask[rows].mean()) if rows.any() else None


def scan_metrics(scan, truth):
    m = {"command": scan.get("command"), "exit_code": scan.get("exit_code"),
         "seconds": scan.get("seconds"), "reused": scan.get("reused")}
    if "combined" not in scan:
        m["error"] = scan.get("error", "no scores")
        return m
    flagged = scan["flagged"]
    verdicts = rq.detector_verdicts(scan["tests"])
    m.update(verdict=scan["verdict"], gate_reason=scan.get("gate_reason", ""),
             fired=sorted(k for k, v in verdicts.items() if v == "reject"),
             flagged_fraction=float(flagged.mean()),
             flagged_poison=share(flagged, truth == POISON),
             flagged_clean=share(flagged, truth == CLEAN),
             flagged_cover=share(flagged, truth == COVER),
             report_timings=scan.get("report_timings"))
    m.update(rank_metrics(scan["combined"], truth))
    m["detectors"] = {name: rank_metrics(s, truth).get("auroc")
                      for name, s in scan["detectors"].items() if not np.all(np.isnan(s))}
    return m


def evaluate_instance(inst, scans, baselines):
    truth = read_truth_codes(os.path.join(inst["folder"], "truth.csv"))
    e = {k: inst[k] for k in ("name", "half", "attack", "role", "ladder")}
    e.update(info=inst["info"], rows=int(len(truth)), poisons=int(np.sum(truth == POISON)),
             covers=int(np.sum(truth == COVER)), scans={}, baselines={})
    for mode, scan in scans.items():
        e["scans"][mode] = scan_metrics(scan, truth)
    for name, b in baselines.items():
        e["baselines"][name] = dict(rank_metrics(b["score"], truth), seconds=b["seconds"])
    return e


# ---------------------------------------------------------------------------------------------
# 5. targets (issue 13), per half and scan mode, on the final instances
# ---------------------------------------------------------------------------------------------

def f3(v):
    return rq.fmt(v, "%.3f")


def f4(v):
    return rq.fmt(v, "%.4f")


def ge(v, floor):
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and v >= floor


def check_targets(results, halves, modes):
    targets = []
    for mode in modes:
        for half in halves:
            final = {e["attack"]: e for e in results if e["half"] == half
                     and e["role"] == "final"}

            def add(text, rows, report_only=False):
                met = None if report_only or not rows else all(r[1] for r in rows if
                                                               r[1] is not None)
                if not report_only and rows and all(r[1] is None for r in rows):
                    met = None
                targets.append({"target": text, "half": half, "scan": mode, "met": met,
                                "report_only": report_only,
                                "instances": [{"instance": r[0], "met": r[1], "numbers": r[2]}
                                              for r in rows]})

            def s(e):
                return e["scans"].get(mode, {})

            def numbers(e, extra=""):
                m = s(e)
                return ("AUROC %s, recall@budget %s, gate %s, ASR %s%s"
                        % (f4(m.get("auroc")), f3(m.get("recall_at_budget")),
                           m.get("verdict", "n/a"), f3(e["info"].get("asr")), extra))

            for attack, auc, rec in (("blend1", 0.99, 0.6), ("badnets03", 0.99, 0.5),
                                     ("tact", 0.99, 0.5)):
                rows = []
                if attack in final:
                    e = final[attack]
                    rows.append((e["name"], ge(s(e).get("auroc"), auc) and
                                 ge(s(e).get("recall_at_budget"), rec) and
                                 s(e).get("verdict") == "FAIL", numbers(e)))
                add("%s: AUROC >= %g, recall@budget >= %g, gate fails" % (attack, auc, rec), rows)
            rows = []
            for attack in ("adap_blend", "wanet"):
                if attack in final:
                    e = final[attack]
                    if not e["info"].get("learned"):
                        rows.append((e["name"], None, "not learned: " + numbers(e)))
                    else:
                        rows.append((e["name"], ge(s(e).get("auroc"), 0.97) and
                                     s(e).get("verdict") == "FAIL", numbers(e)))
            add("adap_blend, wanet (where ASR >= 0.5): AUROC >= 0.97, gate fails", rows)
            rows = []
            for attack in ("badnets1", "badnets3"):
                if attack in final:
                    e = final[attack]
                    rows.append((e["name"], ge(s(e).get("auroc"), 0.999) and
                                 ge(s(e).get("recall_at_budget"), 0.95), numbers(e)))
            add("badnets1, badnets3: AUROC >= 0.999, recall@budget >= 0.95", rows)
            rows = []
            for attack, e in final.items():
                if attack == "clean":
                    continue
                bl = [b for b in e["baselines"].values() if "auroc" in b]
                best_auc = max((b["auroc"] for b in bl), default=None)
                best_rec = max((b["recall_at_budget"] for b in bl), default=None)
                m = s(e)
                ok = (best_auc is not None and ge(m.get("auroc"), best_auc) and
                      ge(m.get("recall_at_budget"), best_rec))
                rows.append((e["name"], ok, "AUROC %s vs best baseline %s; recall@budget %s vs %s"
                             % (f4(m.get("auroc")), f4(best_auc), f3(m.get("recall_at_budget")),
                                f3(best_rec))))
            add("every attack: assay's AUROC and recall@budget >= the best baseline's", rows)
            rows = []
            if "clean" in final:
                e = final["clean"]
                rows.append((e["name"], s(e).get("verdict") == "PASS",
                             "gate %s, flagged %s: %s" % (s(e).get("verdict", "n/a"),
                                                          f3(s(e).get("flagged_fraction")),
                                                          s(e).get("gate_reason", "")[:200])))
            add("clean: gate passes", rows)
            rows = [(final[k]["name"], None, numbers(final[k]) + (
                ", flagged poison / clean / cover %s / %s / %s" % (
                    f3(s(final[k]).get("flagged_poison")), f3(s(final[k]).get("flagged_clean")),
                    f3(s(final[k]).get("flagged_cover")))))
                for k in ("sig", "adap_patch", "all2all") if k in final]
            add("sig, adap_patch, all2all (reported, no numeric target)", rows, report_only=True)
    return targets


# ---------------------------------------------------------------------------------------------
# 6. report
# ---------------------------------------------------------------------------------------------

def render(results, targets, meta, modes):
    status = {True: "**met**", False: "missed", None: "n/a"}
    lines = ["# Backdoor suite on Fashion-MNIST with learned CNN features (issue 13)", "",
             "Generated %s by `%s` (%s; wall time %.1f min). One `assay scan data.h5 --truth "
             "truth.csv --out DIR -q` per instance on the 64-dim penultimate activations of a CNN "
             "trained on the poisoned rows (%s, %d epochs). Metrics compare poisons with clean "
             "rows; **cover rows are left out of both** (their flag rate is reported apart). "
             "Recall@budget: share of the poisons among the P highest scores (P = poisons). "
             "Baseline cells: AUROC / recall@budget. An attack counts as learned at ASR >= 0.5."
             % (meta["finished"], meta["command_line"], meta["machine"],
                meta["wall_seconds"] / 60, ARCH, meta["epochs"]), ""]
    lines += ["## Attack ladders (first parameters, then each strengthening tried)", "",
              "| half | attack | step | parameters | poisons | covers | ASR | learned | "
              "test acc |", "|---|---|---|---|---|---|---|---|---|"]
    for e in results:
        if e["role"] != "final" or e["attack"] == "clean":
            continue
        for st in e["ladder"]:
            asr = f3(st.get("asr"))
            if st.get("asr_other_classes") is not None:
                asr += " (other classes %s)" % f3(st["asr_other_classes"])
            lines.append("| %s | %s | %d | %s | %d | %d | %s | %s | %s |" % (
                e["half"], e["attack"], st["step"], st["params_text"], st["poisons"],
                st["covers"], asr, "yes" if st["learned"] else "**no**",
                f3(st["test_accuracy"])))
    base_names = [b for b in BASELINES if any(b in e["baselines"] for e in results)]
    for half in meta["halves"]:
        rows = [e for e in results if e["half"] == half]
        if not rows:
            continue
        head = ["instance", "parameters", "ASR", "test acc", "P / cover"]
        for mode, _, _ in modes:
            tag = "" if mode == "default" else " [%s]" % mode
            head += ["AUROC" + tag, "recall@P" + tag, "gate" + tag, "fired" + tag,
                     "flagged poison / clean / cover" + tag]
        head += base_names
        lines += ["", "## %s half" % half, "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]
        for e in rows:
            asr = f3(e["info"].get("asr"))
            if e["attack"] != "clean" and not e["info"].get("learned"):
                asr += " (not learned)"
            if e["info"].get("asr_other_classes") is not None:
                asr += "; other %s" % f3(e["info"]["asr_other_classes"])
            cells = [e["name"], e["info"]["params_text"], asr, f3(e["info"]["test_accuracy"]),
                     "%d / %d" % (e["poisons"], e["covers"])]
            for mode, _, _ in modes:
                m = e["scans"].get(mode, {})
                if "error" in m or not m:
                    cells += ["error", "", "exit %s" % m.get("exit_code"), "", ""]
                    continue
                cells += [f4(m.get("auroc")), f3(m.get("recall_at_budget")), m["verdict"],
                          ", ".join(m["fired"]) or "—",
                          "%s / %s / %s" % (f3(m.get("flagged_poison")),
                                            f3(m.get("flagged_clean")),
                                            f3(m.get("flagged_cover")))]
            for b in base_names:
                r = e["baselines"].get(b, {})
                cells.append("%s / %s" % (f3(r.get("auroc")), f3(r.get("recall_at_budget")))
                             if "auroc" in r else "—")
            lines.append("| " + " | ".join(cells).replace("\n", " ") + " |")
    lines += ["", "## Targets", "", "| target | half | scan | status | per instance |",
              "|---|---|---|---|---|"]
    for t in targets:
        detail = "<br>".join("%s %s: %s" % ({True: "✓", False: "✗", None: "·"}[d["met"]],
                                             d["instance"], d["numbers"].replace("|", "/"))
                             for d in t["instances"])
        lines.append("| %s | %s | %s | %s | %s |" % (
            t["target"], t["half"], t["scan"], "report" if t["report_only"] else
            status[t["met"]], detail or "—"))
    lines += ["", "## Times (seconds, wall clock)", "",
              "| stage | seconds |", "|---|---|"]
    for k, v in meta["stage_seconds"].items():
        lines.append("| %s | %.1f |" % (k, v))
    lines += ["", "Notes:", ""] + ["- " + n for n in meta["notes"]]
    return "\n".join(lines) + "\n"


def check_complete(results, modes):
    """The smoke contract: every scan completed and every number that should exist does."""
    problems = []
    for e in results:
        for mode, _, _ in modes:
            m = e["scans"].get(mode, {})
            if m.get("exit_code") not in (0, 1) or "error" in m:
                problems.append("%s [%s]: scan exit %s: %s" % (e["name"], mode,
                                                              m.get("exit_code"), m.get("error")))
                continue
            keys = ["flagged_fraction"] + (["auroc", "recall_at_budget", "flagged_poison",
                                            "flagged_clean"] if e["poisons"] else [])
            if m.get("verdict") not in ("PASS", "FAIL"):
                problems.append("%s [%s]: no verdict" % (e["name"], mode))
            for k in keys:
                if m.get(k) is None or not np.isfinite(m[k]):
                    problems.append("%s [%s]: %s is missing" % (e["name"], mode, k))
        for k in ("test_accuracy",) + (("asr",) if e["attack"] != "clean" else ()):
            v = e["info"].get(k)
            if v is None or not np.isfinite(v):
                problems.append("%s: %s is missing" % (e["name"], k))
        if e["poisons"]:
            for b, r in e["baselines"].items():
                for k in ("auroc", "recall_at_budget"):
                    if r.get(k) is None or not np.isfinite(r[k]):
                        problems.append("%s: baseline %s %s is missing" % (e["name"], b, k))
    return problems


# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(REPO, "build", "release"),
                    help="build tree holding assay (default build/release)")
    ap.add_argument("--assay", help="the assay command (default BUILD/assay)")
    ap.add_argument("--idx-dir", default=rq.DEFAULT_IDX_DIR, help="Fashion-MNIST IDX files")
    ap.add_argument("--work", help="instances, models, baselines and scans (default "
                    "BUILD/backdoor-suite; with --smoke BUILD/backdoor-suite-smoke)")
    ap.add_argument("--only", help="comma list of attacks (default all: %s)" % ",".join(ATTACKS))
    ap.add_argument("--half", default="both", choices=["tune", "heldout", "both"])
    ap.add_argument("--trusted", default="", help="also scan with assay's trusted subset: "
                    "data (--trusted-data trusted.h5), ids (--trusted-ids trusted_ids.txt) or "
                    "data,ids; evaluated as extra columns")
    ap.add_argument("--rows", type=int, default=0, help="only the first N training images")
    ap.add_argument("--epochs", type=int, default=3, help="CNN training epochs (default 3)")
    ap.add_argument("--jobs", type=int, default=1, help="scans run in parallel (default 1)")
    ap.add_argument("--no-lof", action="store_true", help="skip the LOF baseline")
    ap.add_argument("--data-only", action="store_true",
                    help="stop after writing the instances' data files (stage 1)")
    ap.add_argument("--scan-args", default="", help="extra arguments for every assay scan")
    ap.add_argument("--md", help="write the Markdown report here (it is printed anyway)")
    ap.add_argument("--json", help="every number and command (default WORK/backdoor.json)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless every scan completed and every number exists")
    ap.add_argument("--smoke", action="store_true", help="4,000 rows, 1 epoch, %s, tune half, "
                    "no LOF, no ladder, --check" % ",".join(SMOKE_ATTACKS))
    a = ap.parse_args(argv)
    if a.smoke:
        a.rows, a.epochs, a.no_lof, a.check, a.half = 4000, 1, True, True, "tune"
        a.only = a.only or ",".join(SMOKE_ATTACKS)
    a.assay = a.assay or os.path.join(a.build, "assay")
    a.work = os.path.abspath(a.work or os.path.join(
        a.build, "backdoor-suite-smoke" if a.smoke else "backdoor-suite"))
    a.json = a.json or os.path.join(a.work, "backdoor.json")
    a.attacks = a.only.split(",") if a.only else list(ATTACKS)
    a.halves = ["tune", "heldout"] if a.half == "both" else [a.half]
    a.trusted = [t for t in a.trusted.split(",") if t]
    a.scan_args = shlex.split(a.scan_args)
    for name in a.attacks:
        if name not in ATTACKS:
            ap.error("unknown attack %r (known: %s)" % (name, ", ".join(ATTACKS)))
    for t in a.trusted:
        if t not in ("data", "ids"):
            ap.error("--trusted takes data, ids or data,ids")
    if not a.data_only and not os.access(a.assay, os.X_OK):
        ap.error("%s is not an executable; build it or pass --build / --assay" % a.assay)
    if not os.path.exists(os.path.join(a.idx_dir, "train-images-idx3-ubyte.gz")) and \
            not os.path.exists(os.path.join(a.idx_dir, "train-images-idx3-ubyte")):
        ap.error("no Fashion-MNIST in %s (apt-get install dataset-fashion-mnist, or --idx-dir)"
                 % a.idx_dir)
    return a


def setup_torch():
    torch = rq.torch_or_none()
    if torch is None:
        raise SystemExit("torch is required (Debian: python3-torch)")
    torch.set_num_threads(2)
    try:
        torch.use_deterministic_algorithms(True)
    except Exception:  # older torch: CPU kernels are deterministic for a fixed thread count
        pass
    return torch


def lock_work(work):
    """One run per work folder: two runs would race on the same step, scan and baseline files
    (and train two models at once on a 2-core machine). A second run waits for the first."""
    import fcntl
    f = open(os.path.join(work, ".lock"), "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        log("another run_backdoor.py is using %s; waiting for it to finish" % work)
        fcntl.flock(f, fcntl.LOCK_EX)
    return f  # held until the process exits


def main(argv):
    a = parse_args(argv)
    t_start = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc)
    os.makedirs(a.work, exist_ok=True)
    a.lock = lock_work(a.work)  # held (open) for the whole run
    a.torch = setup_torch()
    a.times = {"train": 0.0}
    stage = {}

    # 1. data: every instance of the tune half first (its marker lets detector work start),
    # then the held-out half.
    t0 = time.monotonic()
    a.train = load_split(a.idx_dir, "train", a.rows)
    a.train = (a.train[0].reshape(-1, 28, 28), a.train[1])
    a.test = load_split(a.idx_dir, "test")
    a.test = (a.test[0].reshape(-1, 28, 28), a.test[1])
    instances = []
    for half in a.halves:
        for attack in a.attacks:
            instances += build_attack(a, half, attack)
        if not a.smoke and not a.only:
            marker = os.path.join(a.work, "DATA_READY_" + ("TUNE" if half == "tune" else "ALL"))
            if half == "tune" or "tune" in a.halves:
                write_text(marker, ["%s: data.h5/truth.csv/trusted files of %d instances (%s)"
                                    % (datetime.datetime.now().isoformat(timespec="seconds"),
                                       len(instances), " ".join(i["name"] for i in instances))])
    stage["data (plant, train, write)"] = time.monotonic() - t0
    stage["of which training"] = a.times["train"]
    if a.data_only:
        log("data written in %.1f s (--data-only)" % stage["data (plant, train, write)"])
        return 0
    a.assay_sha256 = rq.sha256_file(a.assay)

    t0 = time.monotonic()
    baselines = []
    for inst in instances:
        t1 = time.monotonic()
        b, reused = cached_baselines(a, inst)
        baselines.append(b)
        if not reused:
            log("baselines %s: %.1f s" % (inst["name"], time.monotonic() - t1))
    stage["baselines"] = time.monotonic() - t0

    t0 = time.monotonic()
    modes = scan_modes(a)
    jobs = [(i, mode, outname, extra) for i in range(len(instances))
            for mode, outname, extra in modes]
    scans = [dict() for _ in instances]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futures = {pool.submit(cached_scan, a, instances[i], mode, outname, extra): (i, mode)
                   for i, mode, outname, extra in jobs}
        for fut in concurrent.futures.as_completed(futures):
            i, mode = futures[fut]
            scans[i][mode] = fut.result()
    stage["scans"] = time.monotonic() - t0

    results = [evaluate_instance(inst, s, b) for inst, s, b in zip(instances, scans, baselines)]
    mode_names = [m for m, _, _ in modes]
    targets = check_targets(results, a.halves, mode_names)
    finished = datetime.datetime.now(datetime.timezone.utc)
    stage["total"] = time.monotonic() - t_start
    notes = [
        "Halves: %s." % "; ".join("%s = %s" % (h, json.dumps(HALVES[h], sort_keys=True))
                                  for h in a.halves),
        "ASR: triggered test images (10,000-image test split) of the classes the attack moves, "
        "predicted as it intends (all2all: y + 1 for every class; TaCT: the source class, with "
        "the rate on classes that are neither source nor target as `other`).",
        "A ladder step is tried only while the previous one was not learned; an attack whose "
        "first step was not learned is also kept as HALF-ATTACK-weak (scanned and reported).",
        "Baselines on the same embeddings: spectral signatures (run_quality.py's), "
        "IsolationForest (scikit-learn defaults, random_state 0), LOF (k = 20, scikit-learn's "
        "formula computed from exact FAISS L2 neighbours), kNN label disagreement and mean "
        "distance (k = 10, exact L2). assay uses its own default (cosine) metric.",
        "Targets are checked on the final instances (learned, or the last ladder step).",
    ]
    if a.no_lof:
        notes.append("LOF skipped (--no-lof)")
    meta = {"started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "wall_seconds": time.monotonic() - t_start, "stage_seconds": stage,
            "command_line": " ".join(shlex.quote(x) for x in
                                     ["bench/quality/run_backdoor.py"] + argv),
            "assay": a.assay, "assay_sha256": a.assay_sha256, "arch": ARCH,
            "epochs": a.epochs, "rows": a.rows or 60000, "halves": a.halves,
            "half_settings": {h: HALVES[h] for h in a.halves}, "scan_modes": mode_names,
            "torch": a.torch.__version__,
            "machine": "%s, %d CPUs" % (platform.machine(), os.cpu_count()), "notes": notes,
            "ladders": {k: v["ladder"] for k, v in ATTACKS.items() if k in a.attacks}}
    md = render(results, targets, meta, modes)
    print(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    rq.write_json(a.json, {"meta": meta, "targets": targets, "results": results})
    for t in targets:
        log("%-8s %-12s %-7s %s" % (t["half"], t["scan"], "REPORT" if t["report_only"] else
                                    {True: "MET", False: "MISSED", None: "-"}[t["met"]],
                                    t["target"]))
    log("wrote %s%s; wall time %.1f s" % (a.json, (" and " + a.md) if a.md else "",
                                           meta["wall_seconds"]))
    problems = check_complete(results, modes)
    for p in problems:
        log("MISSING: " + p)
    if problems and (a.check or any(m.get("exit_code") not in (0, 1)
                                    for e in results for m in e["scans"].values())):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
