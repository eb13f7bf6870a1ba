// dtype names and their codes; the codes come from the addon (native/src/addon.cc, via constants.ts).
import { CODES, type CONSTANT_NAMES } from "./constants.js";

export type DTypeName = (typeof CONSTANT_NAMES.dtypes)[number];
export const DType: Readonly<Record<DTypeName, number>> = CODES.dtypes;
const NAMES = Object.keys(DType) as DTypeName[];
export function dtypeName(code: number): DTypeName {
  const name = NAMES.find((n) => DType[n] === code);
  if (!name) throw new Error(`unsupported dtype code ${code}`);
  return name;
}
export function dtypeCode(name: DTypeName): number {
  return DType[name];
}
