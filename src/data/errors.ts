// Bad input in the data layer: one line naming the problem and what to do about it.
export class DataError extends Error {
  override name = "DataError";
}
