/** Anomaly detection with VAEs: scores, calibrated thresholds, evaluation metrics, tabular VAEs (browser-safe parts). */
export * from "./metrics.js";
export * from "./scoring.js";
export * from "./calibration.js";
export * from "./latent-model.js";
export * from "./detector.js";
export * from "./model-file.js";
export * from "./compress.js";
export * from "./raster.js";
export * from "./tabular/table.js";
export * from "./tabular/model.js";
export * from "./tabular/train.js";
