/**
 * The HTTP side of the browser app (fastify). It serves the built page (only files inside the
 * web root) and the model files of its three views: an image model (optionally with a labelled
 * data set for the latent map), a text model, and a speech model with example utterances. Any of
 * them may be absent; /api/info says which views have a model. The models run in the page; the
 * server computes nothing. Extra route plugins (for example the anomaly scorer's POST /score) mount
 * through `plugins` for the image model and get the same body limit and headers.
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
  /** The image model file's bytes (served as they are) and the parsed model (for plugins). */
  model?: { bytes: Uint8Array; bundle: ModelBundle; name: string };
  /** Examples for the page's latent map, at the image model's input shape. */
  map?: Dataset;
  /** A text model file (vaekit.text-model/1), served as it is. */
  text?: { bytes: Uint8Array; name: string };
  /** A speech model file and example utterances (WAV files, served as they are). */
  speech?: { bytes: Uint8Array; name: string; examples?: readonly SpeechExample[] };
  /** Largest request body in bytes (default 1 MiB); larger requests get 413. */
  bodyLimit?: number;
  /** Routes for the image model; mounted only when one is served. */
  plugins?: RoutePlugin[];
  /**
   * Host names accepted in the Host header (default: localhost names only, which stops DNS
   * rebinding from reaching a server bound to 127.0.0.1); "any" when serving on purpose to a network.
   */
  allowedHosts?: readonly string[] | "any";
}

export interface SpeechExample {
  /** What the page lists, e.g. "three (en+f2, pitch 40)". */
  name: string;
  /** A WAV file's bytes. */
  bytes: Uint8Array;
}

/** GET /api/info: the served models and what the page can show. */
export interface ServerInfo {
  /** The image model's name (null: no image model). */
  model: string | null;
  map: { name: string; n: number; shape: number[]; labelled: boolean; classNames: string[] | null } | null;
  text: { model: string; url: string } | null;
  speech: { model: string; url: string; examples: { name: string; url: string }[] } | null;
  /** Which of the page's views have a model from the server. */
  views: { image: boolean; text: boolean; speech: boolean };
}

export const LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]", "::1"];

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  // jax-js compiles its WebAssembly kernels at run time, hence 'wasm-unsafe-eval'; the speech
  // view plays WAV bytes it made itself through blob: URLs, hence media-src blob:
  "content-security-policy":
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
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

  const { model, map, text, speech } = options;
  const mapIdx = model && map ? datasetToIdx(map) : undefined;
  const binary = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const serveBytes = (url: string, type: string, bytes: Uint8Array) =>
    app.get(url, async (_request, reply) => reply.type(type).header("cache-control", "no-store").send(binary(bytes)));

  const examples = (speech?.examples ?? []).map((e, i) => ({ ...e, url: `speech/examples/${i}.wav` }));
  const info: ServerInfo = {
    model: model?.name ?? null,
    map: mapIdx && map ? { name: map.name, n: map.n, shape: map.shape, labelled: !!mapIdx.labels, classNames: map.classNames ?? null } : null,
    text: text ? { model: text.name, url: "text/model.safetensors" } : null,
    speech: speech ? { model: speech.name, url: "speech/model.safetensors", examples: examples.map(({ name, url }) => ({ name, url })) } : null,
    views: { image: !!model, text: !!text, speech: !!speech },
  };
  app.get("/api/info", async () => info);

  if (model) serveBytes("/model.safetensors", "application/octet-stream", model.bytes);
  if (mapIdx) {
    app.get("/map/images.idx", async (_request, reply) => reply.type("application/octet-stream").send(binary(mapIdx.images)));
    const labels = mapIdx.labels;
    if (labels) app.get("/map/labels.idx", async (_request, reply) => reply.type("application/octet-stream").send(binary(labels)));
  }
  if (text) serveBytes("/text/model.safetensors", "application/octet-stream", text.bytes);
  if (speech) serveBytes("/speech/model.safetensors", "application/octet-stream", speech.bytes);
  for (const e of examples) serveBytes(`/${e.url}`, "audio/wav", e.bytes);

  if (model) for (const plugin of options.plugins ?? []) await plugin(app, model.bundle);
  return app;
}
