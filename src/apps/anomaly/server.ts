/** The standalone scoring service (Node): fastify + the /score routes, loopback by default. */
import Fastify, { type FastifyInstance } from "fastify";
import { makeDetector } from "./detector.js";
import type { AnomalyModel } from "./model-file.js";
import { DEFAULT_BODY_LIMIT, registerScoreRoutes, type ScoreRouteOptions } from "./routes.js";

export interface ScoreServerOptions extends ScoreRouteOptions {
  host?: string;
  port?: number;
}

/** Build the app (not listening): for tests with `inject` and for startScoreServer. */
export async function buildScoreApp(model: AnomalyModel, options: ScoreRouteOptions = {}): Promise<FastifyInstance> {
  const detector = options.detector ?? makeDetector(model);
  const app = Fastify({ logger: false, bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT });
  registerScoreRoutes(app, model, { ...options, detector });
  await app.ready();
  return app;
}

/** Listen on host:port (default 127.0.0.1, port 0 = any free port); compiles the default scorer first. */
export async function startScoreServer(model: AnomalyModel, options: ScoreServerOptions = {}): Promise<{ app: FastifyInstance; url: string; close: () => Promise<void> }> {
  const detector = options.detector ?? makeDetector(model);
  await detector.score("neg-elbo", new Float32Array(detector.inputDim)); // compile before the first request
  const app = await buildScoreApp(model, { ...options, detector });
  const address = await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 });
  return { app, url: address, close: () => app.close() };
}
