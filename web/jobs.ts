/**
 * Model work in the page runs one job at a time, through one queue shared by every view. Device
 * reads are asynchronous, so without it a job could still be running when a new model frees the
 * weights it uses, or finish after a newer request and overwrite its result. `body[data-pending]`
 * counts queued and running jobs, so tests (and styles) can see when the views are up to date.
 */
let queue: Promise<unknown> = Promise.resolve();
let pending = 0;

function setPending(delta: number): void {
  pending += delta;
  document.body.dataset.pending = String(pending);
}

/** Run `job` after every job queued before it. */
export function serial<T>(job: () => Promise<T>): Promise<T> {
  setPending(1);
  const run = queue.then(job).finally(() => setPending(-1));
  queue = run.catch(() => undefined);
  return run;
}

/** Queue `job` for output `key`; skipped if a newer request for the same output is queued behind it (e.g. a dragged slider). */
const latest = new Map<string, number>();
export function latestOnly(key: string, job: () => Promise<void>): Promise<void> {
  const ticket = (latest.get(key) ?? 0) + 1;
  latest.set(key, ticket);
  return serial(async () => {
    if (latest.get(key) === ticket) await job();
  });
}
