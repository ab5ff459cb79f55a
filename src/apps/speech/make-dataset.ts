/**
 * Command-line entry for generating the espeak-ng speech dataset (Node-only).
 *   node dist/src/apps/speech/make-dataset.js [--preset default|tiny] [--out DIR] [--concurrency N]
 * scripts/make-speech-dataset.sh builds the project and runs this.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { UsageError, VaekitError } from "../../errors.js";
import { DEFAULT_ESPEAK_SPEC, defaultSpeechCacheDir, generateEspeakDataset, TINY_ESPEAK_SPEC } from "./espeak.js";

export async function makeSpeechDatasetMain(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        preset: { type: "string", default: "default" },
        out: { type: "string" },
        concurrency: { type: "string", default: "2" },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const presets = { default: DEFAULT_ESPEAK_SPEC, tiny: TINY_ESPEAK_SPEC };
  const spec = presets[values.preset as keyof typeof presets];
  if (!spec) throw new UsageError(`--preset must be one of ${Object.keys(presets).join(", ")}, got ${values.preset}`);
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a positive integer, got ${values.concurrency}`);
  const out = values.out ?? (values.preset === "default" ? defaultSpeechCacheDir() : `${defaultSpeechCacheDir()}-${values.preset}`);
  const started = Date.now();
  const manifest = await generateEspeakDataset(spec, out, {
    concurrency,
    onProgress: (done, total) => {
      if (process.stderr.isTTY) process.stderr.write(`\rspeaking ${done}/${total}`);
    },
  });
  if (process.stderr.isTTY) process.stderr.write("\n");
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${manifest.entries.length} utterances (${spec.words.length} words × ${spec.voices.length} voices × ${spec.pitches.length} pitches × ${spec.speeds.length} speeds) in ${seconds} s; ${manifest.espeakVersion}`);
  console.log(`manifest: ${join(out, "manifest.json")}`);
}

// Run only when executed directly, not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  makeSpeechDatasetMain(process.argv.slice(2)).catch((err: unknown) => {
    if (err instanceof VaekitError) {
      console.error(`error: ${err.message}`);
      process.exit(err.exitCode);
    }
    throw err;
  });
}
