// A minimal unpickler for exactly what CIFAR-10's Python batches hold: a dict of byte strings, lists
// of ints and one uint8 numpy array. The canonical files are Python 2 cPickle protocol 2 (byte
// strings as SHORT_BINSTRING / BINSTRING, the array via numpy's _reconstruct); files written again
// by Python 3 use _codecs.encode (protocol 2) or BINBYTES (3-4) or numpy's _frombuffer (5). No code
// is ever run: only the few globals below are known, and anything else is an error. (The npm
// pickle parsers decode Python 2 byte strings as text, which loses the pixel bytes.)
export class PickleError extends Error {}

/** A numpy array as pickled: its dtype string (e.g. "u1"), shape and raw C-order bytes. */
export interface NdArray {
  kind: "ndarray";
  dtype: string;
  shape: number[];
  fortran: boolean;
  data: Uint8Array;
}

/** A Python tuple (lists are JavaScript arrays). */
class Tuple {
  constructor(readonly items: unknown[]) {}
}

/** A callable or class the stream names (GLOBAL); `construct` builds from the REDUCE arguments. */
interface Global {
  kind: "global";
  name: string;
  construct(args: unknown[]): unknown;
}

class Dtype {
  byteorder = "|";
  constructor(readonly str: string) {}
}

/** A numpy array under construction: _reconstruct makes it empty, BUILD fills it. */
class PendingArray {
  value: NdArray | null = null;
}

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

function tupleItems(v: unknown, what: string): unknown[] {
  if (v instanceof Tuple) return v.items;
  if (Array.isArray(v)) return v;
  throw new Error(`${what} expects a tuple`);
}

function fromBuffer(args: unknown[]): NdArray {
  const [buf, dtype, shape] = args;
  if (!(buf instanceof Uint8Array) || !(dtype instanceof Dtype)) throw new Error("_frombuffer: unexpected arguments");
  return {
    kind: "ndarray",
    dtype: dtype.str,
    shape: tupleItems(shape, "shape") as number[],
    fortran: false,
    data: buf,
  };
}

function makeGlobal(module: string, name: string): Global {
  const callable = (construct: (args: unknown[]) => unknown): Global => ({
    kind: "global",
    name: `${module}.${name}`,
    construct,
  });
  const numpy = (m: string) => m === "numpy.core.multiarray" || m === "numpy._core.multiarray";
  const numeric = (m: string) => m === "numpy.core.numeric" || m === "numpy._core.numeric";
  if (module === "_codecs" && name === "encode") return callable(([text]) => latin1(String(text)));
  if ((module === "__builtin__" || module === "builtins") && (name === "bytes" || name === "bytearray"))
    return callable(([text]) => (text === undefined ? new Uint8Array(0) : latin1(String(text))));
  if (numpy(module) && name === "_reconstruct") return callable(() => new PendingArray());
  if (numeric(module) && name === "_frombuffer") return callable(fromBuffer);
  if (module === "numpy" && name === "ndarray") return callable(() => new PendingArray());
  if (module === "numpy" && name === "dtype") return callable(([text]) => new Dtype(String(text)));
  throw new Error(`the pickle names ${module}.${name}, which a CIFAR batch never holds`);
}

/** BUILD: numpy arrays and dtypes take their state; nothing else in CIFAR's files has one. */
function build(obj: unknown, state: unknown): void {
  const items = tupleItems(state, "BUILD");
  if (obj instanceof Dtype) {
    obj.byteorder = String(items[1]);
    return;
  }
  if (obj instanceof PendingArray) {
    const [, shape, dtype, fortran, data] = items;
    if (!(dtype instanceof Dtype)) throw new Error("ndarray state without a dtype");
    const bytes = typeof data === "string" ? latin1(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new Error("ndarray state holds no raw data");
    obj.value = {
      kind: "ndarray",
      dtype: dtype.str,
      shape: tupleItems(shape, "shape") as number[],
      fortran: Boolean(fortran),
      data: bytes,
    };
    return;
  }
  throw new Error("BUILD on an object that takes no state");
}

/** Turns the parse-time objects into plain values: arrays, Maps keyed by strings, NdArrays. */
function finish(v: unknown): unknown {
  if (v instanceof PendingArray) {
    if (!v.value) throw new Error("numpy array without its state");
    return v.value;
  }
  if (v instanceof Tuple) return v.items.map(finish);
  if (Array.isArray(v)) return v.map(finish);
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [k, finish(x)]));
  return v;
}

/** Dict keys as strings: byte strings in latin-1 (CIFAR's keys are ASCII). */
function keyOf(k: unknown): string {
  if (k instanceof Uint8Array) return String.fromCharCode(...k);
  return String(k);
}

class Reader {
  pos = 0;
  readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error("the file ends in the middle of the pickle");
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u32(): number {
    return this.i32() >>> 0;
  }
  u64(): number {
    this.need(8);
    const v = Number(this.view.getBigUint64(this.pos, true));
    this.pos += 8;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  utf8(n: number): string {
    return new TextDecoder().decode(this.bytes(n));
  }
  line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) throw new Error("the file ends in the middle of the pickle");
    const text = String.fromCharCode(...this.buf.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }
}

/** Little-endian two's-complement integer of LONG1's bytes. */
function long1(b: Uint8Array): number {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b.length > 0 && b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return Number(v);
}

/** The unpickling machine: the stream, the stack, the MARK positions and the memo. */
interface State {
  r: Reader;
  stack: unknown[];
  marks: number[];
  memo: Map<number, unknown>;
}

const pop = (vm: State) => {
  if (vm.stack.length === 0) throw new Error("stack underflow");
  return vm.stack.pop();
};
const top = (vm: State) => vm.stack[vm.stack.length - 1];
/** The items above the last MARK, removed from the stack. */
function popMark(vm: State): unknown[] {
  const at = vm.marks.pop();
  if (at === undefined) throw new Error("no MARK on the stack");
  return vm.stack.splice(at);
}
function setItems(vm: State, items: unknown[]): void {
  const dict = top(vm);
  if (!(dict instanceof Map)) throw new Error("SETITEMS on something that is not a dict");
  for (let i = 0; i + 1 < items.length; i += 2) dict.set(keyOf(items[i]), items[i + 1]);
}
function appendTo(vm: State, items: unknown[]): void {
  const list = top(vm);
  if (!Array.isArray(list)) throw new Error("APPENDS on something that is not a list");
  list.push(...items);
}
function reduce(vm: State): void {
  const args = pop(vm);
  const f = pop(vm) as Global;
  if (f?.kind !== "global") throw new Error("REDUCE on something that is not callable");
  vm.stack.push(f.construct(tupleItems(args, f.name)));
}

type Op = (vm: State) => void;
const push =
  (f: (r: Reader) => unknown): Op =>
  (vm) =>
    vm.stack.push(f(vm.r));

const OPS = new Map<number, Op>([
  [0x80, (vm) => void vm.r.u8()], // PROTO
  [0x95, (vm) => void vm.r.u64()], // FRAME: the frames are contiguous in the file
  [0x28, (vm) => void vm.marks.push(vm.stack.length)], // MARK
  [0x7d, push(() => new Map())], // EMPTY_DICT
  [
    0x64,
    (vm) => {
      const items = popMark(vm);
      vm.stack.push(new Map());
      setItems(vm, items);
    },
  ], // DICT
  [0x5d, push(() => [])], // EMPTY_LIST
  [0x6c, (vm) => vm.stack.push(popMark(vm))], // LIST
  [0x29, push(() => new Tuple([]))], // EMPTY_TUPLE
  [0x74, (vm) => vm.stack.push(new Tuple(popMark(vm)))], // TUPLE
  [0x85, (vm) => vm.stack.push(new Tuple([pop(vm)]))], // TUPLE1
  [0x86, (vm) => vm.stack.push(new Tuple(vm.stack.splice(-2)))], // TUPLE2
  [0x87, (vm) => vm.stack.push(new Tuple(vm.stack.splice(-3)))], // TUPLE3
  [0x61, (vm) => appendTo(vm, [pop(vm)])], // APPEND
  [0x65, (vm) => appendTo(vm, popMark(vm))], // APPENDS
  [0x73, (vm) => setItems(vm, vm.stack.splice(-2))], // SETITEM
  [0x75, (vm) => setItems(vm, popMark(vm))], // SETITEMS
  [0x4a, push((r) => r.i32())], // BININT
  [0x4b, push((r) => r.u8())], // BININT1
  [0x4d, push((r) => r.u16())], // BININT2
  [0x8a, push((r) => long1(r.bytes(r.u8())))], // LONG1
  [0x47, push((r) => r.f64())], // BINFLOAT
  [0x4e, push(() => null)], // NONE
  [0x88, push(() => true)], // NEWTRUE
  [0x89, push(() => false)], // NEWFALSE
  [0x55, push((r) => r.bytes(r.u8()))], // SHORT_BINSTRING (Python 2 str: bytes)
  [0x54, push((r) => r.bytes(r.u32()))], // BINSTRING
  [0x43, push((r) => r.bytes(r.u8()))], // SHORT_BINBYTES
  [0x42, push((r) => r.bytes(r.u32()))], // BINBYTES
  [0x8e, push((r) => r.bytes(r.u64()))], // BINBYTES8
  [0x96, push((r) => r.bytes(r.u64()))], // BYTEARRAY8
  [0x8c, push((r) => r.utf8(r.u8()))], // SHORT_BINUNICODE
  [0x58, push((r) => r.utf8(r.u32()))], // BINUNICODE
  [0x8d, push((r) => r.utf8(r.u64()))], // BINUNICODE8
  [0x63, push((r) => makeGlobal(r.line(), r.line()))], // GLOBAL
  [
    0x93,
    (vm) => {
      const name = String(pop(vm));
      vm.stack.push(makeGlobal(String(pop(vm)), name));
    },
  ], // STACK_GLOBAL
  [0x52, reduce], // REDUCE
  [0x81, reduce], // NEWOBJ: cls.__new__(cls, *args), the same for the classes known here
  [
    0x62,
    (vm) => {
      const state = pop(vm);
      build(top(vm), state);
    },
  ], // BUILD
  [0x71, (vm) => void vm.memo.set(vm.r.u8(), top(vm))], // BINPUT
  [0x72, (vm) => void vm.memo.set(vm.r.u32(), top(vm))], // LONG_BINPUT
  [0x94, (vm) => void vm.memo.set(vm.memo.size, top(vm))], // MEMOIZE
  [0x68, (vm) => vm.stack.push(memoGet(vm, vm.r.u8()))], // BINGET
  [0x6a, (vm) => vm.stack.push(memoGet(vm, vm.r.u32()))], // LONG_BINGET
  [0x30, (vm) => void pop(vm)], // POP
  [0x31, (vm) => void popMark(vm)], // POP_MARK
  [0x32, (vm) => vm.stack.push(top(vm))], // DUP
]);

function memoGet(vm: State, i: number): unknown {
  if (!vm.memo.has(i)) throw new Error(`memo entry ${i} is missing`);
  return vm.memo.get(i);
}

/** Unpickles one object; throws PickleError saying what is wrong with the stream. */
export function unpickle(buf: Uint8Array): unknown {
  const vm: State = { r: new Reader(buf), stack: [], marks: [], memo: new Map() };
  try {
    for (;;) {
      const at = vm.r.pos;
      const op = vm.r.u8();
      if (op === 0x2e) return finish(pop(vm)); // STOP
      const f = OPS.get(op);
      if (!f) throw new Error(`unsupported pickle opcode 0x${op.toString(16)} at byte ${at}`);
      f(vm);
    }
  } catch (err) {
    throw err instanceof PickleError ? err : new PickleError((err as Error).message);
  }
}
