// First-order MAML, the first-order form of the paper's Equation (8): the meta-gradient is the
// gradient of the query loss at the adapted parameters (second-order terms dropped), averaged over
// the meta-batch and applied with an Adam meta-optimiser, as MAML does.
import { Adam, grad, type Tensor, tidy } from "../engine/index.js";
import type { MetaModel } from "../models/model.js";
import type { MetaLearner } from "./metaLearner.js";
import { accumulate, cloneAll, copyInto, disposeAll, zerosLikeAll } from "./parameters.js";

export class FirstOrderMaml implements MetaLearner {
  readonly name = "fomaml" as const;
  #meta: { w: Tensor[]; a: Tensor[] } | null = null;
  #gradSum: { w: Tensor[]; a: Tensor[] } | null = null;
  #tasks = 0;
  readonly #optW: Adam;
  readonly #optA: Adam | null;

  constructor(model: MetaModel, lrWeights: number, lrArch: number) {
    this.#optW = new Adam(model.weights, { lr: lrWeights });
    this.#optA = model.arch.length > 0 ? new Adam(model.arch, { lr: lrArch }) : null;
  }

  begin(model: MetaModel): void {
    this.#release();
    this.#meta = { w: cloneAll(model.weights), a: cloneAll(model.arch) };
    this.#gradSum = { w: zerosLikeAll(model.weights), a: zerosLikeAll(model.arch) };
    this.#tasks = 0;
  }

  afterTask(model: MetaModel, queryLoss: () => Tensor): void {
    if (!this.#meta || !this.#gradSum) throw new Error("FirstOrderMaml.afterTask before begin");
    const sum = this.#gradSum;
    tidy(() => {
      const params = [...model.weights, ...model.arch];
      const g = grad(queryLoss(), params);
      const nw = model.weights.length;
      g.forEach((gi, i) => {
        if (gi) accumulate([i < nw ? sum.w[i]! : sum.a[i - nw]!], [gi]);
      });
    });
    this.#tasks += 1;
    copyInto(model.weights, this.#meta.w);
    copyInto(model.arch, this.#meta.a);
  }

  end(_model: MetaModel): void {
    if (!this.#gradSum || this.#tasks === 0) throw new Error("FirstOrderMaml.end without tasks");
    const n = this.#tasks;
    const sum = this.#gradSum;
    tidy(() => {
      this.#optW.apply(sum.w.map((g) => g.div(n)));
      this.#optA?.apply(sum.a.map((g) => g.div(n)));
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
  loadState(s: { tensors: Map<string, Tensor>; numbers: Record<string, number> }): void {
    const load = (opt: Adam, p: string) => {
      const get = (k: string) => {
        const t = s.tensors.get(k);
        if (!t) throw new Error(`checkpoint lacks the meta-optimiser tensor ${k}`);
        return t;
      };
      opt.loadState({
        step: s.numbers[`${p}.step`] ?? 0,
        m: opt.m.map((_, i) => get(`${p}.m.${i}`)),
        v: opt.v.map((_, i) => get(`${p}.v.${i}`)),
      });
    };
    load(this.#optW, "w");
    if (this.#optA) load(this.#optA, "a");
  }

  #release(): void {
    if (this.#meta) disposeAll([...this.#meta.w, ...this.#meta.a]);
    if (this.#gradSum) disposeAll([...this.#gradSum.w, ...this.#gradSum.a]);
    this.#meta = null;
    this.#gradSum = null;
  }
  dispose(): void {
    this.#release();
    this.#optW.dispose();
    this.#optA?.dispose();
  }
}
