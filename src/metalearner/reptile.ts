// REPTILE on weights and architecture (docs/method.md §4):
//   w_meta += lrWeights * (mean_i w_i - w_meta);  a_meta += lrArch * (mean_i a_i - a_meta)
// plain SGD steps on the pseudo-gradient; the rates times the schedule's factor (schedule.ts).
import { accumulate, disposeAll, Snapshot, type Tensor, zerosLikeAll } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";
import type { MetaLearner } from "./metaLearner.js";

export class Reptile implements MetaLearner {
  readonly name = "reptile" as const;
  #meta: Snapshot | null = null;
  #sum: Tensor[] | null = null;

  constructor(
    readonly lrWeights: number,
    readonly lrArch: number,
  ) {}

  begin(model: MetaModel): void {
    this.#release();
    const params = [...model.weights, ...model.arch];
    this.#meta = new Snapshot(params);
    this.#sum = zerosLikeAll(params);
  }

  afterTask(model: MetaModel, _queryLoss?: () => Tensor): void {
    if (!this.#meta || !this.#sum) throw new Error("Reptile.afterTask before begin");
    accumulate(this.#sum, [...model.weights, ...model.arch]);
    // The next task starts from the meta-parameters again.
    this.#meta.restore();
  }

  accumulators(): Tensor[] {
    if (!this.#sum) throw new Error("Reptile.accumulators before begin");
    return this.#sum;
  }

  end(model: MetaModel, tasks: number, stepScale = 1): void {
    if (!this.#meta || !this.#sum || !(tasks > 0)) throw new Error("Reptile.end without tasks");
    const meta = this.#meta.copies;
    const sum = this.#sum;
    const nw = model.weights.length;
    // meta + lr * (sum / n - meta) = (1 - lr) * meta + (lr / n) * sum
    [...model.weights, ...model.arch].forEach((p, i) => {
      const lr = (i < nw ? this.lrWeights : this.lrArch) * stepScale;
      p.copy_(meta[i]!)
        .mul_(1 - lr)
        .addScaled_(sum[i]!, lr / tasks);
    });
    this.#release();
  }

  state() {
    return { tensors: {}, numbers: {} };
  }
  loadState(): void {}

  #release(): void {
    this.#meta?.dispose();
    if (this.#sum) disposeAll(this.#sum);
    this.#meta = null;
    this.#sum = null;
  }
  dispose(): void {
    this.#release();
  }
}
