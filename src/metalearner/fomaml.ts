// First-order MAML, the first-order form of the paper's Equation (8): the meta-gradient is the
// gradient of the query loss at the adapted parameters (second-order terms dropped), averaged over
// the meta-batch and applied with an Adam meta-optimiser, as MAML does.
import { Adam, accumulate, disposeAll, grad, Snapshot, type Tensor, tidy, zerosLikeAll } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";
import type { MetaLearner } from "./metaLearner.js";

export class FirstOrderMaml implements MetaLearner {
  readonly name = "fomaml" as const;
  #meta: Snapshot | null = null;
  #gradSum: Tensor[] | null = null;
  readonly #optW: Adam;
  readonly #optA: Adam | null;

  constructor(model: MetaModel, lrWeights: number, lrArch: number) {
    this.#optW = new Adam(model.weights, { lr: lrWeights });
    this.#optA = model.arch.length > 0 ? new Adam(model.arch, { lr: lrArch }) : null;
  }

  begin(model: MetaModel): void {
    this.#release();
    const params = [...model.weights, ...model.arch];
    this.#meta = new Snapshot(params);
    this.#gradSum = zerosLikeAll(params);
  }

  afterTask(model: MetaModel, queryLoss: () => Tensor): void {
    if (!this.#meta || !this.#gradSum) throw new Error("FirstOrderMaml.afterTask before begin");
    const sum = this.#gradSum;
    tidy(() => {
      const g = grad(queryLoss(), [...model.weights, ...model.arch]);
      g.forEach((gi, i) => {
        if (gi) accumulate([sum[i]!], [gi]);
      });
    });
    this.#meta.restore();
  }

  accumulators(): Tensor[] {
    if (!this.#gradSum) throw new Error("FirstOrderMaml.accumulators before begin");
    return this.#gradSum;
  }

  end(model: MetaModel, tasks: number, stepScale = 1): void {
    if (!this.#gradSum || !(tasks > 0)) throw new Error("FirstOrderMaml.end without tasks");
    const sum = this.#gradSum;
    const nw = model.weights.length;
    tidy(() => {
      this.#optW.apply(
        sum.slice(0, nw).map((g) => g.div(tasks)),
        stepScale,
      );
      this.#optA?.apply(
        sum.slice(nw).map((g) => g.div(tasks)),
        stepScale,
      );
    });
    this.#release();
  }

  state() {
    const tensors: Record<string, Tensor> = {};
    const numbers: Record<string, number> = { "w.step": this.#optW.step };
    this.#optW.m.forEach((t, i) => (tensors[`w.m.${i}`] = t));
    this.#optW.v.forEach((t, i) => (tensors[`w.v.${i}`] = t));
    if (this.#optA) {
      numbers["a.step"] = this.#optA.step;
      this.#optA.m.forEach((t, i) => (tensors[`a.m.${i}`] = t));
      this.#optA.v.forEach((t, i) => (tensors[`a.v.${i}`] = t));
    }
    return { tensors, numbers };
  }
  loadState(state: { tensors: Map<string, Tensor>; numbers: Record<string, number> }): void {
    const load = (opt: Adam, p: string) => {
      const get = (k: string) => {
        const t = state.tensors.get(k);
        if (!t) throw new Error(`checkpoint lacks the meta-optimiser tensor ${k}`);
        return t;
      };
      opt.loadState({
        step: state.numbers[`${p}.step`] ?? 0,
        m: opt.m.map((_, i) => get(`${p}.m.${i}`)),
        v: opt.v.map((_, i) => get(`${p}.v.${i}`)),
      });
    };
    load(this.#optW, "w");
    if (this.#optA) load(this.#optA, "a");
  }

  #release(): void {
    this.#meta?.dispose();
    if (this.#gradSum) disposeAll(this.#gradSum);
    this.#meta = null;
    this.#gradSum = null;
  }
  dispose(): void {
    this.#release();
    this.#optW.dispose();
    this.#optA?.dispose();
  }
}
