/**
 * Which application a model file belongs to, read from its metadata (browser-safe): the page's
 * "Open model file…" routes a file to its view with it, and `vaekit serve` names the right flag
 * when a model is given to the wrong one.
 */
import { decodeSafetensors } from "../engine/index.js";
import { TEXT_MODEL_FORMAT } from "../apps/text/io.js";

export type ModelKind = "image" | "text" | "speech";

export const KIND_FLAGS: Record<ModelKind, string> = { image: "--model", text: "--text-model", speech: "--speech-model" };

/** "text" for a sentence VAE, "speech" for a VAE with speech settings, else "image" (any other vaekit VAE). */
export function modelKind(bytes: Uint8Array, source = "model file"): ModelKind {
  const { metadata } = decodeSafetensors(bytes, source);
  if (metadata.format === TEXT_MODEL_FORMAT) return "text";
  if (metadata.extras) {
    try {
      const extras = JSON.parse(metadata.extras) as Record<string, unknown> | null;
      if (extras && typeof extras === "object" && "speech" in extras) return "speech";
    } catch {
      // a malformed extras field is reported by the decoder that reads it
    }
  }
  return "image";
}
