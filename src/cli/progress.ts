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
  return {
    update(done, extra) {
      const info = extra ? Object.entries(extra).map(([k, v]) => `${k} ${typeof v === "number" ? v.toFixed(2) : v}`).join(" ") : "";
      bar.update(done, { info });
    },
    fraction(done, t) {
      if (bar.getTotal() !== t) bar.setTotal(t);
      bar.update(done, { info: "" });
    },
    stop() {
      bar.stop();
    },
  };
}
