/**
 * Running the PyTorch reference (bench/torch_reference.py) from Node: find a Python with torch,
 * run one subcommand, parse its JSON line. Shared by the benchmark and the interop test.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VaekitError } from "../src/errors.js";

/** The script, found relative to this file both as bench/torch.ts and as dist/bench/torch.js. */
export const TORCH_SCRIPT = [
  fileURLToPath(new URL("./torch_reference.py", import.meta.url)),
  fileURLToPath(new URL("../../bench/torch_reference.py", import.meta.url)),
].find((p) => existsSync(p)) ?? fileURLToPath(new URL("../../bench/torch_reference.py", import.meta.url));

export type TorchProbe =
  | { ok: true; python: string; torchVersion: string; blas: string; cuda: boolean }
  | { ok: false; python: string; reason: string };

/** The Debian system Python (where python3-torch installs) if present, else python3 on PATH. */
export function defaultPython(): string {
  return process.env.VAEKIT_PYTHON ?? (existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
}

/** The environment for the reference: OpenBLAS tuning variables set for other tools are dropped. */
function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  // the reference runs single-threaded (it also calls torch.set_num_threads(1))
  env.OPENBLAS_NUM_THREADS = "1";
  env.OMP_NUM_THREADS = "1";
  return env;
}

/** Can `python` import torch and numpy? Says why not in one line. */
export function probeTorch(python = defaultPython()): TorchProbe {
  // the BLAS actually loaded (Debian's torch links the generic libblas, an alternatives symlink)
  const code =
    "import numpy, torch, os\n" +
    "torch.ones(8, 8) @ torch.ones(8, 8)\n" +
    "maps = open('/proc/self/maps').read().split() if os.path.exists('/proc/self/maps') else []\n" +
    "libs = [os.path.basename(p) for p in maps if 'openblas' in os.path.basename(p)] + [os.path.basename(p) for p in maps if os.path.basename(p).startswith('libblas')]\n" +
    "print(torch.__version__, libs[0] if libs else 'unknown', torch.cuda.is_available())";
  const r = spawnSync(python, ["-c", code], { env: torchEnv(), encoding: "utf8", timeout: 120_000 });
  if (r.error) {
    const why = (r.error as NodeJS.ErrnoException).code === "ENOENT" ? `${python} not found` : r.error.message;
    return { ok: false, python, reason: why };
  }
  if (r.status !== 0) {
    const last = r.stderr.trim().split("\n").pop() || `exit code ${r.status}`;
    return { ok: false, python, reason: `${python} cannot import torch (${last}); install Debian's python3-torch` };
  }
  const [torchVersion, blas = "unknown", cuda = "False"] = r.stdout.trim().split(/\s+/);
  return { ok: true, python, torchVersion, blas, cuda: cuda === "True" };
}

/**
 * Run `torch_reference.py <args>` and return its JSON result. Its stderr (progress) is echoed
 * unless `quiet`; a failure throws with the script's last stderr line.
 */
export function runTorchReference(python: string, args: string[], opts: { quiet?: boolean } = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [TORCH_SCRIPT, ...args], { env: torchEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err = (err + d).slice(-4000);
      if (!opts.quiet) process.stderr.write(d.replace(/^(?=.)/gm, "  [pytorch] "));
    });
    child.on("error", (e) => reject(new VaekitError(`cannot run ${python}: ${e.message}`)));
    child.on("close", (status) => {
      if (status !== 0) {
        // the script's own error line if it wrote one (messages from torch may continue below it)
        const lines = err.trim().split("\n");
        const why = lines.find((l) => l.startsWith("torch_reference: ")) ?? lines.pop() ?? "";
        reject(new VaekitError(`torch_reference.py ${args[0]} failed (exit ${status}): ${why}`));
        return;
      }
      const line = out.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new VaekitError(`torch_reference.py ${args[0]} printed no JSON result: ${JSON.stringify(line.slice(0, 200))}`));
      }
    });
  });
}

/** Raw little-endian float32 values, the exchange format of torch_reference.py. */
export function writeRawF32(path: string, x: Float32Array): void {
  const bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  // Float32Array is host-endian; every platform Node runs on is little-endian, but say so if not
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new VaekitError("big-endian hosts are not supported");
  writeFileSync(path, bytes);
}
