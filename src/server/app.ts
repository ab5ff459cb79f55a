/**
 * The HTTP side of the browser app (fastify). It serves the built page (only files inside the
 * web root), the model file, and optionally a labelled data set for the page's latent map.
 * The model runs in the page; the server computes nothing. Extra route plugins (for example the
 * anomaly scorer's POST /score) mount through `plugins` and get the same body limit and headers.
 */
import Fastify, { type FastifyInstance } from "fastify";
import fastifyStatic from "@fastify/static";
import { encodeIdx } from "../data/idx.js";
import type { Dataset } from "../data/datasets.js";
import { toByte } from "../io/image.js";
import type { ModelBundle } from "../models/io.js";

/** A route plugin: registers routes on the app for the served model. */
export type RoutePlugin = (app: FastifyInstance, bundle: ModelBundle) => void | Promise<void>;

export interface ServerOptions {
  /** Folder with the built page (index.html, app.js, style.css); nothing outside it is served. */
  webRoot: string;
  /** The model file's bytes (served as they are) and the parsed model (for plugins). */
  model: { bytes: Uint8Array; bundle: ModelBundle; name: string };
  /** Examples for the page's latent map, at the model's input shape. */
  map?: Dataset;
  /** Largest request body in bytes (default 1 MiB); larger requests get 413. */
  bodyLimit?: number;
  plugins?: RoutePlugin[];
  /**
   * Host names accepted in the Host header (default: localhost names only, which stops DNS
   * rebinding from reaching a server bound to 127.0.0.1); "any" when serving on purpose to a network.
   */
  allowedHosts?: readonly string[] | "any";
}

export const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "::1"];

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  // jax-js compiles its WebAssembly kernels at run time, hence 'wasm-unsafe-eval'
  "content-security-policy":
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

/** A dataset as IDX bytes: images [n, h, w, c] and labels [n] (bytes, 0..255). */
export function datasetToIdx(ds: Dataset): { images: Uint8Array; labels?: Uint8Array } {
  const bytes = Uint8Array.from(ds.x, toByte);
  const images = encodeIdx([ds.n, ...ds.shape], bytes);
  const fitsInByte = ds.labels && ds.labels.every((l) => l >= 0 && l < 256);
  return { images, labels: fitsInByte ? encodeIdx([ds.n], Uint8Array.from(ds.labels!)) : undefined };
}

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: options.bodyLimit ?? 1 << 20, logger: false });
  const hosts = options.allowedHosts ?? LOCAL_HOSTS;

  app.addHook("onRequest", async (request, reply) => {
    if (hosts !== "any" && !hosts.includes(request.hostname)) {
      return reply.code(403).send({ error: "forbidden", message: `host "${request.hostname}" is not served` });
    }
  });
  app.addHook("onSend", async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });

  await app.register(fastifyStatic, { root: options.webRoot, dotfiles: "ignore", index: "index.html" });

  const { model, map } = options;
  const mapIdx = map ? datasetToIdx(map) : undefined;
  const binary = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  app.get("/api/info", async () => ({
    model: model.name,
    map: map ? { name: map.name, n: map.n, shape: map.shape, labelled: !!mapIdx?.labels, classNames: map.classNames ?? null } : null,
  }));
  app.get("/model.safetensors", async (_request, reply) =>
    reply.type("application/octet-stream").header("cache-control", "no-store").send(binary(model.bytes)),
  );
  if (mapIdx) {
    app.get("/map/images.idx", async (_request, reply) => reply.type("application/octet-stream").send(binary(mapIdx.images)));
    const labels = mapIdx.labels;
    if (labels) app.get("/map/labels.idx", async (_request, reply) => reply.type("application/octet-stream").send(binary(labels)));
  }

  for (const plugin of options.plugins ?? []) await plugin(app, model.bundle);
  return app;
}
