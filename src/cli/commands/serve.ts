/**
 * `vaekit serve`: the browser app for an image, text and/or speech model, on 127.0.0.1 unless
 * --host is given. Every model file is validated before the server starts.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Command } from "commander";
import { UsageError, VaekitError } from "../../errors.js";
import { decodeModel, type ModelBundle } from "../../models/io.js";
import { modelPath } from "../../models/files.js";
import { loadImageData, trainingDataSpec } from "../../apps/images/files.js";
import { decodeTextModel } from "../../apps/text/io.js";
import { defaultSpeechCacheDir } from "../../apps/speech/espeak.js";
import { decodeSpeechModel, type SpeechModelInfo } from "../../apps/speech/model.js";
import type { RoutePlugin, SpeechExample } from "../../server/app.js";
import { KIND_FLAGS, modelKind, type ModelKind } from "../../server/model-kind.js";
import { heldOutExamples, wavExamples } from "../../server/speech-examples.js";
import { registerScoreRoutes } from "../../apps/anomaly/routes.js";
import { buildWebApp, webAppBuilt, WEB_ROOT } from "../../server/bundle.js";
import type { Dataset } from "../../data/datasets.js";
import { dataHelp } from "../common.js";
import { intArg } from "../options.js";

/** Route plugins mounted beside the app for the image model: the anomaly scorer serves POST /score. */
const EXTRA_ROUTES: RoutePlugin[] = [(app, bundle) => registerScoreRoutes(app, bundle)];

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

interface ModelFile {
  path: string;
  bytes: Uint8Array;
  /** The folder's name for a model directory, else the file name. */
  name: string;
}

const KIND_NAMES: Record<ModelKind, { missing: string; article: string }> = {
  image: { missing: "model", article: "an image model" },
  text: { missing: "text model", article: "a text model" },
  speech: { missing: "speech model", article: "a speech model" },
};

/** Read a model file (or a directory's model.safetensors) and check it is the kind the flag serves. */
function readModelFile(pathOrDir: string, kind: ModelKind): ModelFile {
  const path = modelPath(pathOrDir);
  if (!existsSync(path)) throw new VaekitError(`${KIND_NAMES[kind].missing} not found: ${path}`);
  const bytes = new Uint8Array(readFileSync(path));
  const actual = modelKind(bytes, path);
  if (actual !== kind) throw new VaekitError(`${path} is ${KIND_NAMES[actual].article}; serve it with ${KIND_FLAGS[actual]}`);
  return { path, bytes, name: basename(path) === "model.safetensors" ? basename(dirname(path)) : basename(path) };
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve the browser app for an image, text and/or speech model (the models run in the page, on WebGPU or WebAssembly)")
    .option("--model <path>", "image model: directory or .safetensors file")
    .option("--text-model <path>", "text model (vaekit text train): directory or .safetensors file")
    .option("--speech-model <path>", "speech model (vaekit audio train): directory or .safetensors file")
    .option("--port <n>", "port (0: any free port)", intArg(0), 8080)
    .option("--host [address]", "listen on a network address instead of 127.0.0.1 (no value: all interfaces)")
    .option("--data <spec|folder>", `test examples for the image model's latent map: ${dataHelp}; default: the model's training data`)
    .option("--map-size <n>", "examples on the latent map", intArg(1), 2000)
    .option("--no-map", "serve no data for the latent map")
    .option("--speech-wav <file>", "a WAV file offered as an example utterance (repeat for more)", collect)
    .option("--speech-data <manifest|dir>", "speech dataset to take example utterances of held-out voices from (default: the generated espeak-ng set, if present)")
    .option("--speech-examples <n>", "example utterances taken from the speech dataset (0: none)", intArg(0), 6)
    .option("--rebuild", "rebuild the page bundle first", false)
    .option("--quiet", "print only the address", false)
    .action(async (o) => {
      o.speechWav ??= [];
      if (!o.model && !o.textModel && !o.speechModel) throw new UsageError("nothing to serve: give --model, --text-model and/or --speech-model");
      if (!o.model && o.data !== undefined) throw new UsageError("--data is the image model's latent map; give --model too");
      if (!o.speechModel && (o.speechWav.length || o.speechData !== undefined)) throw new UsageError("--speech-wav and --speech-data need --speech-model");
      const note = (text: string) => o.quiet || process.stderr.write(`${text}\n`);

      // validate every model before anything is built or served
      let image: (ModelFile & { bundle: ModelBundle }) | undefined;
      if (o.model) {
        const file = readModelFile(o.model, "image");
        image = { ...file, bundle: decodeModel(file.bytes, file.path) };
      }
      let text: ModelFile | undefined;
      if (o.textModel) {
        text = readModelFile(o.textModel, "text");
        decodeTextModel(text.bytes, text.path);
      }
      let speech: (ModelFile & { examples: SpeechExample[] }) | undefined;
      if (o.speechModel) {
        const file = readModelFile(o.speechModel, "speech");
        const { info } = decodeSpeechModel(file.bytes, file.path);
        speech = { ...file, examples: speechExamples(o, info, note) };
      }
      const map = image && o.map ? mapData(o.data, image.bundle, o.mapSize, note) : undefined;

      if (o.rebuild || !webAppBuilt()) {
        note("building the page…");
        await buildWebApp();
      }
      const { createServer } = await import("../../server/app.js"); // fastify loads only for this command
      const host = o.host === undefined ? "127.0.0.1" : o.host === true ? "0.0.0.0" : (o.host as string);
      const app = await createServer({
        webRoot: WEB_ROOT,
        model: image && { bytes: image.bytes, bundle: image.bundle, name: image.name },
        map,
        text: text && { bytes: text.bytes, name: text.name },
        speech: speech && { bytes: speech.bytes, name: speech.name, examples: speech.examples },
        plugins: EXTRA_ROUTES,
        allowedHosts: o.host === undefined ? undefined : "any",
      });
      let address: string;
      try {
        address = await app.listen({ port: o.port, host });
      } catch (e) {
        throw new VaekitError(`cannot listen on ${host}:${o.port}: ${(e as Error).message}`);
      }
      process.stdout.write(`vaekit app: ${address}/\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void app.close().then(() => resolve());
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}

/** The map's examples; a missing default dataset only turns the map off, an explicit --data must load. */
function mapData(spec: string | undefined, bundle: Parameters<typeof trainingDataSpec>[0], limit: number, note: (text: string) => void): Dataset | undefined {
  try {
    return loadImageData(spec ?? trainingDataSpec(bundle), "test", bundle.config, limit);
  } catch (e) {
    if (spec !== undefined || !(e instanceof VaekitError)) throw e;
    note(`no latent map: ${e.message}`);
    return undefined;
  }
}

/**
 * The speech view's example utterances: the --speech-wav files, and clips of held-out voices from
 * --speech-data (or, when no WAV is given, from the default espeak-ng set if it was generated).
 */
function speechExamples(o: { speechWav: string[]; speechData?: string; speechExamples: number }, info: SpeechModelInfo, note: (text: string) => void): SpeechExample[] {
  const examples = wavExamples(o.speechWav, info);
  if (o.speechExamples === 0 || (o.speechWav.length && o.speechData === undefined)) return examples;
  const folder = o.speechData ?? defaultSpeechCacheDir();
  const manifest = folder.endsWith(".json") ? folder : join(folder, "manifest.json");
  if (!existsSync(manifest)) {
    if (o.speechData !== undefined) throw new VaekitError(`no speech dataset at ${manifest}; generate it with "vaekit audio dataset --out ${folder}"`);
    note(`no example utterances (no speech dataset at ${manifest}); upload WAV files in the page or give --speech-wav`);
    return examples;
  }
  return [...examples, ...heldOutExamples(manifest, info, o.speechExamples)];
}
