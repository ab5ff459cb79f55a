/**
 * KL weight schedules: pure functions of the optimiser step t = 0, 1, 2, … (the number of steps
 * taken before this one). The trainer evaluates them on the host and passes β·w(t) into the
 * jitted step as a scalar array, so the step is traced once whatever the schedule.
 */
import type { KlSchedule } from "../models/config.js";

/** w(t) ∈ [0, 1], the factor on β at step t. */
export function klWeightAt(schedule: KlSchedule, step: number): number {
  switch (schedule.type) {
    case "constant":
      return 1;
    case "linear":
      // KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): 0 → 1 over warmupSteps steps
      return Math.min(1, step / schedule.warmupSteps);
    case "cyclical": {
      // cyclical annealing (Fu et al. 2019): ramp over the first rampFraction of each period
      const { periodSteps: T, rampFraction: R, cycles } = schedule;
      if (cycles > 0 && step >= cycles * T) return 1;
      const tau = (step % T) / T;
      return Math.min(1, tau / R);
    }
  }
}
