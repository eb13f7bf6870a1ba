// Tensor factories.
import { type DTypeName, dtypeCode } from "./dtype.js";
import { native } from "./native.js";
import { type Shape, Tensor } from "./tensor.js";

type NumericArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

let defaultFloat: "float32" | "float64" = "float32";
/** The dtype of floating-point tensors made without an explicit dtype (float64 for gradient checks). */
export function setDefaultFloatDType(dtype: "float32" | "float64"): void {
  defaultFloat = dtype;
}
export function getDefaultFloatDType(): "float32" | "float64" {
  return defaultFloat;
}

function flatten(values: unknown, out: number[]): void {
  if (Array.isArray(values)) for (const v of values) flatten(v, out);
  else out.push(values as number);
}
function inferShape(values: unknown): number[] {
  const shape: number[] = [];
  let v = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/** A tensor from a typed array or (nested) number array; shape inferred from nesting when omitted. */
export function tensor(
  values: NumericArray | number[] | number[][] | number[][][] | number,
  shape?: Shape,
  dtype: DTypeName = defaultFloat,
): Tensor {
  if (typeof values === "number") values = [values];
  let data: NumericArray;
  if (Array.isArray(values)) {
    const flat: number[] = [];
    flatten(values, flat);
    shape ??= inferShape(values);
    data =
      dtype === "float64"
        ? Float64Array.from(flat)
        : dtype === "float32"
          ? Float32Array.from(flat)
          : Float64Array.from(flat);
  } else {
    data = values;
    shape ??= [values.length];
  }
  return new Tensor(native.fromTypedArray(data, [...shape], dtypeCode(dtype)));
}

/** Integer labels (int64), as cross-entropy wants them. */
export function labels(values: ArrayLike<number>): Tensor {
  return new Tensor(
    native.fromTypedArray(Int32Array.from(values as ArrayLike<number>), [values.length], dtypeCode("int64")),
  );
}

export function full(shape: Shape, value: number, dtype: DTypeName = defaultFloat): Tensor {
  return new Tensor(native.full([...shape], value, dtypeCode(dtype)));
}
export function zeros(shape: Shape, dtype: DTypeName = defaultFloat): Tensor {
  return full(shape, 0, dtype);
}
export function ones(shape: Shape, dtype: DTypeName = defaultFloat): Tensor {
  return full(shape, 1, dtype);
}
export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, t.dtype);
}
/** Standard normal samples from the global libtorch generator (seeded by manualSeed, runtime.ts). */
export function randn(shape: Shape, dtype: DTypeName = defaultFloat): Tensor {
  return new Tensor(native.randn([...shape], dtypeCode(dtype)));
}
/** Uniform samples in [0, 1). */
export function rand(shape: Shape, dtype: DTypeName = defaultFloat): Tensor {
  return new Tensor(native.rand([...shape], dtypeCode(dtype)));
}
/** 1 with probability p, else 0. */
export function bernoulli(shape: Shape, p: number, dtype: DTypeName = defaultFloat): Tensor {
  return new Tensor(native.bernoulli([...shape], p, dtypeCode(dtype)));
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: Shape): Tensor {
  return new Tensor(native.randint(low, high, [...shape]));
}
export function randperm(n: number): Tensor {
  return new Tensor(native.randperm(n));
}
export function arange(n: number, dtype: DTypeName = "int64"): Tensor {
  return new Tensor(native.arange(n, dtypeCode(dtype)));
}
