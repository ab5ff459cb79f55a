/**
 * Building the page: esbuild bundles web/app.ts (which imports the browser-safe library from src/)
 * into dist/web/app.js, next to copies of web/index.html and web/style.css.
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { VaekitError } from "../errors.js";

/** The repository root and the built page's folder, seen from dist/src/server/. */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));

const STATIC_FILES = ["index.html", "style.css"];

export function webAppBuilt(outDir = WEB_ROOT): boolean {
  return ["app.js", ...STATIC_FILES].every((f) => existsSync(join(outDir, f)));
}

/** Bundle the page into outDir (esbuild is a development dependency, loaded only here). */
export async function buildWebApp(outDir = WEB_ROOT, root = REPO_ROOT): Promise<void> {
  const source = join(root, "web");
  if (!existsSync(join(source, "app.ts"))) throw new VaekitError(`cannot build the browser app: ${source}/app.ts not found`);
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch {
    throw new VaekitError("the browser app is not built and esbuild is not installed; run `npm install` and `npm run build:web`");
  }
  mkdirSync(outDir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(source, "app.ts")],
    outfile: join(outDir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "error",
    // pngjs's default entry needs Node's zlib and streams; its browser build does not
    alias: { pngjs: join(root, "node_modules/pngjs/browser.js") },
  });
  for (const f of STATIC_FILES) copyFileSync(join(source, f), join(outDir, f));
}
