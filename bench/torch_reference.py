#!/usr/bin/env python3
"""PyTorch reference for vaekit's benchmarks: the "seed" MLP VAE, trained and
evaluated exactly as vaekit does it, so the two can be compared number for number.

Data comes from raw little-endian float32 files written by vaekit (n x 784), so both
sides see identical pixels and an identical binarised test set. Only numpy and torch
are needed; safetensors files are read and written by the small helpers below.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

PIXELS = 784
LOG_2PI = math.log(2 * math.pi)


class VAE(nn.Module):
    # Attribute names are the state_dict keys vaekit exports and imports.
    def __init__(self, latent):
        super().__init__()
        self.enc_fc1 = nn.Linear(PIXELS, 400)
        self.enc_fc2 = nn.Linear(400, 200)
        self.enc_mu = nn.Linear(200, latent)
        self.enc_logvar = nn.Linear(200, latent)
        self.dec_fc1 = nn.Linear(latent, 200)
        self.dec_fc2 = nn.Linear(200, 400)
        self.dec_fc3 = nn.Linear(400, PIXELS)

    def encode(self, x):
        h = F.relu(self.enc_fc2(F.relu(self.enc_fc1(x))))
        return self.enc_mu(h), self.enc_logvar(h)

    def decode(self, z):  # Bernoulli logits
        return self.dec_fc3(F.relu(self.dec_fc2(F.relu(self.dec_fc1(z)))))


class ConvVAE(nn.Module):
    """The benchmark's conv VAE: conv 1→32→64 (k4 s2 p1, 28→14→7), one linear layer to
    (μ, log σ²), mirrored linear + transposed convs back to Bernoulli logits; ReLU."""
    def __init__(self, latent):
        super().__init__()
        self.enc_conv1 = nn.Conv2d(1, 32, 4, 2, 1)
        self.enc_conv2 = nn.Conv2d(32, 64, 4, 2, 1)
        self.enc_mu = nn.Linear(64 * 7 * 7, latent)
        self.enc_logvar = nn.Linear(64 * 7 * 7, latent)
        self.dec_fc = nn.Linear(latent, 64 * 7 * 7)
        self.dec_deconv1 = nn.ConvTranspose2d(64, 32, 4, 2, 1)
        self.dec_deconv2 = nn.ConvTranspose2d(32, 1, 4, 2, 1)

    def encode(self, x):
        h = x.view(-1, 1, 28, 28)
        h = F.relu(self.enc_conv2(F.relu(self.enc_conv1(h)))).flatten(1)
        return self.enc_mu(h), self.enc_logvar(h)

    def decode(self, z):
        g = F.relu(self.dec_fc(z)).view(-1, 64, 7, 7)
        return self.dec_deconv2(F.relu(self.dec_deconv1(g))).flatten(1)


def elbo_terms(model, x, generator=None):
    """Per-example reconstruction NLL and KL (nats), one reparameterised sample."""
    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=generator)
    logits = model.decode(mu + torch.exp(0.5 * logvar) * eps)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
    return recon, kl


def iwae_log_likelihood(model, x, k, generator, chunk):
    """log p(x) estimate per example: log-mean-exp of k importance weights,
    drawn `chunk` at a time so memory stays bounded for large k."""
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    total = torch.full((x.shape[0],), -math.inf, dtype=torch.float64)
    for start in range(0, k, chunk):
        c = min(chunk, k - start)
        eps = torch.randn((c,) + mu.shape, generator=generator)
        z = mu + std * eps                                          # c x B x latent
        logits = model.decode(z)
        log_px_z = -F.binary_cross_entropy_with_logits(
            logits, x.expand_as(logits), reduction="none").sum(-1)
        log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
        log_qz = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
        log_w = (log_px_z + log_pz - log_qz).double()
        total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
    return total - math.log(k)


def evaluate(model, test, k, seed, batch=100):
    """Test neg-ELBO (with its two terms) and IWAE-k NLL, means in float64."""
    gen = torch.Generator().manual_seed(seed)
    chunk = max(1, 10_000 // batch)
    sums = {"recon": 0.0, "kl": 0.0, "iwae": 0.0}
    model.eval()
    n = test.shape[0]
    started = reported = time.perf_counter()
    cpu_started = time.process_time()
    with torch.no_grad():
        for i in range(0, n, batch):
            x = test[i:i + batch]
            recon, kl = elbo_terms(model, x, gen)
            sums["recon"] += recon.double().sum().item()
            sums["kl"] += kl.double().sum().item()
            sums["iwae"] -= iwae_log_likelihood(model, x, k, gen, chunk).sum().item()
            now, done = time.perf_counter(), min(i + batch, n)
            if now - reported >= 10 and done < n:  # progress with ETA for long evaluations
                reported = now
                eta = (now - started) * (n - done) / done
                print(f"eval {done}/{n} examples ({now - started:.0f}s, ETA {eta:.0f}s)", file=sys.stderr)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "neg_elbo": (sums["recon"] + sums["kl"]) / n,
        "recon": sums["recon"] / n,
        "kl": sums["kl"] / n,
        "iwae_nll": sums["iwae"] / n,
        "iwae_k": k,
        "n": n,
        "eval_seconds": seconds,
        # importance samples (example x k decoder passes) per second
        "eval_samples_per_s": n * k / seconds,
        # CPU time of this process: less sensitive than wall time to other jobs on the machine
        "eval_cpu_seconds": cpu_seconds,
    }


def train_step(model, opt, x_prob):
    x = torch.bernoulli(x_prob)  # dynamic binarisation, fresh every step
    recon, kl = elbo_terms(model, x)
    loss = (recon + kl).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


# ---------- raw data and safetensors ----------

def fail(message):
    print(f"torch_reference: {message}", file=sys.stderr)
    sys.exit(2)


def load_raw(path, binary):
    try:
        data = np.fromfile(path, dtype="<f4")
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    if data.size == 0 or data.size % PIXELS:
        fail(f"{path}: {data.size} float32 values is not a positive multiple of {PIXELS}")
    if not np.all((data >= 0) & (data <= 1)):  # also rejects NaN
        fail(f"{path}: values must lie in [0, 1]")
    if binary and not np.all((data == 0) | (data == 1)):
        fail(f"{path}: test set must be binarised (values 0 or 1)")
    return torch.from_numpy(data.reshape(-1, PIXELS).copy())


def save_safetensors(state, path):
    header, blobs, offset = {}, [], 0
    for name, tensor in state.items():
        blob = tensor.detach().cpu().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    try:
        (size,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + size])
    except (struct.error, ValueError):
        fail(f"{path}: not a safetensors file (bad header)")
    if not isinstance(header, dict):
        fail(f"{path}: not a safetensors file (header is not an object)")
    data, state = raw[8 + size:], {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            fail(f"{path}: tensor {name} has a malformed header entry")
        if dtype != "F32":
            fail(f"{path}: tensor {name} has dtype {dtype}, expected F32")
        if end - begin != 4 * math.prod(shape) or not 0 <= begin <= end <= len(data):
            fail(f"{path}: tensor {name} offsets do not match shape {shape}")
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(shape)
        state[name] = torch.from_numpy(array.copy())
    return state


# ---------- subcommands ----------

def cmd_train(args):
    train, test = load_raw(args.train, False), load_raw(args.test, True)
    torch.manual_seed(args.seed)
    model = VAE(args.latent)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps, started, history = 0, time.perf_counter(), []
    cpu_started = time.process_time()
    for epoch in range(args.epochs):
        model.train()
        order, total = torch.randperm(train.shape[0]), 0.0
        for i in range(0, train.shape[0], args.batch_size):
            batch = order[i:i + args.batch_size]
            total += train_step(model, opt, train[batch]) * len(batch)
            steps += 1
        elapsed = time.perf_counter() - started
        history.append({"epoch": epoch + 1, "train_loss": total / train.shape[0], "seconds": elapsed})
        eta = elapsed * (args.epochs - epoch - 1) / (epoch + 1)
        print(f"epoch {epoch + 1}/{args.epochs}: train neg-ELBO {total / train.shape[0]:.2f}"
              f" ({elapsed:.1f}s, ETA {eta:.0f}s)", file=sys.stderr)
    train_seconds = time.perf_counter() - started
    train_cpu_seconds = time.process_time() - cpu_started
    if args.save_weights:
        save_safetensors(model.state_dict(), args.save_weights)
    if args.iwae_limit:
        test = test[:args.iwae_limit]
    result = evaluate(model, test, args.iwae_k, args.seed)
    result.update(train_seconds=train_seconds,
                  train_samples_per_s=args.epochs * train.shape[0] / train_seconds,
                  ms_per_step=1000 * train_seconds / steps, steps=steps,
                  train_cpu_seconds=train_cpu_seconds,
                  train_examples=train.shape[0], history=history)
    return result


def cmd_eval(args):
    test = load_raw(args.test, True)
    model = VAE(args.latent)
    try:
        model.load_state_dict(load_safetensors(args.weights), strict=True)
    except RuntimeError as e:
        fail(f"{args.weights}: does not match the seed VAE with latent {args.latent}: {e}")
    if args.iwae_limit:
        test = test[:args.iwae_limit]
    return evaluate(model, test, args.iwae_k, args.seed)


def cmd_export_init(args):
    torch.manual_seed(args.seed)
    save_safetensors(VAE(args.latent).state_dict(), args.out)
    return {"out": args.out, "seed": args.seed, "latent": args.latent}


def cmd_step_time(args):
    torch.manual_seed(args.seed)
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda: this torch has no CUDA device")
    device = torch.device(args.device)
    model = (ConvVAE if args.model == "conv" else VAE)(args.latent).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.bernoulli(torch.full((args.batch_size, PIXELS), 0.5, device=device))
    for _ in range(args.warmup):
        train_step(model, opt, x)
    # a fixed step count, or (--seconds) as many steps as fit in that time, at least 3
    steps, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while steps < (3 if args.seconds else args.steps):
        train_step(model, opt, x)
        steps += 1
    while args.seconds and time.perf_counter() - started < args.seconds:
        train_step(model, opt, x)
        steps += 1
    ms = 1000 * (time.perf_counter() - started) / steps
    cpu_ms = 1000 * (time.process_time() - cpu_started) / steps  # user + system, this process
    import resource  # peak resident set of this process (Linux reports KiB)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"ms_per_step": ms, "batch_size": args.batch_size, "steps": steps,
              "latent": args.latent, "model": args.model, "cpu_ms_per_step": cpu_ms,
              "peak_rss_mib": peak_mib, "device": args.device}
    if args.device == "cuda":  # train_step's loss.item() waits for the GPU, so the clock is honest
        result.update(gpu=torch.cuda.get_device_name(), peak_gpu_mib=torch.cuda.max_memory_allocated() / 2**20)
    return result

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--latent", type=int, default=20)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--threads", type=int, default=1)
        return p

    def evaluation(p):
        p.add_argument("--test", required=True, help="raw float32 n x 784, binarised")
        p.add_argument("--iwae-k", type=int, default=1000)
        p.add_argument("--iwae-limit", type=int, help="evaluate only the first N test examples")

    p = common(sub.add_parser("train", help="train, then evaluate on the test set"))
    p.add_argument("--train", "--images", dest="train", required=True,
                   help="raw float32 n x 784 in [0, 1]")
    evaluation(p)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--save-weights", help="write trained weights as .safetensors")
    p.add_argument("--out", help="directory for result.json (and nothing else)")
    p.set_defaults(run=cmd_train)

    p = common(sub.add_parser("eval", help="evaluate a .safetensors model"))
    p.add_argument("--weights", required=True)
    evaluation(p)
    p.set_defaults(run=cmd_eval)

    p = common(sub.add_parser("export-init", help="write a freshly initialised model"))
    p.add_argument("--out", required=True)
    p.set_defaults(run=cmd_export_init)

    p = common(sub.add_parser("step-time", help="ms per Adam step on random binary data"))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--seconds", type=float, default=0, help="time budget instead of --steps")
    p.add_argument("--model", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.set_defaults(run=cmd_step_time)

    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = args.run(args)
    result.update(threads=args.threads, torch_version=torch.__version__)
    if getattr(args, "out", None) and args.command == "train":
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "result.json"), "w") as f:
            f.write(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
