// A minimal module tree: named parameters and children, as torch.nn.Module, without autograd magic.
import { keep, type Tensor } from "../engine/index.js";

export abstract class Module {
  readonly #params = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** Registers a parameter (kept alive outside any tidy scope, requires grad). */
  protected param(name: string, t: Tensor): Tensor {
    keep(t).requiresGrad_(true);
    this.#params.set(name, t);
    return t;
  }
  protected child<M extends Module>(name: string, m: M): M {
    this.#children.set(name, m);
    return m;
  }

  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.#params) out.push([prefix + n, t]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  numParameters(): number {
    return this.parameters().reduce((a, t) => a + t.size, 0);
  }
  dispose(): void {
    for (const t of this.parameters()) t.dispose();
  }
}
