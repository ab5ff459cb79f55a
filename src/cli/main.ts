#!/usr/bin/env node
/** The `vaekit` command. User errors print one line; bad flags exit with code 2. */
import { Command, CommanderError } from "commander";
import { VaekitError } from "../errors.js";
import { engineLimitMessage } from "../engine/index.js";
import { registerCore } from "./commands/core.js";
import { registerDemo } from "./commands/demo.js";
import { registerAudio } from "./commands/audio.js";
import { registerImages } from "./commands/images.js";
import { registerServe } from "./commands/serve.js";
import { registerRl } from "./commands/rl.js";
import { registerText } from "./commands/text.js";
import { registerAnomaly } from "./commands/anomaly.js";

const program = new Command("vaekit")
  .description("Variational autoencoders in TypeScript: train, evaluate honestly, put to work")
  .version("0.1.0")
  .showSuggestionAfterError(true)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith("error:") ? `vaekit: ${s.slice(7)}` : s) });

registerCore(program);
registerDemo(program);
registerAudio(program);
registerImages(program);
registerServe(program);
registerRl(program);
registerText(program);
registerAnomaly(program);
for (const c of program.commands) c.exitOverride();

try {
  await program.parseAsync(process.argv);
  process.exit(0); // the engine keeps handles open; finish explicitly
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 2);
  if (e instanceof VaekitError) {
    process.stderr.write(`vaekit: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  const limit = engineLimitMessage(e);
  if (limit) {
    process.stderr.write(`vaekit: ${limit}\n`);
    process.exit(1);
  }
  const err = e as Error;
  process.stderr.write(`vaekit: internal error: ${err?.message ?? err}${process.env.VAEKIT_DEBUG ? "\n" + err?.stack : " (set VAEKIT_DEBUG=1 for details)"}\n`);
  process.exit(70);
}
