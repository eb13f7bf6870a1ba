// REPTILE on weights and architecture (docs/method.md §4):
//   w_meta += lrWeights * (mean_i w_i - w_meta);  a_meta += lrArch * (mean_i a_i - a_meta)
// plain SGD steps on the pseudo-gradient, rates constant.
import type { Tensor } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";
import type { MetaLearner } from "./metaLearner.js";
import { accumulate, cloneAll, copyInto, disposeAll, zerosLikeAll } from "./parameters.js";

export class Reptile implements MetaLearner {
  readonly name = "reptile" as const;
  #meta: { w: Tensor[]; a: Tensor[] } | null = null;
  #sum: { w: Tensor[]; a: Tensor[] } | null = null;
  #tasks = 0;

  constructor(
    readonly lrWeights: number,
    readonly lrArch: number,
  ) {}

  begin(model: MetaModel): void {
    this.#release();
    this.#meta = { w: cloneAll(model.weights), a: cloneAll(model.arch) };
    this.#sum = { w: zerosLikeAll(model.weights), a: zerosLikeAll(model.arch) };
    this.#tasks = 0;
  }

  afterTask(model: MetaModel, _queryLoss?: () => Tensor): void {
    if (!this.#meta || !this.#sum) throw new Error("Reptile.afterTask before begin");
    accumulate(this.#sum.w, model.weights);
    accumulate(this.#sum.a, model.arch);
    this.#tasks += 1;
    // The next task starts from the meta-parameters again.
    copyInto(model.weights, this.#meta.w);
    copyInto(model.arch, this.#meta.a);
  }

  end(model: MetaModel): void {
    if (!this.#meta || !this.#sum || this.#tasks === 0) throw new Error("Reptile.end without tasks");
    const n = this.#tasks;
    const update = (params: Tensor[], meta: Tensor[], sum: Tensor[], lr: number) => {
      // meta + lr * (sum / n - meta) = (1 - lr) * meta + (lr / n) * sum
      params.forEach((p, i) => {
        p.copy_(meta[i]!)
          .mul_(1 - lr)
          .addScaled_(sum[i]!, lr / n);
      });
    };
    update(model.weights, this.#meta.w, this.#sum.w, this.lrWeights);
    update(model.arch, this.#meta.a, this.#sum.a, this.lrArch);
    this.#release();
  }

  state() {
    return { tensors: {}, numbers: {} };
  }
  loadState(): void {}

  #release(): void {
    if (this.#meta) disposeAll([...this.#meta.w, ...this.#meta.a]);
    if (this.#sum) disposeAll([...this.#sum.w, ...this.#sum.a]);
    this.#meta = null;
    this.#sum = null;
  }
  dispose(): void {
    this.#release();
  }
}
