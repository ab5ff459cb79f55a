/**
 * `npm run bench:speed`: training-step throughput of vaekit's engines against PyTorch in the same
 * run, for the reference MLP VAE and a small conv VAE, at batch 128 / 1024 / 8192, per device and
 * engine available here; peak memory; a profile of where the time goes at batch 128; IWAE
 * evaluation throughput and the projected time of k = 5000 on 10,000 test images.
 * Writes results/speed.md and results/speed.json.
 *
 * Every measurement runs in its own child process (fresh engine, its own peak RSS). vaekit and
 * PyTorch rows alternate; with --rounds > 1 each is measured that many times and the fastest
 * kept, which damps the noise of other processes on a shared machine. CPU time per step (user +
 * system of the measuring process) is reported beside wall-clock time: on a loaded machine it is
 * the steadier measure of the work each framework does.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync, rmSync, mkdtempSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import {
  deviceSummary,
  initEngine,
  keyFromWords,
  np,
  random,
  tree,
  jitted,
  valueAndGrad,
  type Array,
} from "../src/engine/index.js";
import { profiler } from "@jax-js/jax";
import { buildVae, type Vae, type VaeParams } from "../src/models/vae.js";
import { parseVaeConfig, referenceConfig, type VaeConfig } from "../src/models/config.js";
import { vaeLoss } from "../src/objectives/elbo.js";
import { TrainConfig } from "../src/train/config.js";
import { initTrainState, makeTrainStep } from "../src/train/trainer.js";
import { makeEvaluator } from "../src/train/evaluate.js";
import { makeParallelTrainStep } from "../src/train/parallel.js";
import { makeOnnxTrainStep } from "../src/train/onnxStep.js";
import { loadOnnxRuntime, onnxRuntimeUnavailable } from "../src/engine/onnxRuntime.js";
import { makeOnnxIwae } from "../src/train/onnxEval.js";
import { toStateDict } from "../src/models/io.js";
import { encodeSafetensors } from "../src/engine/index.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { defaultPython, probeTorch, runTorchReference, writeRawF32 } from "./torch.js";

// ---------------------------------------------------------------- models and FLOPs

const LATENT = 20;
const D = 784;
type ModelName = "mlp" | "conv";
type Engine = "wasm" | "workers" | "pool" | "onnx" | "webgpu";

/** The benchmark's conv VAE: conv 1→32→64 (k4 s2 p1), linear to (μ, log σ²), mirrored decoder. */
export function convBenchConfig(latent = LATENT): VaeConfig {
  const net = (channels: number[]) => ({ type: "conv", channels, kernel: 4, stride: 2, padding: 1, residualBlocks: 0, hidden: [] });
  return parseVaeConfig({ ...referenceConfig(latent), encoder: net([32, 64]), decoder: net([64, 32]) }, "conv benchmark config");
}

function configFor(name: ModelName): VaeConfig {
  return name === "mlp" ? referenceConfig(LATENT) : convBenchConfig();
}

function modelFor(name: ModelName): Vae {
  return buildVae(configFor(name));
}

/**
 * Multiply-accumulates per example of the forward pass, as matmuls [rows × inner] · [inner × cols]
 * per example; the first layer's input gradient is not needed, so a step costs
 * 2·(3·fwd − first) FLOPs per example.
 */
function stepFlopsPerExample(name: ModelName): number {
  const layers: number[] =
    name === "mlp"
      ? [784 * 400, 400 * 200, 200 * 2 * LATENT, LATENT * 200, 200 * 400, 400 * 784]
      : [14 * 14 * 16 * 1 * 32, 7 * 7 * 16 * 32 * 64, 3136 * 2 * LATENT, LATENT * 3136, 7 * 7 * 64 * 16 * 32, 14 * 14 * 32 * 16 * 1];
  const fwd = layers.reduce((a, b) => a + b, 0);
  return 2 * (3 * fwd - layers[0]);
}

// ---------------------------------------------------------------- child: one measurement

interface CaseSpec {
  kind: "train";
  engine: Engine;
  model: ModelName;
  batch: number;
  threads: number;
  seconds: number;
  profile: boolean;
}
interface IwaeSpec {
  kind: "iwae";
  engine: "wasm" | "onnx";
  threads: number;
  n: number;
  k: number;
}
interface ProbeSpec {
  kind: "probe-webgpu";
}
type ChildSpec = CaseSpec | IwaeSpec | ProbeSpec;

interface TrainMeasure {
  ok: true;
  ms_per_step: number;
  cpu_ms_per_step: number;
  steps: number;
  first_step_ms: number;
  peak_rss_mib: number;
  profile?: Profile;
}
interface Failure {
  ok: false;
  reason: string;
}
interface Profile {
  /** ms per call of the jitted forward loss, loss+gradient, and the whole step. */
  phases?: { forward_ms: number; forward_backward_ms: number; step_ms: number };
  /** Kernel time by category (ms per step) and the matmul kernels' achieved GFLOP/s. */
  kernels?: { total_ms: number; dispatches: number; by_category: Record<string, number>; matmul_gflops: number };
  /** ONNX Runtime node time by operator (ms per step). */
  ort_ops?: Record<string, number>;
  ort_nodes?: number;
}

const peakRssMib = () => process.resourceUsage().maxRSS / 1024;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function batchData(B: number): Float32Array {
  // pixel intensities in [0, 1] (dynamic binarisation happens inside the step, as in training)
  const x = new Float32Array(B * D);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 101) / 100;
  return x;
}

/** Warm up, then time steps until `seconds` have passed (at least `minSteps`). */
async function timeSteps(step: (i: number) => Promise<void> | void, seconds: number, minSteps: number) {
  const t0 = performance.now();
  await step(0);
  const first = performance.now() - t0;
  if (minSteps > 1) await step(1); // a second warm-up step, except for the slowest cases
  const c0 = cpuMs();
  const w0 = performance.now();
  let n = 0;
  while (n < minSteps || performance.now() - w0 < seconds * 1000) await step(2 + n++);
  return { ms_per_step: (performance.now() - w0) / n, cpu_ms_per_step: (cpuMs() - c0) / n, steps: n, first_step_ms: first };
}

function trainConfig(B: number): TrainConfig {
  return TrainConfig.parse({ epochs: 1, batchSize: B, lr: 1e-3, seed: 0, binarize: "dynamic" });
}

/** Kernel categories of the engine's wasm trace (labels come from its profiler). */
function kernelCategory(name: string, props: Record<string, string>): string {
  const exp = props.exp ?? "";
  if (!name.startsWith("Kernel")) return "routines";
  if (exp.includes("Threefry")) return "random numbers";
  if (props.reduction) {
    const [op, size] = props.reduction.split(":");
    // a dot product: a sum over a product of two tensor reads
    if (op === "Add" && +size >= 16 && /^\(?\(?GV_0<float32>.*\* GV_1/.test(exp)) return "matmul";
    return "reductions";
  }
  return "element-wise";
}

async function profileWasm(model: Vae, B: number, flopsPerStep: number): Promise<Profile> {
  const tc = trainConfig(B);
  const state = initTrainState(model, 0);
  const x = batchData(B);
  const xs = () => np.array(x).reshape([B, D]);
  const fwd = jitted((p: VaeParams, xb: Array, key: Array) => vaeLoss(model, p, xb, key, 1)[0]);
  const fwdBwd = jitted((p: VaeParams, xb: Array, key: Array) => {
    const [loss, grads] = valueAndGrad((q: VaeParams) => vaeLoss(model, q, xb, key, 1)[0])(p);
    return [loss, grads] as const;
  });
  const step = makeTrainStep(model, tc);
  const time = (f: () => void, n: number) => {
    f();
    f();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) f();
    return (performance.now() - t0) / n;
  };
  const reps = B >= 1024 ? 2 : 8;
  const forward_ms = time(() => void fwd(tree.ref(state.params), xs(), keyFromWords(1, 2)).dataSync(), reps);
  const forward_backward_ms = time(() => {
    const [l, g] = fwdBwd(tree.ref(state.params), xs(), keyFromWords(1, 2));
    l.dataSync();
    tree.dispose(g);
  }, reps);
  const runStep = () => {
    const out = step(state.params, state.opt, xs(), keyFromWords(3, 4));
    out.stats.dataSync();
    state.params = out.params;
    state.opt = out.opt;
  };
  const step_ms = time(runStep, reps);
  // one traced pass over a few steps: kernel time by category
  performance.clearMeasures();
  profiler.startTrace();
  const traced = reps;
  const t0 = performance.now();
  for (let i = 0; i < traced; i++) runStep();
  const wall = performance.now() - t0;
  profiler.stopTrace();
  const byCat: Record<string, number> = {};
  let total = 0;
  let count = 0;
  for (const e of performance.getEntriesByType("measure")) {
    const detail = (e as PerformanceMeasure).detail as { devtools?: { properties?: [string, string][] } } | undefined;
    const props = Object.fromEntries(detail?.devtools?.properties ?? []);
    const cat = kernelCategory(e.name, props);
    byCat[cat] = (byCat[cat] ?? 0) + e.duration / traced;
    total += e.duration / traced;
    count++;
  }
  byCat["host / dispatch (not in kernels)"] = Math.max(0, wall / traced - total);
  performance.clearMeasures();
  const matmulMs = byCat.matmul ?? 0;
  return {
    phases: { forward_ms, forward_backward_ms, step_ms },
    kernels: {
      total_ms: total,
      dispatches: count / traced,
      by_category: byCat,
      matmul_gflops: matmulMs > 0 ? flopsPerStep / (matmulMs * 1e6) : 0,
    },
  };
}

async function runTrainCase(spec: CaseSpec): Promise<TrainMeasure | Failure> {
  const B = spec.batch;
  const tc = trainConfig(B);
  const model = modelFor(spec.model);
  const x = batchData(B);
  const minSteps = B >= 8192 ? 1 : 3;
  let result: Awaited<ReturnType<typeof timeSteps>>;
  let extra: Partial<TrainMeasure> = {};
  if (spec.engine === "wasm" || spec.engine === "webgpu" || spec.engine === "pool") {
    const device = await initEngine(spec.engine === "webgpu" ? "webgpu" : "wasm");
    if (spec.engine === "webgpu" && device !== "webgpu") return { ok: false, reason: "no WebGPU adapter" };
    const step = makeTrainStep(model, tc);
    let state = initTrainState(model, 0);
    const async = spec.engine !== "wasm";
    result = await timeSteps(async (i) => {
      const out = step(state.params, state.opt, np.array(x).reshape([B, D]), keyFromWords(i, 7));
      if (async) await out.stats.data();
      else out.stats.dataSync();
      state = { ...state, params: out.params, opt: out.opt };
    }, spec.seconds, minSteps);
    if (spec.profile && spec.engine === "wasm") extra.profile = await profileWasm(model, B, stepFlopsPerExample(spec.model) * B);
  } else if (spec.engine === "workers") {
    await initEngine("wasm");
    const config = configFor(spec.model);
    const par = await makeParallelTrainStep(config, tc, spec.threads);
    const state = initTrainState(model, 0);
    await par.load(state.params, state.opt);
    try {
      result = await timeSteps(async (i) => void (await par.step(x, [i, 7])), spec.seconds, minSteps);
    } finally {
      await par.close();
    }
  } else {
    await initEngine("wasm");
    if (!(await loadOnnxRuntime())) return { ok: false, reason: `onnxruntime-node not available (${onnxRuntimeUnavailable()})` };
    const profileDir = spec.profile ? mkdtempSync(join(tmpdir(), "vaekit-ort-")) : null;
    const ort = await makeOnnxTrainStep(model, tc, { threads: spec.threads, noise: "graph", profilePrefix: profileDir ? join(profileDir, "ort") : undefined });
    const state = initTrainState(model, 0);
    ort.load(state.params, state.opt);
    result = await timeSteps(async () => void (await ort.step(x)), spec.seconds, minSteps);
    await ort.close();
    if (profileDir) {
      extra.profile = { ort_ops: ortProfile(profileDir, result.steps + 2), ort_nodes: ort.program.nodes };
      rmSync(profileDir, { recursive: true, force: true });
    }
  }
  return { ok: true, ...result, peak_rss_mib: peakRssMib(), ...extra };
}

/** Node time by operator from an ONNX Runtime profile, in ms per run. */
function ortProfile(dir: string, runs: number): Record<string, number> {
  const file = readdirSync(dir).find((f) => f.endsWith(".json"));
  if (!file) return {};
  const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as { cat?: string; name: string; dur: number; args?: { op_name?: string } }[];
  const byOp: Record<string, number> = {};
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const op = e.args?.op_name ?? "?";
    byOp[op] = (byOp[op] ?? 0) + e.dur / 1000 / runs;
  }
  return byOp;
}

async function runIwaeCase(spec: IwaeSpec) {
  await initEngine("wasm");
  const config = referenceConfig(LATENT);
  const model = buildVae(config);
  const params = model.init(random.key(0));
  const x = new Float32Array(spec.n * D);
  for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 3 === 0 ? 1 : 0;
  let run: (xs: Float32Array) => Promise<number | undefined>;
  if (spec.engine === "onnx") {
    if (!(await loadOnnxRuntime())) return { ok: false, reason: `onnxruntime-node not available (${onnxRuntimeUnavailable()})` };
    const iw = await makeOnnxIwae(config, { batch: 100, chunk: 100, threads: spec.threads });
    run = async (xs) => (await iw.evaluate(params, xs, spec.k)).iwae_nll;
  } else {
    const evaluate = makeEvaluator(model);
    run = async (xs) => (await evaluate(params, xs, { iwaeK: spec.k })).iwae_nll;
  }
  await run(x.slice(0, D)); // compile
  const c0 = cpuMs();
  const t0 = performance.now();
  const nll = await run(x);
  const seconds = (performance.now() - t0) / 1000;
  return {
    ok: true,
    engine: spec.engine,
    threads: spec.threads,
    n: spec.n,
    k: spec.k,
    seconds,
    samples_per_s: (spec.n * spec.k) / seconds,
    cpu_samples_per_s: (spec.n * spec.k) / ((cpuMs() - c0) / 1000),
    iwae_nll: nll,
    peak_rss_mib: peakRssMib(),
  };
}

async function child(spec: ChildSpec): Promise<unknown> {
  if (spec.kind === "probe-webgpu") {
    try {
      await initEngine("webgpu");
      // the adapter goes into the table: an emulated GPU (SwiftShader) must not pass for a real one
      return { ok: true, device: deviceSummary() };
    } catch (e) {
      return { ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
  }
  if (spec.kind === "iwae") return runIwaeCase(spec);
  return runTrainCase(spec);
}

// ---------------------------------------------------------------- parent: orchestration

interface Options {
  batches: number[];
  models: ModelName[];
  engines: Engine[];
  seconds: number;
  rounds: number;
  torch: boolean;
  python: string;
  iwaeN: number;
  out: string;
  timeout: number;
  quiet: boolean;
}

const SELF = fileURLToPath(import.meta.url);
const POLYFILL = fileURLToPath(new URL("../src/engine/parallelWasmThreads.js", import.meta.url));

function runChild(spec: ChildSpec, timeoutS: number, env: Record<string, string> = {}, preload?: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const args = [...(preload ? ["--import", preload] : []), SELF, "--child", JSON.stringify(spec)];
    const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (err = (err + d).slice(-3000)));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutS * 1000);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line));
      } catch {
        // the most telling line of a crash: the error itself, not the stack or Node's version banner
        const lines = err.trim().split("\n").filter((l) => l.trim() && !/^\s+at |^Node\.js v/.test(l));
        const why = signal === "SIGKILL" ? `timed out after ${timeoutS} s` : (lines.find((l) => /error|fatal|memory/i.test(l)) ?? lines.pop() ?? `exit ${code}`);
        resolve({ ok: false, crashed: signal !== "SIGKILL", reason: `crashed: ${why.trim()}`.slice(0, 200) });
      }
    });
  });
}

interface Row {
  model: ModelName;
  batch: number;
  engine: string;
  device: string;
  threads: number;
  vaekit: TrainMeasure | Failure;
  torch?: Record<string, unknown> | Failure;
}

const ENGINE_LABEL: Record<Engine, string> = {
  wasm: "jax-js wasm",
  workers: "jax-js wasm, data-parallel workers",
  pool: "jax-js wasm thread pool",
  onnx: "ONNX Runtime (compiled step)",
  webgpu: "jax-js WebGPU",
};

function log(o: Options, msg: string) {
  if (!o.quiet) process.stderr.write(msg + "\n");
}

function better<T extends { ok: boolean; ms_per_step?: number }>(a: T | undefined, b: T): T {
  if (!a || !a.ok) return b;
  if (!b.ok) return a;
  return (b.ms_per_step as number) < (a.ms_per_step as number) ? b : a;
}

async function main(o: Options) {
  const cores = availableParallelism();
  const started = new Date();
  const machine = {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores,
    memory_gib: +(totalmem() / 2 ** 30).toFixed(1),
    cpu_flags: cpuFlags(),
    node: process.version,
    v8: process.versions.v8,
    jax_js: packageVersion("@jax-js/jax"),
    onnxruntime_node: packageVersion("onnxruntime-node"),
    loadavg_start: loadavg().map((v) => +v.toFixed(2)),
    loadavg_end: [] as number[],
    torch: null as string | null,
    torch_blas: null as string | null,
  };
  const torchProbe = o.torch ? probeTorch(o.python) : null;
  if (torchProbe?.ok) {
    machine.torch = torchProbe.torchVersion;
    machine.torch_blas = torchProbe.blas;
  }
  const torchOk = !!torchProbe?.ok;
  const torchNote = !o.torch ? "skipped (--no-torch)" : torchProbe && !torchProbe.ok ? torchProbe.reason : "";

  log(o, "probing WebGPU…");
  const gpu = o.engines.includes("webgpu") ? await runChild({ kind: "probe-webgpu" }, 120) : { ok: false, reason: "not requested" };
  const gpuOk = gpu.ok === true;

  const rows: Row[] = [];
  const torchCache = new Map<string, Record<string, unknown> | Failure>();
  // the WebGPU rows compare with PyTorch on CUDA when the machine has it, the CPU rows with PyTorch on one core
  const torchCuda = !!torchProbe?.ok && torchProbe.cuda;
  const torchRun = async (model: ModelName, batch: number, device: "cpu" | "cuda") => {
    if (!torchOk) return { ok: false, reason: torchNote } as Failure;
    try {
      const args = ["step-time", "--model", model, "--batch-size", String(batch), "--seconds", String(o.seconds), "--warmup", batch >= 8192 ? "1" : "3", "--device", device];
      const r = await runTorchReference(o.python, args, { quiet: true });
      return { ok: true, ...r };
    } catch (e) {
      return { ok: false, reason: e instanceof Error ? e.message : String(e) } as Failure;
    }
  };
  for (const model of o.models) {
    for (const batch of o.batches) {
      const torchDevice = (e: Engine) => (e === "webgpu" && torchCuda ? "cuda" : "cpu");
      const keyOf = (e: Engine) => `${model}/${batch}/${torchDevice(e)}`;
      const cases: { engine: Engine; threads: number }[] = [];
      for (const engine of o.engines) {
        if (engine === "webgpu") cases.push({ engine, threads: 1 });
        else if (engine === "workers") cases.push({ engine, threads: Math.min(2, cores) }, ...(cores > 2 ? [{ engine, threads: cores }] : []));
        else if (engine === "pool") cases.push({ engine, threads: cores });
        else if (engine === "onnx") cases.push({ engine, threads: 1 }, { engine, threads: cores });
        else cases.push({ engine, threads: 1 });
      }
      for (const c of cases) {
        const label = `${model} B=${batch} ${ENGINE_LABEL[c.engine]} ×${c.threads}`;
        if (c.engine === "webgpu" && !gpuOk) {
          rows.push({ model, batch, engine: ENGINE_LABEL.webgpu, device: "webgpu", threads: 1, vaekit: { ok: false, reason: `not available: ${gpu.reason}` } });
          continue;
        }
        let best: TrainMeasure | Failure | undefined;
        for (let round = 0; round < o.rounds; round++) {
          log(o, `${label} (round ${round + 1}/${o.rounds})…`);
          const spec: CaseSpec = { kind: "train", engine: c.engine, model, batch, threads: c.threads, seconds: o.seconds, profile: batch === 128 && round === 0 && (c.engine === "wasm" || (c.engine === "onnx" && c.threads === 1)) };
          const env: Record<string, string> = c.engine === "pool" ? { VAEKIT_WASM_THREADS: String(c.threads) } : {};
          let r = (await runChild(spec, o.timeout, env, c.engine === "pool" ? POLYFILL : undefined)) as unknown as TrainMeasure | (Failure & { crashed?: boolean });
          if (!r.ok && r.crashed) {
            log(o, `  crashed (${r.reason}); once more…`);
            r = (await runChild(spec, o.timeout, env, c.engine === "pool" ? POLYFILL : undefined)) as unknown as TrainMeasure | Failure;
          }
          const prof = best && best.ok ? best.profile : undefined;
          best = better(best, r);
          if (best.ok && prof && !best.profile) best.profile = prof;
          // PyTorch in the same rounds, alternating with vaekit
          const key = keyOf(c.engine);
          if (!torchCache.has(key) || round > 0) {
            log(o, `${model} B=${batch} PyTorch ${torchDevice(c.engine)} (round ${round + 1})…`);
            torchCache.set(key, better(torchCache.get(key) as never, (await torchRun(model, batch, torchDevice(c.engine))) as never));
          }
          if (!r.ok) break;
        }
        rows.push({ model, batch, engine: ENGINE_LABEL[c.engine], device: c.engine === "webgpu" ? String(gpu.device) : c.engine === "onnx" ? "cpu (native)" : "wasm", threads: c.threads, vaekit: best!, torch: torchCache.get(keyOf(c.engine)) });
      }
    }
  }

  log(o, "IWAE evaluation throughput…");
  const iwae: Record<string, unknown>[] = [];
  iwae.push(await runChild({ kind: "iwae", engine: "wasm", threads: 1, n: o.iwaeN, k: 1000 }, o.timeout));
  if (o.engines.includes("onnx")) {
    for (const threads of [...new Set([1, cores])]) iwae.push(await runChild({ kind: "iwae", engine: "onnx", threads, n: 200, k: 1000 }, o.timeout));
  }
  let torchIwae: Record<string, unknown> | Failure = { ok: false, reason: torchNote };
  if (torchOk) torchIwae = await torchEvalThroughput(o);
  machine.loadavg_end = loadavg().map((v) => +v.toFixed(2));

  const report = { date: started.toISOString(), machine, options: o, rows, iwae, torch_iwae: torchIwae, flops_per_example: { mlp: stepFlopsPerExample("mlp"), conv: stepFlopsPerExample("conv") } };
  await writeFileAtomic(join(o.out, "speed.json"), JSON.stringify(report, null, 2) + "\n");
  const md = renderMarkdown(report as unknown as Parameters<typeof renderMarkdown>[0]);
  await writeFileAtomic(join(o.out, "speed.md"), md);
  process.stdout.write(md);
}

async function torchEvalThroughput(o: Options): Promise<Record<string, unknown> | Failure> {
  const dir = mkdtempSync(join(tmpdir(), "vaekit-speed-"));
  try {
    await initEngine("wasm");
    const model = buildVae(referenceConfig(LATENT));
    const params = model.init(random.key(0));
    const n = 100;
    const x = new Float32Array(n * D);
    for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 3 === 0 ? 1 : 0;
    writeRawF32(join(dir, "test.f32"), x);
    const st = await toStateDict(params);
    await writeFileAtomic(join(dir, "w.safetensors"), encodeSafetensors(st));
    const r = await runTorchReference(o.python, ["eval", "--weights", join(dir, "w.safetensors"), "--test", join(dir, "test.f32"), "--iwae-k", "1000"], { quiet: true });
    return { ok: true, ...r };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cpuFlags(): string {
  try {
    const flags = new Set(readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1].trim().split(/\s+/) ?? []);
    return ["avx512f", "avx2", "fma", "avx", "sse4_2"].filter((f) => flags.has(f)).join(" ");
  } catch {
    return "unknown";
  }
}

function packageVersion(name: string): string | null {
  const p = fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url));
  return existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as { version: string }).version : null;
}

// ---------------------------------------------------------------- report

const f1 = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const fk = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));

function renderMarkdown(r: {
  date: string;
  machine: Record<string, unknown>;
  options: Options;
  rows: Row[];
  iwae: Record<string, unknown>[];
  torch_iwae: Record<string, unknown>;
  flops_per_example: Record<ModelName, number>;
}): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push("# vaekit training speed vs PyTorch", "");
  lines.push(
    `Machine: ${m.cpu}, ${m.cores} cores (${m.cpu_flags}), ${m.memory_gib} GiB; Node ${m.node} (V8 ${m.v8}); @jax-js/jax ${m.jax_js}; onnxruntime-node ${m.onnxruntime_node ?? "not installed"}; ` +
      `PyTorch ${m.torch ?? "not available"}${m.torch_blas ? ` (${m.torch_blas}, 1 thread)` : ""}. ` +
      `Load average ${(m.loadavg_start as number[]).join("/")} at start, ${(m.loadavg_end as number[]).join("/")} at end (${r.date}).`,
    "",
  );
  lines.push(
    "One Adam training step on a batch of 28×28 images (dynamic binarisation, one posterior sample). " +
      `Each figure is the best of ${r.options.rounds} round(s) of ≥ ${r.options.seconds} s, each in a fresh process; PyTorch runs between the vaekit measurements, single-threaded. ` +
      "samples/s = batch ÷ wall time per step; CPU ms = user + system CPU time per step of the measuring process (steadier than wall time when other processes share the cores). " +
      "Ratio = vaekit samples/s ÷ PyTorch samples/s (wall; CPU-time ratio in brackets). Peak memory is the process's maximum resident set.",
    "",
  );
  for (const model of r.options.models) {
    const title = model === "mlp" ? "Reference MLP VAE 784-400-200-20 (Bernoulli)" : "Conv VAE: conv 1→32→64 (k4 s2) → 20, mirrored transposed convs";
    lines.push(`## ${title}`, "", `${(r.flops_per_example[model] / 1e6).toFixed(1)} MFLOP per example per step (matmuls only).`, "");
    lines.push("| batch | engine | device | threads | ms/step | samples/s | CPU ms/step | peak MiB | PyTorch ms/step | PyTorch samples/s | PyTorch CPU ms | PyTorch peak MiB | ratio (CPU) |");
    lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const row of r.rows.filter((x) => x.model === model)) {
      const t = row.torch as (Record<string, number> & { ok: boolean; reason?: string }) | undefined;
      const torchCells = t?.ok
        ? [`${f1(t.ms_per_step)}${(t as { device?: string }).device === "cuda" ? " (CUDA)" : ""}`, fk((row.batch * 1000) / t.ms_per_step), t.cpu_ms_per_step ? f1(t.cpu_ms_per_step) : "–", f1(t.peak_rss_mib)]
        : [t ? `n/a: ${(t as Failure).reason}` : "n/a", "", "", ""];
      const v = row.vaekit;
      if (!v.ok) {
        lines.push(`| ${row.batch} | ${row.engine} | ${row.device} | ${row.threads} | ${v.reason} | | | | ${torchCells.join(" | ")} | |`);
        continue;
      }
      const ratio = t?.ok ? `${(t.ms_per_step / v.ms_per_step).toFixed(2)}×` : "";
      const cpuRatio = t?.ok && t.cpu_ms_per_step ? ` (${(t.cpu_ms_per_step / v.cpu_ms_per_step).toFixed(2)}×)` : "";
      lines.push(
        `| ${row.batch} | ${row.engine} | ${row.device} | ${row.threads} | ${f1(v.ms_per_step)} | ${fk((row.batch * 1000) / v.ms_per_step)} | ${f1(v.cpu_ms_per_step)} | ${f1(v.peak_rss_mib)} | ${torchCells.join(" | ")} | ${ratio}${cpuRatio} |`,
      );
    }
    lines.push("");
    lines.push(...boundNotes(r, model), "");
  }
  lines.push(...speedupNotes(r), "");
  lines.push("## IWAE evaluation (reference MLP, k = 1000)", "");
  const ti = r.torch_iwae as Record<string, number> & { ok: boolean; reason?: string };
  const proj = (rate: number) => {
    const h = (5000 * 10000) / rate / 3600;
    return h >= 1 ? `${h.toFixed(1)} h` : `${(h * 60).toFixed(0)} min`;
  };
  lines.push("| system | threads | images | importance samples/s | per CPU-second | k = 5000 × 10,000 images (projected) |", "|---|---|---|---|---|---|");
  for (const iw of r.iwae as (Record<string, number> & { ok: boolean; engine: string; reason?: string })[]) {
    const label = iw.engine === "onnx" ? "vaekit, ONNX Runtime" : "vaekit, jax-js wasm";
    if (!iw.ok) lines.push(`| ${label} | | | failed: ${iw.reason} | | |`);
    else lines.push(`| ${label} | ${iw.threads} | ${iw.n} | ${fk(iw.samples_per_s)} | ${fk(iw.cpu_samples_per_s)} | ${proj(iw.samples_per_s)} |`);
  }
  if (ti.ok) lines.push(`| PyTorch | 1 | ${ti.n} | ${fk(ti.eval_samples_per_s)} | | ${proj(ti.eval_samples_per_s)} |`);
  else lines.push(`| PyTorch | | | n/a: ${ti.reason} | | |`);
  lines.push("");
  return lines.join("\n");
}

/** What bounds the speed: the profile of the batch-128 rows, in words and numbers. */
function boundNotes(r: { rows: Row[]; flops_per_example: Record<ModelName, number> }, model: ModelName): string[] {
  const out: string[] = [];
  const rows = r.rows.filter((x) => x.model === model && x.batch === 128);
  const target = model === "mlp" ? 1.0 : 0.5;
  const torch = rows[0]?.torch as (Record<string, number> & { ok: boolean }) | undefined;
  const flops = r.flops_per_example[model] * 128;
  if (torch?.ok) {
    out.push(`**Target at batch 128: ≥ ${target.toFixed(1)}× PyTorch.** PyTorch (OpenBLAS, AVX2+FMA, 8 floats per instruction) reaches ${(flops / (torch.ms_per_step * 1e6)).toFixed(1)} GFLOP/s over its whole step (wall) here.`);
  }
  // the GPU target: WebGPU against PyTorch on CUDA at the largest batch (when the machine has both)
  const gpuRow = r.rows.filter((x) => x.model === model && x.vaekit.ok && (x.torch as { device?: string } | undefined)?.device === "cuda").at(-1);
  if (gpuRow?.vaekit.ok) {
    const t = gpuRow.torch as Record<string, number> & { gpu?: string };
    const ratio = t.ms_per_step / gpuRow.vaekit.ms_per_step;
    const want = model === "mlp" ? " (target ≥ 0.5×: " + (ratio >= 0.5 ? "met" : "missed") + ")" : "";
    out.push(`**GPU, batch ${gpuRow.batch}:** jax-js WebGPU on ${gpuRow.device} runs at ${ratio.toFixed(2)}× PyTorch CUDA on ${t.gpu ?? "the GPU"}${want}.`);
  }
  for (const row of rows) {
    if (!row.vaekit.ok || !row.vaekit.profile) continue;
    const p = row.vaekit.profile;
    const ratio = torch?.ok ? torch.ms_per_step / row.vaekit.ms_per_step : NaN;
    const met = Number.isFinite(ratio) ? (ratio >= target ? "meets the target" : "misses the target") : "";
    if (p.phases && p.kernels) {
      const k = p.kernels;
      const cats = Object.entries(k.by_category).sort((a, b) => b[1] - a[1]).map(([c, ms]) => `${c} ${f1(ms)} ms`).join(", ");
      out.push(
        `- ${row.engine} (${met}${Number.isFinite(ratio) ? `, ${ratio.toFixed(2)}×` : ""}): forward ${f1(p.phases.forward_ms)} ms, forward+backward ${f1(p.phases.forward_backward_ms)} ms, whole step with Adam ${f1(p.phases.step_ms)} ms. ` +
          `Per step ${k.dispatches.toFixed(0)} kernel dispatches: ${cats}. The matmul kernels run at ${k.matmul_gflops.toFixed(1)} GFLOP/s: ` +
          "the engine's generated wasm uses 128-bit SIMD (4 floats, separate multiply and add: no FMA in Node 20's wasm) in dot-product loops, a quarter of the FLOPs per instruction of the native AVX2/FMA GEMM, " +
          "and weight-gradient matmuls read one operand with a stride (x transposed), which is slower still. This is the bound of the wasm engine, not of the model code.",
      );
    }
    if (p.ort_ops) {
      const total = Object.values(p.ort_ops).reduce((a, b) => a + b, 0);
      const top = Object.entries(p.ort_ops).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([op, ms]) => `${op} ${f1(ms)} ms`).join(", ");
      const op = (...names: string[]) => names.reduce((t, n) => t + (p.ort_ops![n] ?? 0), 0);
      const gemm = op("Gemm", "MatMul", "FusedMatMul", "Conv", "ConvTranspose");
      const layout = op("Transpose");
      out.push(
        `- ${row.engine} ×${row.threads} (${met}${Number.isFinite(ratio) ? `, ${ratio.toFixed(2)}×` : ""}): ${p.ort_nodes} ONNX nodes; node time ${f1(total)} ms per step (wall time of each node, so it includes waiting for the CPU on a loaded machine): ${top}. ` +
          `Matrix kernels (Gemm${model === "conv" ? ", Conv, ConvTranspose" : ""}) ${f1(gemm)} ms (${gemm > 0 ? (flops / (gemm * 1e6)).toFixed(1) : "–"} GFLOP/s, native MLAS kernels, AVX2/FMA); the rest is element-wise work that ONNX Runtime's CPU provider does not fuse ` +
          "(one pass over memory per op: ReLU masks and their gradients, the Bernoulli log-likelihood)" +
          (model === "conv" && layout > 1 ? `, and ${f1(layout)} ms of Transpose copies between the model's NHWC activations and the NCHW layout of ONNX convolutions` : "") +
          ". Adam runs outside the graph as one SIMD pass over the parameters (optimWasm.ts).",
      );
    }
  }
  return out;
}

function speedupNotes(r: { rows: Row[] }): string[] {
  const out = ["## Multi-core speed-up (same batch, vaekit engines)", "", "| model | batch | engine | threads | ms/step | speed-up vs 1 thread (wall) | speed-up (CPU ms) |", "|---|---|---|---|---|---|---|"];
  for (const row of r.rows) {
    if (!row.vaekit.ok || row.threads === 1) continue;
    const base = r.rows.find((x) => x.model === row.model && x.batch === row.batch && x.threads === 1 && (row.engine.startsWith("ONNX") ? x.engine.startsWith("ONNX") : x.engine === ENGINE_LABEL.wasm));
    if (!base || !base.vaekit.ok) continue;
    out.push(
      `| ${row.model} | ${row.batch} | ${row.engine} | ${row.threads} | ${f1(row.vaekit.ms_per_step)} | ${(base.vaekit.ms_per_step / row.vaekit.ms_per_step).toFixed(2)}× | ${(base.vaekit.cpu_ms_per_step / row.vaekit.cpu_ms_per_step).toFixed(2)}× |`,
    );
  }
  out.push(
    "",
    "Speed-up in wall time is only meaningful when the cores are otherwise idle (see the load average above); the CPU-ms column shows the extra work the threads cost (< 1× = more total CPU than one thread).",
  );
  return out;
}

// ---------------------------------------------------------------- entry

const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean);

async function entry() {
  const argv = process.argv;
  const ci = argv.indexOf("--child");
  if (ci >= 0) {
    const spec = JSON.parse(argv[ci + 1]) as ChildSpec;
    const result = await child(spec).catch((e: unknown) => ({ ok: false, reason: e instanceof Error ? e.message.split("\n")[0] : String(e) }));
    process.stdout.write(JSON.stringify(result) + "\n");
    process.exit(0); // the wasm thread pool and worker threads would keep the process alive
  }
  const program = new Command("bench-speed")
    .description("vaekit vs PyTorch training-step throughput, per engine/device/batch; writes results/speed.md and .json")
    .option("--batches <list>", "batch sizes", "128,1024,8192")
    .option("--models <list>", "mlp,conv", "mlp,conv")
    .option("--engines <list>", "wasm,workers,pool,onnx,webgpu", "wasm,workers,pool,onnx,webgpu")
    .option("--seconds <s>", "time per measurement", "3")
    .option("--rounds <n>", "measurements per row (best kept)", "1")
    .option("--iwae-n <n>", "images in the IWAE throughput run", "64")
    .option("--timeout <s>", "limit per measurement process", "600")
    .option("--quick", "batch 128 only, 1.5 s per measurement", false)
    .option("--no-torch", "skip PyTorch")
    .option("--python <path>", "Python with torch", defaultPython())
    .option("--out <dir>", "output directory", "results")
    .option("--quiet", "no progress output", false);
  program.parse(argv);
  const raw = program.opts<Record<string, string | boolean>>();
  const o: Options = {
    batches: raw.quick ? [128] : list(raw.batches as string).map(Number),
    models: list(raw.models as string) as ModelName[],
    engines: list(raw.engines as string) as Engine[],
    seconds: raw.quick ? 1.5 : Number(raw.seconds),
    rounds: Number(raw.rounds),
    torch: raw.torch as boolean,
    python: raw.python as string,
    iwaeN: Number(raw.iwaeN),
    out: raw.out as string,
    timeout: Number(raw.timeout),
    quiet: raw.quiet as boolean,
  };
  await main(o);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await entry();
