/** `vaekit serve`: the browser app for one model, on 127.0.0.1 unless --host is given. */
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { Command } from "commander";
import { VaekitError } from "../../errors.js";
import { loadModel, modelPath } from "../../models/files.js";
import { loadImageData, trainingDataSpec } from "../../apps/images/files.js";
import type { RoutePlugin } from "../../server/app.js";
import { registerScoreRoutes } from "../../apps/anomaly/routes.js";
import { buildWebApp, webAppBuilt, WEB_ROOT } from "../../server/bundle.js";
import type { Dataset } from "../../data/datasets.js";
import { dataHelp } from "../common.js";
import { intArg } from "../options.js";

/** Route plugins mounted beside the app: the anomaly scorer serves POST /score. */
const EXTRA_ROUTES: RoutePlugin[] = [(app, bundle) => registerScoreRoutes(app, bundle)];

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve the browser app for a model (the model runs in the page, on WebGPU or WebAssembly)")
    .requiredOption("--model <path>", "model directory or .safetensors file")
    .option("--port <n>", "port (0: any free port)", intArg(0), 8080)
    .option("--host [address]", "listen on a network address instead of 127.0.0.1 (no value: all interfaces)")
    .option("--data <spec|folder>", `test examples for the latent map: ${dataHelp}; default: the model's training data`)
    .option("--map-size <n>", "examples on the latent map", intArg(1), 2000)
    .option("--no-map", "serve no data for the latent map")
    .option("--rebuild", "rebuild the page bundle first", false)
    .option("--quiet", "print only the address", false)
    .action(async (o) => {
      const path = modelPath(o.model);
      const bundle = loadModel(o.model); // validates the file before serving it
      const bytes = new Uint8Array(readFileSync(path));
      const map = o.map ? mapData(o.data, bundle, o.mapSize, o.quiet) : undefined;
      if (o.rebuild || !webAppBuilt()) {
        if (!o.quiet) process.stderr.write("building the page…\n");
        await buildWebApp();
      }
      const { createServer } = await import("../../server/app.js"); // fastify loads only for this command
      const host = o.host === undefined ? "127.0.0.1" : o.host === true ? "0.0.0.0" : (o.host as string);
      const app = await createServer({
        webRoot: WEB_ROOT,
        model: { bytes, bundle, name: basename(path) === "model.safetensors" ? basename(dirname(path)) : basename(path) },
        map,
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
function mapData(spec: string | undefined, bundle: Parameters<typeof trainingDataSpec>[0], limit: number, quiet: boolean): Dataset | undefined {
  try {
    return loadImageData(spec ?? trainingDataSpec(bundle), "test", bundle.config, limit);
  } catch (e) {
    if (spec !== undefined || !(e instanceof VaekitError)) throw e;
    if (!quiet) process.stderr.write(`no latent map: ${e.message}\n`);
    return undefined;
  }
}
