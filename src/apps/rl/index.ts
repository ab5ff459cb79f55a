// World Models-style RL on frames: environment, random rollouts, controllers, CMA-ES (browser-safe parts).
// File output (PNG/GIF on disk) is Node-only and lives in ./render.js.
export * from "./env.js";
export * from "./catch.js";
export * from "./frames.js";
export * from "./gif.js";
export * from "./rollouts.js";
export * from "./policy.js";
export * from "./evaluate.js";
export * from "./cmaes.js";
export * from "./train.js";
export * from "./world-model.js";
export * from "./pipeline.js";
