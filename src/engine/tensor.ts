// The typed, chainable tensor: a handle on one libtorch tensor held by the addon.
import { CODES } from "./constants.js";
import { DType, type DTypeName, dtypeCode, dtypeName } from "./dtype.js";
import { native } from "./native.js";
import { type Disposable, track } from "./scope.js";

// Safety net only: frees tensors that were dropped without dispose() when GC gets to them.
const finalizer = new FinalizationRegistry<number>((id) => native.dispose(id));

// The addon's op codes (native/src/addon.cc's tables, read by constants.ts).
const UNARY = CODES.unaryOps;
const BINARY = CODES.binaryOps;
const SCALAR = CODES.scalarOps;
type BinaryOp = keyof typeof BINARY;

export type Shape = readonly number[];

export class Tensor implements Disposable {
  #id: number;
  #shape: number[] | undefined;
  #finalizable = false;

  /** Wraps a fresh native id; the tensor joins the innermost tidy() scope. */
  constructor(id: number) {
    this.#id = id;
    // A scope holds its tensors strongly, so they cannot be collected while in it: the safety-net
    // finalizer (about 0.7 us per tensor, register + unregister) is only armed for tensors that
    // live outside every scope, from creation or once they leave the last one (leftScopes).
    if (!track(this)) this.leftScopes();
  }

  /** Arms the finalizer; called by scope.ts when the tensor outlives the last scope. */
  leftScopes(): void {
    if (this.#finalizable || this.#id < 0) return;
    this.#finalizable = true;
    finalizer.register(this, this.#id, this);
  }

  get id(): number {
    if (this.#id < 0) throw new Error("metanas: this tensor was disposed and cannot be used");
    return this.#id;
  }
  get isDisposed(): boolean {
    return this.#id < 0;
  }
  dispose(): void {
    if (this.#id < 0) return;
    if (this.#finalizable) finalizer.unregister(this);
    native.dispose(this.#id);
    this.#id = -1;
  }

  get shape(): number[] {
    if (!this.#shape) this.#shape = native.shape(this.id);
    return this.#shape;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get dtype(): DTypeName {
    return dtypeName(native.dtype(this.id));
  }
  get device(): string {
    return native.device(this.id);
  }

  // ------------------------------------------------------------ data out
  item(): number {
    return native.item(this.id);
  }
  /** A copy of the data, row-major. float32 -> Float32Array, float64 -> Float64Array, integers -> Int32Array, bool/uint8 -> Uint8Array. */
  data(): Float32Array | Float64Array | Int32Array | Uint8Array {
    return native.toTypedArray(this.id);
  }
  toArray(): number[] {
    return Array.from(this.data());
  }

  // ------------------------------------------------------------ elementwise
  #unary(op: keyof typeof UNARY): Tensor {
    return new Tensor(native.unary(this.id, UNARY[op]));
  }
  #binary(other: Tensor | number, op: BinaryOp): Tensor {
    if (typeof other === "number") return new Tensor(native.binaryScalar(this.id, other, SCALAR[op]));
    return new Tensor(native.binary(this.id, other.id, BINARY[op]));
  }
  add(other: Tensor | number): Tensor {
    return this.#binary(other, "add");
  }
  sub(other: Tensor | number): Tensor {
    return this.#binary(other, "sub");
  }
  /** scalar - this */
  rsub(scalar: number): Tensor {
    return new Tensor(native.binaryScalar(this.id, scalar, SCALAR.rsub));
  }
  mul(other: Tensor | number): Tensor {
    return this.#binary(other, "mul");
  }
  div(other: Tensor | number): Tensor {
    return this.#binary(other, "div");
  }
  pow(other: Tensor | number): Tensor {
    return this.#binary(other, "pow");
  }
  maximum(other: Tensor | number): Tensor {
    return this.#binary(other, "maximum");
  }
  minimum(other: Tensor | number): Tensor {
    return this.#binary(other, "minimum");
  }
  eq(other: Tensor | number): Tensor {
    return this.#binary(other, "eq");
  }
  gt(other: Tensor | number): Tensor {
    return this.#binary(other, "gt");
  }
  lt(other: Tensor | number): Tensor {
    return this.#binary(other, "lt");
  }
  ge(other: Tensor | number): Tensor {
    return this.#binary(other, "ge");
  }
  le(other: Tensor | number): Tensor {
    return this.#binary(other, "le");
  }
  /** this + a * b in one pass (broadcasting). */
  addProduct(a: Tensor, b: Tensor): Tensor {
    return new Tensor(native.addcmul(this.id, a.id, b.id));
  }
  neg(): Tensor {
    return this.#unary("neg");
  }
  exp(): Tensor {
    return this.#unary("exp");
  }
  log(): Tensor {
    return this.#unary("log");
  }
  sqrt(): Tensor {
    return this.#unary("sqrt");
  }
  relu(): Tensor {
    return this.#unary("relu");
  }
  sigmoid(): Tensor {
    return this.#unary("sigmoid");
  }
  tanh(): Tensor {
    return this.#unary("tanh");
  }
  abs(): Tensor {
    return this.#unary("abs");
  }
  square(): Tensor {
    return this.#unary("square");
  }
  logicalNot(): Tensor {
    return this.#unary("logicalNot");
  }

  // ------------------------------------------------------------ reductions
  /** Sum over dims (all when omitted). */
  sum(dims: number | number[] = [], keepDim = false): Tensor {
    return new Tensor(native.sum(this.id, typeof dims === "number" ? [dims] : dims, keepDim));
  }
  mean(dims: number | number[] = [], keepDim = false): Tensor {
    return new Tensor(native.mean(this.id, typeof dims === "number" ? [dims] : dims, keepDim));
  }
  max(): Tensor {
    return new Tensor(native.maxAll(this.id));
  }
  maxAlong(dim: number, keepDim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.maxDim(this.id, dim, keepDim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argmax(dim: number, keepDim = false): Tensor {
    return new Tensor(native.argmax(this.id, dim, keepDim));
  }
  topk(k: number, dim = -1, largest = true): { values: Tensor; indices: Tensor } {
    const [v, i] = native.topk(this.id, k, dim, largest);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }

  // ------------------------------------------------------------ linear algebra and nn
  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.id, other.id));
  }
  softmax(dim: number): Tensor {
    return new Tensor(native.softmax(this.id, dim));
  }
  logSoftmax(dim: number): Tensor {
    return new Tensor(native.logSoftmax(this.id, dim));
  }

  // ------------------------------------------------------------ shape
  reshape(shape: Shape): Tensor {
    return new Tensor(native.reshape(this.id, [...shape]));
  }
  permute(dims: Shape): Tensor {
    return new Tensor(native.permute(this.id, [...dims]));
  }
  transpose(d0: number, d1: number): Tensor {
    return new Tensor(native.transpose(this.id, d0, d1));
  }
  /** Elements start..end (exclusive) along dim, every step-th. */
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return new Tensor(native.slice(this.id, dim, start, end, step));
  }
  /** Constant padding; pads as torch.nn.functional.pad: [left, right, top, bottom, ...] from the last dim backwards. */
  pad(pads: Shape, value = 0): Tensor {
    return new Tensor(native.pad(this.id, [...pads], value));
  }
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this.id));
  }
  clone(): Tensor {
    return new Tensor(native.clone(this.id));
  }
  /** Same data, cut from the autograd graph. */
  detach(): Tensor {
    return new Tensor(native.detach(this.id));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this.id, dim, index.id));
  }
  flip(dims: Shape): Tensor {
    return new Tensor(native.flip(this.id, [...dims]));
  }
  rot90(k: number, dims: [number, number]): Tensor {
    return new Tensor(native.rot90(this.id, k, dims));
  }
  to(dtype: DTypeName): Tensor {
    return new Tensor(native.toDType(this.id, dtypeCode(dtype)));
  }
  toDevice(device: string): Tensor {
    return new Tensor(native.toDevice(this.id, device));
  }

  // ------------------------------------------------------------ in place (outside autograd)
  copy_(src: Tensor): this {
    native.copyInPlace(this.id, src.id);
    return this;
  }
  /** this += alpha * src */
  addScaled_(src: Tensor, alpha: number): this {
    native.addInPlace(this.id, src.id, alpha);
    return this;
  }
  mul_(scalar: number): this {
    native.mulScalarInPlace(this.id, scalar);
    return this;
  }
  fill_(value: number): this {
    native.fillInPlace(this.id, value);
    return this;
  }

  // ------------------------------------------------------------ autograd
  get requiresGrad(): boolean {
    return native.requiresGrad(this.id);
  }
  requiresGrad_(on = true): this {
    native.setRequiresGrad(this.id, on);
    return this;
  }
  /** A new handle on the accumulated gradient (dispose it), or null when there is none. */
  get grad(): Tensor | null {
    const g = native.grad(this.id);
    return g < 0 ? null : new Tensor(g);
  }
  zeroGrad(): void {
    native.setGrad(this.id, -1);
  }
  backward(retainGraph = false): void {
    native.backward(this.id, retainGraph);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(", ")}])`;
  }
}

export { DType };
