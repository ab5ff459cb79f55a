export * from "./jax.js";
export * from "./device.js";
export * from "./numerics.js";
export * from "./optim.js";
export * from "./safetensors.js";
export * from "./lowering.js";
