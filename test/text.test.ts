/** Sentence VAE: tokenizers, corpus limits, batching/masking, remedies, objective and model files. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { initEngine, jitted, keyFromWords, logMeanExp, np, random, tree, type Array as DeviceArray } from "../src/engine/index.js";
import { Rng } from "../src/data/rng.js";
import { VaekitError } from "../src/errors.js";
import { BOS, EOS, PAD, SPECIAL_TOKENS, Tokenizer, UNK } from "../src/apps/text/tokenizer.js";
import { corpusLines, prepareCorpus, splitCorpus } from "../src/apps/text/corpus.js";
import { applyWordDropout, makeBatch, type TextBatch } from "../src/apps/text/batch.js";
import { maskedSequenceLogProb } from "../src/apps/text/categorical.js";
import { decodeLogits, encode, initTextVae, parseTextVaeConfig, tanhViaSigmoid, type TextVaeConfig, type TextVaeParams } from "../src/apps/text/model.js";
import { klWeight, textElboTerms, textIwaeLogWeights, textLoss, type BatchArrays } from "../src/apps/text/objective.js";
import { activeUnits, evaluateText } from "../src/apps/text/evaluate.js";
import { decodeTextModel, encodeTextModel, flattenParams } from "../src/apps/text/io.js";
import { makeTextInference } from "../src/apps/text/inference.js";
import { readCorpus } from "../src/apps/text/files.js";

await initEngine("wasm");
const host = (a: DeviceArray) => [...(a.dataSync() as Float32Array)];

const FORTUNES = readCorpus("debian:fortunes").lines;

test("character tokenizer: decode(encode(s)) = s for every fortune line, ids stable through JSON", () => {
  const tok = Tokenizer.fit(FORTUNES, { kind: "char" });
  assert.deepEqual(tok.tokens.slice(0, 4), [...SPECIAL_TOKENS]);
  for (const line of FORTUNES) assert.equal(tok.decode(tok.encode(line)), line);
  const again = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
  assert.deepEqual(again.encode(FORTUNES[5]), tok.encode(FORTUNES[5]));
  // unseen characters become UNK; decoding stops at EOS and skips PAD/BOS
  assert.deepEqual(tok.encode("\u{1F600}"), [UNK]);
  const ids = tok.encode("ab");
  assert.equal(tok.decode([BOS, ...ids, EOS, ...tok.encode("zzz")]), "ab");
  assert.equal(tok.decode([PAD, ...ids, PAD]), "ab");
});

test("word tokenizer: vocabulary by frequency with UNK; round trip on canonically spaced sentences", () => {
  const train = ["The cat sat.", "The dog sat, too!", "A cat? (Yes) the end.", "the cat ran"];
  const tok = Tokenizer.fit(train, { kind: "word", lowercase: true, minCount: 2 });
  // "the" ×5, "cat" ×3, "sat" ×2, "." ×2 survive; singletons do not
  assert.deepEqual(tok.tokens.slice(4, 6), ["the", "cat"]);
  assert.ok(tok.tokens.includes("sat") && tok.tokens.includes("."));
  assert.ok(!tok.tokens.includes("dog"));
  assert.deepEqual(tok.split("Don't stop, (now)!"), ["don't", "stop", ",", "(", "now", ")", "!"]);
  const full = Tokenizer.fit(train, { kind: "word", minCount: 1 });
  for (const s of ["The cat sat.", "The dog sat, too!", "A cat? (Yes) the end."]) assert.equal(full.decode(full.encode(s)), s);
  assert.equal(tok.decode(tok.encode("the zebra sat.")), "the <unk> sat.");
  // ids → text → ids is the identity for any in-vocabulary sequence
  const ids = [4, 5, 6, 4, 5];
  assert.deepEqual(full.encode(full.decode(ids)), ids);
});

test("tokenizer JSON is validated with one clear error", () => {
  assert.throws(() => Tokenizer.fromJSON({ format: "other" }, "t.json"), (e: Error) => e instanceof VaekitError && /t.json: not a vaekit tokenizer/.test(e.message));
  assert.throws(() => Tokenizer.fromJSON({ format: "vaekit.tokenizer/1", kind: "char", tokens: ["a", "b"] }), /token 0 must be "<pad>"/);
  assert.throws(() => Tokenizer.fit([" ", ""], { kind: "word" }), /empty vocabulary/);
});

test("corpus: empty lines counted, length limit drops or truncates and says how many", () => {
  const { lines, empty } = corpusLines("one two\n\n  three   four  five \n   \nsix\n");
  assert.deepEqual(lines, ["one two", "three four five", "six"]);
  assert.equal(empty, 2);
  const tok = Tokenizer.fit(lines, { kind: "word", minCount: 1 });
  const dropped = prepareCorpus(lines, tok, 2, "drop", empty);
  assert.equal(dropped.report.tooLong, 1);
  assert.equal(dropped.report.dropped, 1);
  assert.equal(dropped.report.kept, 2);
  assert.deepEqual(dropped.lines, ["one two", "six"]);
  const cut = prepareCorpus(lines, tok, 2, "truncate");
  assert.equal(cut.report.truncated, 1);
  assert.equal(cut.report.kept, 3);
  assert.deepEqual([...cut.sequences[1]], tok.encode("three four"));
  assert.throws(() => corpusLines("\n \n", "x.txt"), /x.txt: no non-empty lines/);
});

test("seeded split: deterministic, disjoint, complete", () => {
  const items = Array.from({ length: 100 }, (_, i) => `s${i}`);
  const a = splitCorpus(items, 0.2, 3);
  const b = splitCorpus(items, 0.2, 3);
  const c = splitCorpus(items, 0.2, 4);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.validation, c.validation);
  assert.equal(a.validation.length, 20);
  assert.deepEqual([...a.train, ...a.validation].sort(), [...items].sort());
  assert.throws(() => splitCorpus(items, 100, 0), /cannot hold out 100/);
});

test("batch layout: targets = words + EOS, decoder inputs = BOS + words, mask covers exactly those", () => {
  const seqs = [Int32Array.from([7, 8, 9]), Int32Array.from([5])];
  const b = makeBatch(seqs, [0, 1], 5, 3); // T = 5 steps, 3 rows (one filler)
  const col = (a: ArrayLike<number>, r: number) => Array.from({ length: 5 }, (_, t) => a[t * 3 + r]);
  assert.deepEqual(col(b.targets, 0), [7, 8, 9, EOS, PAD]);
  assert.deepEqual(col(b.decoderInputs, 0), [BOS, 7, 8, 9, PAD]);
  assert.deepEqual(col(b.reversed, 0), [9, 8, 7, EOS, PAD]);
  assert.deepEqual(col(b.mask, 0), [1, 1, 1, 1, 0]);
  assert.deepEqual(col(b.targets, 1), [5, EOS, PAD, PAD, PAD]);
  assert.deepEqual(col(b.mask, 1), [1, 1, 0, 0, 0]);
  assert.deepEqual(col(b.mask, 2), [0, 0, 0, 0, 0]);
  assert.equal(b.tokens, 6);
  assert.equal(b.rows, 2);
  assert.throws(() => makeBatch([Int32Array.from([1, 2, 3, 4, 5])], [0], 5), /does not fit/);
});

test("KL annealing: linear warm-up from `start` to 1, constant without annealing", () => {
  const a = { kind: "linear" as const, warmupSteps: 100, start: 0 };
  assert.equal(klWeight(0, a), 0);
  assert.equal(klWeight(25, a), 0.25);
  assert.equal(klWeight(100, a), 1);
  assert.equal(klWeight(5000, a), 1);
  assert.ok(Math.abs(klWeight(50, { ...a, start: 0.2 }) - 0.6) < 1e-12);
  assert.equal(klWeight(0, { ...a, kind: "none" }), 1);
});

test("word dropout replaces real decoder inputs with UNK at the configured rate, nothing else", () => {
  const rng = new Rng(1);
  const seqs = Array.from({ length: 200 }, () => Int32Array.from({ length: 1 + rng.int(10) }, () => 4 + rng.int(20)));
  const batch = makeBatch(seqs, Int32Array.from(seqs.keys()), 12);
  const { batch: dropped, replaced, eligible } = applyWordDropout(batch, 0.3, new Rng(2));
  assert.equal(eligible, seqs.reduce((s, q) => s + q.length, 0));
  const rate = replaced / eligible;
  assert.ok(Math.abs(rate - 0.3) < 0.03, `rate ${rate}`);
  let changed = 0;
  for (let i = 0; i < batch.decoderInputs.length; i++) {
    if (dropped.decoderInputs[i] !== batch.decoderInputs[i]) {
      changed++;
      assert.equal(dropped.decoderInputs[i], UNK);
      assert.notEqual(batch.decoderInputs[i], BOS);
      assert.notEqual(batch.decoderInputs[i], PAD);
    }
  }
  assert.equal(changed, replaced);
  assert.deepEqual(dropped.targets, batch.targets);
  assert.deepEqual(dropped.mask, batch.mask);
  assert.equal(applyWordDropout(batch, 0, new Rng(3)).replaced, 0);
  assert.equal(applyWordDropout(batch, 1, new Rng(3)).replaced, eligible);
  assert.throws(() => applyWordDropout(batch, 1.5, new Rng(3)), /word dropout must be in \[0, 1\]/);
});

const tinyConfig: TextVaeConfig = parseTextVaeConfig({ vocabSize: 12, maxTokens: 6, embedDim: 8, hiddenDim: 16, encoderHiddenDim: 12, latentDim: 3 });

/** A batch on the device, as the objective takes it (a tree: pass `tree.ref(d)` to keep it). */
function deviceBatch(b: TextBatch): BatchArrays {
  const shape = [b.steps, b.size];
  return {
    targets: np.array(b.targets, { dtype: np.int32 }).reshape(shape),
    reversed: np.array(b.reversed, { dtype: np.int32 }).reshape(shape),
    decoderInputs: np.array(b.decoderInputs, { dtype: np.int32 }).reshape(shape),
    mask: np.array(b.mask).reshape(shape),
  };
}

const sampleSeqs = [Int32Array.from([4, 5, 6]), Int32Array.from([7]), Int32Array.from([8, 9, 10, 11, 4, 5])];

test("masked categorical log-prob equals a host log-softmax sum over real positions only", () => {
  const T = 3, B = 2, V = 4;
  const rng = new Rng(5);
  const logits = Float32Array.from({ length: T * B * V }, () => rng.normal() * 2);
  const targets = Int32Array.from([1, 3, 2, 0, 0, 2]);
  const mask = Float32Array.from([1, 1, 1, 0, 0, 0]);
  const got = host(maskedSequenceLogProb(np.array(logits).reshape([T * B, V]), np.array(targets, { dtype: np.int32 }).reshape([T, B]), np.array(mask).reshape([T, B])));
  const want = [0, 0];
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const row = logits.subarray((t * B + b) * V, (t * B + b + 1) * V);
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      want[b] += mask[t * B + b] * (row[targets[t * B + b]] - lse);
    }
  }
  for (let b = 0; b < B; b++) assert.ok(Math.abs(got[b] - want[b]) < 1e-4, `${got[b]} vs ${want[b]}`);
});

test("padding never counts: changing padded targets and inputs leaves ELBO terms and loss identical", () => {
  const params = initTextVae(tinyConfig, random.key(3));
  const T = tinyConfig.maxTokens + 1;
  const batch = makeBatch(sampleSeqs, [0, 1, 2], T, 4);
  const scrambled: TextBatch = { ...batch, targets: batch.targets.slice(), reversed: batch.reversed.slice(), decoderInputs: batch.decoderInputs.slice() };
  const rng = new Rng(9);
  let touched = 0;
  for (let i = 0; i < batch.mask.length; i++) {
    if (batch.mask[i] === 0) {
      scrambled.targets[i] = 4 + rng.int(8);
      scrambled.reversed[i] = 4 + rng.int(8);
      scrambled.decoderInputs[i] = 4 + rng.int(8);
      touched++;
    }
  }
  assert.ok(touched > 10);
  const run = jitted((p: TextVaeParams, d: BatchArrays, w: DeviceArray, k: DeviceArray, beta: DeviceArray) => {
    const [loss, aux] = textLoss(p, tree.ref(d), w, k.ref, beta, 0.05);
    const terms = textElboTerms(p, d, k);
    return { loss, kl: aux.kl, recon: terms.recon };
  });
  const rows = np.array([1, 1, 1, 0]);
  const eval1 = (b: TextBatch) => {
    const d = deviceBatch(b);
    const o = run(tree.ref(params), d, rows.ref, keyFromWords(1, 2), np.array(0.7));
    return { loss: o.loss.item(), kl: o.kl.item(), recon: host(o.recon) };
  };
  const a = eval1(batch);
  const b = eval1(scrambled);
  assert.equal(a.loss, b.loss);
  assert.equal(a.kl, b.kl);
  assert.deepEqual(a.recon.slice(0, 3), b.recon.slice(0, 3));
  // and the filler row (rowWeight 0) does not move the loss: recompute with it holding a sentence
  const other = makeBatch([...sampleSeqs, Int32Array.from([9, 9])], [0, 1, 2, 3], T, 4);
  assert.equal(eval1(other).loss, a.loss);
});

test("free bits: the batch KL counts as at least λ, per dimension (Σ max(λ, KL_d)) or in total (max(λ, Σ KL_d))", () => {
  const params = initTextVae(tinyConfig, random.key(4));
  const T = tinyConfig.maxTokens + 1;
  const d = deviceBatch(makeBatch(sampleSeqs, [0, 1, 2], T));
  for (const scope of ["dimension", "total"] as const) {
    for (const lambda of [0, 0.01, 1, 100]) {
      const run = jitted((p: TextVaeParams, b: BatchArrays, k: DeviceArray) => {
        const terms = textElboTerms(p, tree.ref(b), k.ref);
        const [loss, aux] = textLoss(p, b, np.ones([3]), k, np.array(0.5), lambda, scope);
        return { loss, recon: aux.recon, kl: aux.kl, klDims: terms.kl!.mean(0) };
      });
      const o = run(tree.ref(params), tree.ref(d), keyFromWords(5, 6));
      const klDims = host(o.klDims);
      const total = klDims.reduce((s, v) => s + v, 0);
      const floored = lambda === 0 ? total : scope === "dimension" ? klDims.reduce((s, v) => s + Math.max(lambda, v), 0) : Math.max(lambda, total);
      const want = o.recon.item() + 0.5 * floored;
      const loss = o.loss.item();
      assert.ok(Math.abs(loss - want) < 1e-3 * Math.max(1, Math.abs(want)), `${scope} λ=${lambda}: ${loss} vs ${want}`);
      assert.ok(Math.abs(o.kl.item() - total) < 1e-4, "aux KL is the true KL");
    }
  }
});

test("IWAE log-weights average to −(E_q[−log p(x|z)] + KL), and their log-mean-exp is above that mean", () => {
  const params = initTextVae(tinyConfig, random.key(5));
  const T = tinyConfig.maxTokens + 1;
  const d = deviceBatch(makeBatch(sampleSeqs, [0, 1, 2], T));
  const k = 4000;
  const w = host(jitted((p: TextVaeParams, b: BatchArrays, key: DeviceArray) => textIwaeLogWeights(p, b, key, k))(tree.ref(params), tree.ref(d), keyFromWords(7, 8)));
  const kl = host(jitted((p: TextVaeParams, b: BatchArrays) => encode(p, b.targets, b.reversed, b.mask).klToStandardNormal())(tree.ref(params), tree.ref(d)));
  for (let b = 0; b < 3; b++) {
    const col = Array.from({ length: k }, (_, j) => w[j * 3 + b]);
    const mean = col.reduce((s, v) => s + v, 0) / k;
    assert.ok(logMeanExp(col) >= mean, "log-mean-exp ≥ mean (Jensen)");
    const elbo = -(estimateRecon(params, d, b) + kl[b]);
    assert.ok(Math.abs(mean - elbo) < 0.1, `sentence ${b}: mean log-weight ${mean} vs ELBO ${elbo}`);
  }
});

/** E_q[−log p(x|z)] for one sentence, from 2000 reparameterised draws in one batch. */
function estimateRecon(params: TextVaeParams, d: BatchArrays, row: number): number {
  const n = 2000;
  const T = d.targets.shape[0];
  const pick = (a: DeviceArray) => np.broadcastTo(a.ref.slice([], [row, row + 1]), [T, n]);
  const r = jitted((p: TextVaeParams, t: DeviceArray, rev: DeviceArray, di: DeviceArray, m: DeviceArray, key: DeviceArray) => {
    const q = encode(p, t.ref, rev, m.ref);
    const z = q.sample(key);
    return maskedSequenceLogProb(decodeLogits(p, z, di), t, m).mul(-1);
  })(tree.ref(params), pick(d.targets), pick(d.reversed), pick(d.decoderInputs), pick(d.mask), keyFromWords(21, row));
  const v = host(r);
  return v.reduce((s, x) => s + x, 0) / n;
}

test("tanh via the sigmoid matches np.tanh", () => {
  const x = np.linspace(-12, 12, 2001);
  const err = np.abs(tanhViaSigmoid(x.ref).sub(np.tanh(x))).max().item();
  assert.ok(err < 1e-6, `${err}`);
});

test("active units count dimensions whose posterior mean varies across sentences", () => {
  const L = 3;
  const rng = new Rng(2);
  const means = [Float32Array.from({ length: 500 * L }, (_, i) => (i % L === 0 ? rng.normal() : i % L === 1 ? 0.05 * rng.normal() : 0.3))];
  const { count, variances } = activeUnits(means, L);
  assert.equal(count, 1);
  assert.ok(Math.abs(variances[0] - 1) < 0.2 && variances[1] < 0.01 && variances[2] < 1e-9);
});

test("model file round trip keeps weights, tokenizer and behaviour; wrong files fail clearly", async () => {
  const tok = Tokenizer.fit(["abcdefgh"], { kind: "char" });
  const config = parseTextVaeConfig({ ...tinyConfig, vocabSize: tok.vocabSize });
  const params = initTextVae(config, random.key(6));
  const bundle = { config, params, tokenizer: tok, extras: { note: "x" } };
  const bytes = await encodeTextModel(bundle);
  const back = decodeTextModel(bytes, "m.safetensors");
  assert.deepEqual(back.config, config);
  assert.deepEqual(back.tokenizer.tokens, tok.tokens);
  assert.deepEqual(back.extras, { note: "x" });
  const a = flattenParams(params);
  const b = flattenParams(back.params);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) assert.deepEqual(host(v.ref), host(b.get(k)!.ref), k);
  const inf1 = makeTextInference(bundle);
  const inf2 = makeTextInference(back);
  assert.deepEqual((await inf2.encode(["abc", "hg"])).mu, (await inf1.encode(["abc", "hg"])).mu);
  assert.deepEqual((await inf2.sample(3, { seed: 4 })).texts, (await inf1.sample(3, { seed: 4 })).texts);
  // a text model's metadata names its format; other files are refused with the reason
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))));
  const wrong = new TextEncoder().encode(text.replace("vaekit.text-model/1", "vaekit.model/1____"));
  const corrupt = bytes.slice();
  corrupt.set(wrong, 8);
  assert.throws(() => decodeTextModel(corrupt, "m.safetensors"), /m.safetensors: not a vaekit text model/);
  assert.throws(() => decodeTextModel(bytes.subarray(0, 20), "cut.safetensors"), (e: Error) => e instanceof VaekitError && /cut.safetensors/.test(e.message));
});

test("evaluation of an untrained model: per-token bound = −ELBO/tokens and perplexity = exp of it", async () => {
  const tok = Tokenizer.fit(FORTUNES.slice(0, 200), { kind: "char" });
  const seqs = prepareCorpus(FORTUNES.slice(0, 40), tok, 20, "drop").sequences;
  const config = parseTextVaeConfig({ vocabSize: tok.vocabSize, maxTokens: 20, embedDim: 8, hiddenDim: 16, latentDim: 4 });
  const params = initTextVae(config, random.key(8));
  const m = await evaluateText(params, config, seqs, { batchSize: 16, iwaeK: 8 });
  const tokens = seqs.reduce((s, q) => s + q.length + 1, 0);
  assert.equal(m.tokens, tokens);
  assert.equal(m.sentences, seqs.length);
  assert.ok(Math.abs(m.nll_per_token - (m.neg_elbo * m.sentences) / tokens) < 1e-9);
  assert.ok(Math.abs(m.perplexity_bound - Math.exp(m.nll_per_token)) < 1e-9);
  assert.ok(Math.abs(m.neg_elbo - m.recon - m.kl) < 1e-9);
  // an untrained model is close to uniform over the vocabulary: per-token NLL ≈ log V
  assert.ok(Math.abs(m.nll_per_token - Math.log(tok.vocabSize)) < 0.5, `${m.nll_per_token} vs log V ${Math.log(tok.vocabSize)}`);
  assert.ok(m.iwae_nll! <= m.neg_elbo + 0.5);
});
