// Bundle the browser app into dist/web (run after `tsc -p .`): node web/build.mjs
import { buildWebApp, WEB_ROOT } from "../dist/src/server/bundle.js";

await buildWebApp();
console.log(`built ${WEB_ROOT}`);
