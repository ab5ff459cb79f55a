/**
 * The page's text view: a sentence VAE running here, in the page. Samples from the prior (token
 * temperature or greedy decoding), the reconstruction of a typed sentence, and the homotopy
 * between two typed sentences (Bowman et al. 2016): points on the line between their posterior
 * means, decoded greedily, so the two ends are exactly the sentences' reconstructions.
 */
import { tree } from "../src/engine/index.js";
import { VaekitError } from "../src/errors.js";
import { decodeTextModel, type TextModelBundle } from "../src/apps/text/io.js";
import { makeTextInference, type TextInference } from "../src/apps/text/inference.js";
import { latestOnly, serial } from "./jobs.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

interface TextSession {
  bundle: TextModelBundle;
  inf: TextInference;
  sampleSeed: number;
}

let session: TextSession | undefined;

/** Load a text model (bytes of a vaekit.text-model/1 file) into the view; rejects with VaekitError for a bad file. */
export async function useTextModel(bytes: Uint8Array, name: string): Promise<void> {
  const bundle = decodeTextModel(bytes, name);
  const old = session;
  if (old) void serial(async () => tree.dispose(old.bundle.params as never));
  const inf = makeTextInference(bundle);
  session = { bundle, inf, sampleSeed: 1 };
  const { config, tokenizer } = bundle;
  $("text-model-name").textContent =
    `${name} · ${tokenizer.kind} tokens, vocabulary ${tokenizer.vocabSize} · ${config.latentDim ? `${config.latentDim}-D latent` : "no latent (language model)"} · up to ${config.maxTokens} tokens`;
  for (const id of ["text-reconstruct", "text-interpolate"]) $<HTMLButtonElement>(id).disabled = !inf.hasLatent;
  await drawSamples();
  if (!inf.hasLatent) {
    $("text-recon-note").textContent = $("text-interp-note").textContent = "this model has no latent: it can only sample";
    return;
  }
  let examples: [string, string] = ["", ""];
  await serial(async () => {
    examples = await exampleSentences(inf);
  });
  const [a, b] = examples;
  input("text-input").value = a;
  input("text-a").value = a;
  input("text-b").value = b;
  await reconstruct();
  await interpolate();
}

/** Two sentences the model can read, to start the inputs with: greedy decodes of prior samples, without <unk> where possible. */
async function exampleSentences(inf: TextInference): Promise<[string, string]> {
  const texts = (await inf.sample(12, { seed: 0, greedy: true })).texts.filter((t) => t.trim() !== "");
  const known = texts.filter((t) => inf.tokenizer.unknownCount(t) === 0);
  const pool = [...new Set([...known, ...texts])];
  return [pool[0] ?? "", pool[1] ?? pool[0] ?? ""];
}

function drawSamples(): Promise<void> {
  const s = session;
  if (!s) return Promise.resolve();
  const n = Math.max(1, Math.min(50, Math.round(Number(input("text-count").value)) || 1));
  const temperature = Number(input("text-temperature").value);
  const greedy = input("text-greedy").checked;
  input("text-temperature").disabled = greedy;
  $("text-temperature-value").textContent = temperature.toFixed(2);
  const seed = s.sampleSeed;
  return latestOnly("samples", async () => {
    const { texts } = await s.inf.sample(n, { seed, temperature, greedy });
    const list = $("text-samples-out");
    list.replaceChildren(...texts.map((t) => item(t)));
    Object.assign(list.dataset, { seed: String(seed), temperature: String(temperature), greedy: String(greedy) });
  });
}

function item(sentence: string, t?: number): HTMLLIElement {
  const li = document.createElement("li");
  if (t !== undefined) {
    const label = document.createElement("span");
    label.className = "t";
    label.textContent = t.toFixed(2);
    li.dataset.t = String(t);
    li.append(label);
  }
  const text = document.createElement("span");
  text.className = "sentence";
  text.textContent = sentence;
  li.append(text);
  return li;
}

/** How a typed sentence reaches the model: its token count, unknown tokens and any cut. */
function inputNote(s: TextSession, sentence: string): string {
  const tokens = s.inf.tokenizer.split(sentence).length;
  const unknown = s.inf.tokenizer.unknownCount(sentence);
  const parts = [`${tokens} token${tokens === 1 ? "" : "s"}`];
  if (unknown) parts.push(`${unknown} unknown to the model (read as <unk>)`);
  if (tokens > s.bundle.config.maxTokens) parts.push(`cut to the model's ${s.bundle.config.maxTokens}`);
  return parts.join(", ");
}

/** Run `f`; a user error (an empty sentence, no known tokens) goes to the note instead of the status bar. */
async function guarded(noteId: string, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (err) {
    if (!(err instanceof VaekitError)) throw err;
    $(noteId).textContent = err.message;
    $(noteId).classList.add("error");
  }
}

function reconstruct(): Promise<void> {
  const s = session;
  if (!s?.inf.hasLatent) return Promise.resolve();
  const sentence = input("text-input").value;
  return latestOnly("reconstruct", async () => {
    $("text-recon-out").textContent = "";
    $("text-recon-note").classList.remove("error");
    await guarded("text-recon-note", async () => {
      $("text-recon-note").textContent = inputNote(s, sentence);
      $("text-recon-out").textContent = await s.inf.reconstruct(sentence);
    });
  });
}

function interpolate(): Promise<void> {
  const s = session;
  if (!s?.inf.hasLatent) return Promise.resolve();
  const steps = Number(input("text-steps").value);
  $("text-steps-value").textContent = String(steps);
  const [a, b] = [input("text-a").value, input("text-b").value];
  return latestOnly("interpolate", async () => {
    const list = $("text-interp-out");
    list.replaceChildren();
    $("text-interp-note").classList.remove("error");
    await guarded("text-interp-note", async () => {
      const path = await s.inf.interpolate(a, b, steps + 2);
      list.replaceChildren(...path.map((p) => item(p.text, p.t)));
      $("text-interp-note").textContent = `${steps} steps between the two sentences' posterior means; the ends are their reconstructions`;
    });
  });
}

/** Wire the controls; `onError` reports unexpected failures (the page's status line). */
export function wireTextView(onError: (err: unknown) => void): void {
  const on = (id: string, event: string, f: () => Promise<void>) =>
    $(id).addEventListener(event, async () => {
      try {
        if (session) await f();
      } catch (err) {
        onError(err);
      }
    });
  on("text-resample", "click", () => {
    session!.sampleSeed++;
    return drawSamples();
  });
  on("text-temperature", "input", drawSamples);
  on("text-greedy", "change", drawSamples);
  on("text-count", "change", drawSamples);
  on("text-reconstruct", "click", reconstruct);
  $("text-input").addEventListener("keydown", (e) => e.key === "Enter" && $("text-reconstruct").click());
  on("text-interpolate", "click", interpolate);
  on("text-steps", "input", interpolate);
  for (const id of ["text-a", "text-b"]) $(id).addEventListener("keydown", (e) => e.key === "Enter" && $("text-interpolate").click());
}
