// dtype codes shared with native/src/addon.cc
export const DType = { float32: 0, float64: 1, int64: 2, bool: 3, uint8: 4, int32: 5 } as const;
export type DTypeName = keyof typeof DType;
const NAMES = Object.keys(DType) as DTypeName[];
export function dtypeName(code: number): DTypeName {
  const name = NAMES.find((n) => DType[n] === code);
  if (!name) throw new Error(`unsupported dtype code ${code}`);
  return name;
}
export function dtypeCode(name: DTypeName): number {
  return DType[name];
}
