/**
 * The scoring service: `POST /score` on a fastify instance (for `vaekit serve`, as the route
 * plugin `(app, bundle) => registerScoreRoutes(app, bundle)`, and the standalone
 * `vaekit score-serve`). Scoring runs in this process on the wasm engine. Registered as an encapsulated plugin, so its body parsers and
 * error handling do not leak into the rest of the app.
 *
 *   POST /score[?score=KIND&fpr=F]
 *     application/json: [example, …] or {"examples": [example, …], "score"?: KIND, "fpr"?: F}
 *       image model: an example is an array of h·w·c values in [0, 1] (nested arrays are flattened)
 *       tabular model: an example is an object {column: value}
 *     image/png or image/jpeg: one image, brought to the model's shape
 *   → 200 {"score", "fpr", "threshold", "n", "scores": [...], "flags": [true|false|null, ...]}
 *   → 400 {"error": reason} for a body that cannot be scored; 413 when over the body size limit.
 *   GET /score → what the service expects (model type, shape or columns, score kinds, calibrations).
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import { activeDevice, initEngine } from "../../engine/index.js";
import { VaekitError } from "../../errors.js";
import { decodeImage, fitTo, type Channels } from "../../io/image.js";
import type { ModelBundle } from "../../models/io.js";
import { pickCalibration, readCalibrations, optionsForCalibration, type Calibration } from "./calibration.js";
import { makeDetector, type Detector, type DetectorOptions } from "./detector.js";
import type { AnomalyModel } from "./model-file.js";
import { parseScoreKind, SCORE_KINDS, type ScoreKind } from "./scoring.js";
import { encodeTable, tableFromObjects } from "./tabular/table.js";

export interface ScoreRouteOptions {
  /** Score kind when the request names none (default: the model's only calibrated kind, else neg-elbo). */
  score?: ScoreKind;
  /** Calibrated false-positive rate whose threshold sets the flags (default: the kind's only one). */
  fpr?: number;
  /** Most examples per request (default 256). */
  maxBatch?: number;
  /** Largest request body in bytes (default 8 MiB). */
  bodyLimit?: number;
  /** Score options for kinds without a calibration (a calibration brings its own). */
  scoreOptions?: Partial<DetectorOptions>;
  /** Route prefix (default ""). */
  prefix?: string;
  /** A detector built already (shares compiled functions with the caller). */
  detector?: Detector;
}

export const DEFAULT_MAX_BATCH = 256;
export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

class BadRequest extends VaekitError {}

/** Keep the engine the host app started (any device); start wasm when it started none. */
async function ensureEngine(): Promise<void> {
  try {
    activeDevice();
  } catch {
    await initEngine("wasm");
  }
}

function toModel(m: AnomalyModel | ModelBundle): AnomalyModel {
  return "type" in m && (m.type === "image" || m.type === "tabular") ? m : { type: "image", bundle: m as ModelBundle };
}

function flattenNumbers(v: unknown, out: number[], where: string): void {
  if (Array.isArray(v)) {
    for (const e of v) flattenNumbers(e, out, where);
    return;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw new BadRequest(`${where}: values must be finite numbers, found ${JSON.stringify(v)}`);
  out.push(v);
}

/** Image examples (arrays of numbers) → n×D values, checked. */
function imageRows(examples: unknown[], D: number): Float32Array {
  const x = new Float32Array(examples.length * D);
  examples.forEach((ex, i) => {
    if (!Array.isArray(ex)) throw new BadRequest(`example ${i}: expected an array of ${D} values in [0, 1]`);
    const vals: number[] = [];
    flattenNumbers(ex, vals, `example ${i}`);
    if (vals.length !== D) throw new BadRequest(`example ${i}: has ${vals.length} values, the model needs ${D}`);
    vals.forEach((v, j) => {
      if (v < 0 || v > 1) throw new BadRequest(`example ${i}: value ${v} at index ${j} is outside [0, 1]`);
      x[i * D + j] = v;
    });
  });
  return x;
}

export function registerScoreRoutes(app: FastifyInstance, modelOrBundle: AnomalyModel | ModelBundle, options: ScoreRouteOptions = {}): void {
  const model = toModel(modelOrBundle);
  const detector = options.detector ?? makeDetector(model);
  const maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const cals = readCalibrations(model.bundle.extras);
  const defaultKind: ScoreKind = options.score ?? (new Set(cals.map((c) => c.score)).size === 1 ? cals[0].score : "neg-elbo");

  function parseExamples(body: unknown, contentType: string): Float32Array {
    if (contentType.startsWith("image/")) {
      if (model.type !== "image") throw new BadRequest("this model scores table rows; send JSON objects, not an image");
      const [h, w, c] = model.bundle.config.inputShape;
      let img;
      try {
        img = decodeImage(new Uint8Array(body as Buffer), "request body");
      } catch (e) {
        throw new BadRequest((e as Error).message);
      }
      return fitTo(img, [h, w, c as Channels]).data;
    }
    const examples = Array.isArray(body) ? body : (body as { examples?: unknown } | null)?.examples;
    if (!Array.isArray(examples)) throw new BadRequest('expected a JSON array of examples or {"examples": [...]}');
    if (examples.length === 0) throw new BadRequest("no examples in the request");
    if (examples.length > maxBatch) throw new BadRequest(`batch of ${examples.length} examples exceeds the limit of ${maxBatch}`);
    if (model.type === "image") return imageRows(examples, detector.inputDim);
    try {
      return encodeTable(tableFromObjects(examples, model.bundle.config.schema), model.bundle.config.schema, "error").x;
    } catch (e) {
      throw new BadRequest((e as Error).message);
    }
  }

  function chosen(query: Record<string, unknown>, body: unknown): { kind: ScoreKind; fpr?: number } {
    const fromBody = !Array.isArray(body) && typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
    const kindText = (query.score ?? fromBody.score) as string | undefined;
    let kind = defaultKind;
    if (kindText !== undefined) {
      try {
        kind = parseScoreKind(String(kindText));
      } catch (e) {
        throw new BadRequest((e as Error).message);
      }
    }
    const fprRaw = query.fpr ?? fromBody.fpr;
    const fpr = fprRaw === undefined ? options.fpr : Number(fprRaw);
    if (fpr !== undefined && !(fpr > 0 && fpr < 1)) throw new BadRequest(`fpr must be a number in (0, 1), got ${JSON.stringify(fprRaw)}`);
    return { kind, fpr };
  }

  const fail = (reply: FastifyReply, e: unknown) => {
    if (e instanceof VaekitError) return reply.code(400).send({ error: e.message });
    throw e;
  };

  app.register(
    async (scope) => {
      await ensureEngine();
      scope.addContentTypeParser(["image/png", "image/jpeg"], { parseAs: "buffer", bodyLimit }, (_req, body, done) => done(null, body));
      scope.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
        const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
        reply.code(code).send({ error: code === 500 ? "internal error while scoring" : err.message });
      });

      scope.get("/score", async () => ({
        model: model.type,
        input:
          model.type === "image"
            ? { shape: model.bundle.config.inputShape, values: "h·w·c numbers in [0, 1] per example, or one PNG/JPEG body" }
            : { columns: model.bundle.config.schema.columns.map((c) => (c.type === "numeric" ? { name: c.name, type: c.type } : { name: c.name, type: c.type, categories: c.categories })) },
        score: defaultKind,
        scores: SCORE_KINDS,
        calibrations: cals.map((c) => ({ score: c.score, fpr: c.fpr, threshold: c.threshold })),
        max_batch: maxBatch,
        body_limit: bodyLimit,
      }));

      scope.post("/score", { bodyLimit }, async (req, reply) => {
        try {
          const { kind, fpr } = chosen(req.query as Record<string, unknown>, req.body);
          const x = parseExamples(req.body, String(req.headers["content-type"] ?? ""));
          let cal: Calibration | undefined;
          try {
            cal = pickCalibration(cals, kind, fpr);
          } catch (e) {
            throw new BadRequest((e as Error).message);
          }
          const opts = cal ? optionsForCalibration(cal, {}) : (options.scoreOptions ?? {});
          const scores = await detector.score(kind, x, opts, cal?.reference);
          return {
            score: kind,
            fpr: cal?.fpr ?? null,
            threshold: cal?.threshold ?? null,
            n: scores.length,
            scores: Array.from(scores),
            flags: Array.from(scores, (s) => (cal ? s > cal.threshold : null)),
          };
        } catch (e) {
          return fail(reply, e);
        }
      });
    },
    { prefix: options.prefix ?? "" },
  );
}
