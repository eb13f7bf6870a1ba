// Tensor lifetimes. Native memory is freed only by dispose(); Node runs finalizers too rarely
// inside a synchronous training loop to rely on them (native/README.md: 4.6 GB growth seen).
// tidy(fn) frees every tensor created inside fn except what fn returns, as tf.tidy does.

export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Called when the object leaves the last tidy() scope alive (returned at top level, or kept). */
  leftScopes?(): void;
}

const scopes: Set<Disposable>[] = [];

/** Called by every tensor constructor; true when t joined a scope (which then holds it strongly). */
export function track(t: Disposable): boolean {
  const top = scopes[scopes.length - 1];
  if (!top) return false;
  top.add(t);
  return true;
}

/** Removes t from the scopes so that it outlives them (the caller now owns it). */
export function keep<T extends Disposable>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  t.leftScopes?.();
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || value === undefined || depth > 4) return;
  if (typeof value === "object") {
    if ("dispose" in value && "isDisposed" in value) {
      out.add(value as Disposable);
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value) collect(v, out, depth + 1);
    } else if (value instanceof Map) {
      for (const v of value.values()) collect(v, out, depth + 1);
    } else if (Object.getPrototypeOf(value) === Object.prototype) {
      for (const v of Object.values(value)) collect(v, out, depth + 1);
    }
  }
}

/** Runs fn; disposes every tensor it created that is not part of its result (arrays, maps and plain objects are searched). */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    // Free what fn created before its first await (it would otherwise leak), and keep the
    // abandoned promise from surfacing as an unhandled rejection: the caller gets this error.
    for (const t of scope) t.dispose();
    result.catch(() => {});
    throw new Error("tidy() takes a synchronous function; await outside it");
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  for (const t of scope) {
    if (survivors.has(t)) {
      // Hand the survivor to the enclosing scope, if any; otherwise it is on its own now.
      if (!track(t)) t.leftScopes?.();
    } else {
      t.dispose();
    }
  }
  return result;
}

/** Disposes every tensor found in value (arrays, maps and plain objects are searched). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found);
  for (const t of found) t.dispose();
}
