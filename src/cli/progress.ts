/** Progress bars with ETA on stderr (cli-progress); on a non-TTY a line every few seconds. */
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  /** For work whose size is known only once it starts (evaluation callbacks give done/total). */
  fraction(done: number, total: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number, quiet = false): Progress {
  if (quiet) return { update() {}, fraction() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% {value}/{total} | ETA {eta_formatted} | {info}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      etaBuffer: 50,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { info: "" });
  // cli-progress redraws a non-TTY bar from a timer, which never fires while a jitted step blocks
  // the event loop: redraw from update() instead, every few seconds.
  const tty = process.stderr.isTTY === true;
  let lastDraw = Date.now();
  const redraw = () => {
    if (!tty && Date.now() - lastDraw > 5000) {
      lastDraw = Date.now();
      (bar as unknown as { render(): void }).render();
    }
  };
  return {
    update(done, extra) {
      const info = extra ? Object.entries(extra).map(([k, v]) => `${k} ${typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v}`).join(" ") : "";
      bar.update(done, { info });
      redraw();
    },
    fraction(done, t) {
      if (bar.getTotal() !== t) bar.setTotal(t);
      bar.update(done, { info: "" });
      redraw();
    },
    stop() {
      bar.stop();
    },
  };
}
