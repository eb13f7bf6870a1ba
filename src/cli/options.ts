// Parsing of numeric CLI options with one clear error line each.
export function intOption(text: string, name: string, min = Number.NEGATIVE_INFINITY): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`${name} must be an integer${Number.isFinite(min) ? ` >= ${min}` : ""}, got "${text}"`);
  return v;
}
export function numberOption(text: string, name: string): number {
  const v = Number(text);
  if (!Number.isFinite(v)) throw new Error(`${name} must be a number, got "${text}"`);
  return v;
}
export function listOption(text: string, name: string): number[] {
  if (text.trim() === "") return [];
  return text.split(",").map((t) => intOption(t.trim(), name, 0));
}
export function shapeOption(text: string, name: string): [number, number, number] {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`${name} must look like CxHxW (e.g. 1x28x28), got "${text}"`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
