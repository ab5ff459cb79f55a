/**
 * Load test of the scoring service, loopback only and bounded: starts `vaekit score-serve` on
 * 127.0.0.1 (a free port) as a child process, sends POST /score requests with autocannon for a
 * fixed time, and reports requests/s, examples/s, p50/p99 latency and failed requests (errors,
 * timeouts and non-2xx answers must all be 0). Writes results/anomaly-load.md and .json.
 *
 * Model: the bench's Fashion-MNIST VAE when `npm run bench:anomaly` has trained it, else a freshly
 * initialised reference VAE (the speed is the same; the scores are not meaningful then).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { initEngine, random } from "../src/engine/index.js";
import { loadDataset } from "../src/data/load.js";
import { referenceConfig } from "../src/models/config.js";
import { saveModel } from "../src/models/files.js";
import { buildVae } from "../src/models/vae.js";
import { writeFileAtomic } from "../src/io/atomic.js";
import { intArg } from "../src/cli/options.js";

interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  duration: number;
}
type Cannon = (opts: Record<string, unknown>) => Promise<CannonResult>;
const autocannon = createRequire(import.meta.url)("autocannon") as Cannon;

const o = new Command("bench:anomaly-load")
  .option("--model <dir>", "model to serve (default: the bench's Fashion-MNIST model if present)")
  .option("--duration <s>", "seconds of load", intArg(1), 10)
  .option("--connections <n>", "concurrent connections", intArg(1), 4)
  .option("--batch <n>", "examples per request", intArg(1), 16)
  .option("--score <kind>", "score kind", "neg-elbo")
  .option("--out <dir>", "results directory", "results")
  .parse(process.argv)
  .opts();

const log = (s: string) => process.stderr.write(s + "\n");
let modelDir: string = o.model ?? "runs/bench-anomaly/fmnist-e10";
let trained = existsSync(join(modelDir, "model.safetensors"));
if (!trained) {
  await initEngine("wasm");
  modelDir = mkdtempSync(join(tmpdir(), "vaekit-load-"));
  await saveModel(modelDir, { config: referenceConfig(20), params: buildVae(referenceConfig(20)).init(random.key(0)), extras: {} });
  log(`no trained model found: serving a freshly initialised reference VAE from ${modelDir}`);
}

const test = loadDataset("fashion-mnist", "test");
const D = 784;
const body = JSON.stringify({ examples: Array.from({ length: o.batch }, (_, i) => Array.from(test.x.subarray(i * D, (i + 1) * D), (v) => Number(v.toFixed(4)))), score: o.score });

const cli = join(import.meta.dirname, "../src/cli/main.js");
const server = spawn(process.execPath, [cli, "score-serve", "--model", modelDir, "--host", "127.0.0.1", "--port", "0", "--score", o.score], { stdio: ["ignore", "ignore", "pipe"] });
const url = await new Promise<string>((resolve, reject) => {
  let err = "";
  const timer = setTimeout(() => reject(new Error(`the server did not start within 120 s: ${err}`)), 120_000);
  server.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
    const m = /scoring service on (http:\/\/127\.0\.0\.1:\d+)\/score/.exec(err);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  });
  server.on("exit", (code) => reject(new Error(`the server exited (${code}): ${err}`)));
});
log(`server at ${url}; ${o.duration} s of load, ${o.connections} connections, ${o.batch} examples per request`);

let result: CannonResult;
try {
  result = await autocannon({
    url: `${url}/score`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    connections: o.connections,
    duration: o.duration,
    timeout: 30,
  });
} finally {
  server.kill("SIGTERM");
}

const failed = result.errors + result.timeouts + result.non2xx;
const summary = {
  model: trained ? modelDir : "freshly initialised reference VAE",
  score: o.score,
  batch: o.batch,
  connections: o.connections,
  duration_s: result.duration,
  requests: result.requests.total,
  requests_per_s: result.requests.average,
  examples_per_s: result.requests.average * o.batch,
  latency_ms: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.average, max: result.latency.max },
  failed_requests: failed,
  cpu_cores: cpus().length,
  load_average: loadavg()[0],
};
const md = [
  "# Scoring service load test (`node dist/bench/anomaly-load.js`)",
  "",
  `\`vaekit score-serve\` on 127.0.0.1, ${summary.connections} connections for ${o.duration} s (autocannon), each request POST /score with ${o.batch} Fashion-MNIST images as JSON, score ${o.score}; model: ${summary.model}. ${summary.cpu_cores} cores, load average ${summary.load_average.toFixed(1)} (shared machine).`,
  "",
  "| requests | requests/s | examples/s | p50 latency (ms) | p99 latency (ms) | failed requests |",
  "|---|---|---|---|---|---|",
  `| ${summary.requests} | ${summary.requests_per_s.toFixed(1)} | ${summary.examples_per_s.toFixed(0)} | ${summary.latency_ms.p50} | ${summary.latency_ms.p99} | ${failed} |`,
  "",
].join("\n");
writeFileAtomic(join(o.out, "anomaly-load.md"), md);
writeFileAtomic(join(o.out, "anomaly-load.json"), JSON.stringify(summary, null, 2) + "\n");
process.stdout.write(md);
if (failed > 0) {
  log(`${failed} failed requests`);
  process.exit(1);
}
process.exit(0);
