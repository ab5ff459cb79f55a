/**
 * Lets the engine's own wasm thread pool run in Node: the engine creates its SharedArrayBuffer
 * pool only when a browser-style `Worker` exists, which Node 20 lacks. This module provides one
 * on worker_threads (blob: URLs only, which is what the engine uses).
 *
 * It must run BEFORE the engine module loads (the wasm backend is built at import time), so load
 * it with `node --import ./dist/src/engine/parallelWasmThreads.js …`. The pool size comes from
 * VAEKIT_WASM_THREADS (default: the number of cores). Only asynchronous reads (`await x.data()`)
 * let kernels run in the pool; a process that used it must call process.exit() to end.
 */
import { Worker as NodeWorker } from "node:worker_threads";
import { resolveObjectURL } from "node:buffer";
import { availableParallelism } from "node:os";

/** Prepended to the pool's worker script: a `self`/`postMessage`/`onmessage` web-worker scope. */
const WORKER_SCOPE = `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (data) => parentPort.postMessage(data);
parentPort.on("message", (data) => { if (typeof self.onmessage === "function") self.onmessage({ data }); });
`;

class BlobWorker {
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;
  #worker: NodeWorker | null = null;
  #queued: unknown[] | null = [];

  constructor(url: string | URL) {
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`wasm thread pool: only blob: worker URLs are supported (got ${String(url).slice(0, 40)})`);
    void blob.text().then((source) => {
      const w = new NodeWorker(WORKER_SCOPE + source, { eval: true });
      w.unref(); // idle pool threads must not keep the process alive
      w.on("message", (data) => this.onmessage?.({ data }));
      w.on("error", (e) => (this.onerror ? this.onerror(e) : console.error("wasm thread pool worker failed:", e)));
      for (const m of this.#queued ?? []) w.postMessage(m);
      this.#queued = null;
      this.#worker = w;
    });
  }

  postMessage(message: unknown): void {
    if (this.#worker) this.#worker.postMessage(message);
    else this.#queued!.push(message);
  }

  terminate(): void {
    void this.#worker?.terminate();
  }
}

/** The pool size this module asks the engine for. */
export function wasmThreads(): number {
  const n = Number(process.env.VAEKIT_WASM_THREADS);
  return Number.isInteger(n) && n > 0 ? n : availableParallelism();
}

const g = globalThis as { Worker?: unknown; navigator?: { hardwareConcurrency?: number } };
if (typeof g.Worker === "undefined") g.Worker = BlobWorker;
if (typeof g.navigator === "undefined") {
  Object.defineProperty(globalThis, "navigator", { value: { hardwareConcurrency: wasmThreads() }, configurable: true, writable: true });
}
