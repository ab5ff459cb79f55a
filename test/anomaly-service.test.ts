/** The scoring service through fastify's inject (no sockets): good bodies score correctly, bad ones get 400 with a reason. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, random } from "../src/engine/index.js";
import { parseVaeConfig } from "../src/models/config.js";
import { buildVae } from "../src/models/vae.js";
import { Rng } from "../src/data/rng.js";
import { createImage } from "../src/io/image.js";
import { encodePng } from "../src/io/png.js";
import { makeDetector } from "../src/apps/anomaly/detector.js";
import { withCalibration } from "../src/apps/anomaly/calibration.js";
import { buildScoreApp } from "../src/apps/anomaly/server.js";
import { inferSchema, parseCsv, encodeTable } from "../src/apps/anomaly/tabular/table.js";
import { buildTabularVae } from "../src/apps/anomaly/tabular/model.js";
import type { AnomalyModel } from "../src/apps/anomaly/model-file.js";

await initEngine("wasm");

const config = parseVaeConfig({
  inputShape: [8, 8, 1],
  latentDim: 3,
  encoder: { type: "mlp", hidden: [16] },
  decoder: { type: "mlp", hidden: [16] },
  likelihood: { type: "bernoulli" },
});
const D = 64;
const params = buildVae(config).init(random.key(0));
const extras = withCalibration({}, { score: "neg-elbo", fpr: 0.1, threshold: 44.5, n: 100, fitted_fpr: 0.1, options: { samples: 2, seed: 0, binarize: "none" } });
const model: AnomalyModel = { type: "image", bundle: { config, params, extras } };
const detector = makeDetector(model, 16);
const app = await buildScoreApp(model, { maxBatch: 4, bodyLimit: 4096, detector });
const rng = new Rng(2);
const examples = Array.from({ length: 3 }, () => Array.from({ length: D }, () => Math.round(rng.uniform() * 100) / 100));
const post = (payload: unknown, query = "", contentType = "application/json") =>
  app.inject({ method: "POST", url: `/score${query}`, headers: { "content-type": contentType }, payload: typeof payload === "string" || payload instanceof Uint8Array ? Buffer.from(payload as Uint8Array) : JSON.stringify(payload) });

test("POST /score with a JSON array returns the detector's scores and flags from the stored threshold", async () => {
  const r = await post(examples);
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json();
  const want = await detector.score("neg-elbo", Float32Array.from(examples.flat()), { samples: 2, seed: 0, binarize: "none" });
  assert.equal(body.score, "neg-elbo");
  assert.equal(body.threshold, 44.5);
  assert.equal(body.n, 3);
  body.scores.forEach((s: number, i: number) => {
    assert.ok(Math.abs(s - want[i]) < 1e-4, `${s} vs ${want[i]}`);
    assert.equal(body.flags[i], want[i] > 44.5);
  });
});

test("the score kind can be chosen in the body or the query; uncalibrated kinds get null flags", async () => {
  const a = (await post({ examples, score: "iwae-nll" })).json();
  const b = (await post(examples, "?score=iwae-nll")).json();
  assert.equal(a.score, "iwae-nll");
  assert.deepEqual(a.scores, b.scores);
  assert.deepEqual(a.flags, [null, null, null]);
  const want = await detector.score("iwae-nll", Float32Array.from(examples.flat()));
  a.scores.forEach((s: number, i: number) => assert.ok(Math.abs(s - want[i]) < 1e-4));
  // nested rows (an h×w array) are flattened
  const nested = examples[0].reduce<number[][]>((rows, v, i) => (i % 8 ? rows[rows.length - 1].push(v) : rows.push([v]), rows), []);
  const c = (await post([nested], "?score=iwae-nll")).json();
  assert.ok(Math.abs(c.scores[0] - want[0]) < 1e-4);
});

test("a PNG body is decoded, fitted to the model's shape and scored", async () => {
  const image = createImage(8, 8, 1, Float32Array.from(examples[1].map((v) => Math.round(v * 255) / 255)));
  const r = await post(encodePng(image), "", "image/png");
  assert.equal(r.statusCode, 200, r.body);
  const want = await detector.score("neg-elbo", image.data, { samples: 2, seed: 0 });
  assert.ok(Math.abs(r.json().scores[0] - want[0]) < 1e-4);
});

test("bad bodies get 400 with a reason; too large a body gets 413", async () => {
  const bad = async (payload: unknown, pattern: RegExp, query = "", type = "application/json") => {
    const r = await post(payload, query, type);
    assert.equal(r.statusCode, 400, `${JSON.stringify(payload).slice(0, 40)} → ${r.statusCode} ${r.body}`);
    assert.match(r.json().error, pattern);
  };
  await bad("{not json", /JSON|Unexpected|token/i);
  await bad({ rows: [] }, /expected a JSON array of examples/);
  await bad([], /no examples/);
  await bad([[1, 2, 3]], /example 0: has 3 values, the model needs 64/);
  await bad([examples[0].map(() => 2)], /outside \[0, 1\]/);
  await bad([examples[0].map((v, i) => (i === 5 ? "x" : v))], /finite numbers/);
  await bad([{ a: 1 }], /expected an array of 64 values/);
  await bad([examples[0], examples[0], examples[0], examples[0], examples[0]], /batch of 5 examples exceeds the limit of 4/);
  await bad(examples, /unknown score "bogus"/, "?score=bogus");
  await bad(examples, /fpr must be a number in \(0, 1\)/, "?fpr=2");
  await bad(examples, /no neg-elbo threshold calibrated for FPR 0.05/, "?fpr=0.05");
  await bad(examples, /typicality score needs/, "?score=typicality");
  await bad(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]), /request body/i, "", "image/png");
  const big = await post(Array.from({ length: 4 }, () => examples[0].map(() => 0.12345678912345678)));
  assert.equal(big.statusCode, 413);
  const other = await app.inject({ method: "POST", url: "/score", headers: { "content-type": "text/plain" }, payload: "hello" });
  assert.equal(other.statusCode, 400);
  assert.match(other.json().error, /expected a JSON array of examples/);
});

test("GET /score describes the expected input; a tabular model scores JSON objects", async () => {
  const info = (await app.inject({ method: "GET", url: "/score" })).json();
  assert.equal(info.model, "image");
  assert.deepEqual(info.input.shape, [8, 8, 1]);
  assert.equal(info.max_batch, 4);
  assert.deepEqual(info.calibrations, [{ score: "neg-elbo", fpr: 0.1, threshold: 44.5 }]);

  const table = parseCsv("size,colour\n1.0,red\n2.0,blue\n3.0,red\n", "t.csv");
  const schema = inferSchema(table);
  const tConfig = { format: "vaekit.tabular-vae/1" as const, schema, latentDim: 2, hidden: [8] };
  const tModel: AnomalyModel = { type: "tabular", bundle: { config: tConfig, params: buildTabularVae(tConfig).init(random.key(1)), extras: {} } };
  const tDetector = makeDetector(tModel, 8);
  const tApp = await buildScoreApp(tModel, { detector: tDetector });
  const rows = [{ size: 1.5, colour: "red" }, { size: "2.5", colour: "blue" }];
  const r = await tApp.inject({ method: "POST", url: "/score", payload: rows });
  assert.equal(r.statusCode, 200, r.body);
  const want = await tDetector.score("neg-elbo", encodeTable(parseCsv("size,colour\n1.5,red\n2.5,blue\n", "w.csv"), schema).x);
  r.json().scores.forEach((s: number, i: number) => assert.ok(Math.abs(s - want[i]) < 1e-4));
  const bad = await tApp.inject({ method: "POST", url: "/score", payload: [{ size: 1, colour: "green" }] });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().error, /category "green" was not seen in training/);
  const missing = await tApp.inject({ method: "POST", url: "/score", payload: [{ colour: "red" }] });
  assert.equal(missing.statusCode, 400);
  assert.match(missing.json().error, /missing value/);
  await tApp.close();
  await app.close();
});
