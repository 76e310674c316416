// A restricted unpickler: it reads Python's pickle format (protocols 0 to 5) into plain JavaScript values and
// never runs or builds anything the caller did not allow. Every GLOBAL (a module attribute the pickle wants to
// call or construct) goes through `resolveGlobal`, which returns what that name means here or throws; a name it
// does not know is refused before any argument is built, so nothing of a hostile pickle runs.
//
// Values: None -> null, bool, int -> number (bigint beyond 2^53), float -> number, str -> string, bytes ->
// Uint8Array, list/tuple -> Array, dict -> Map (keys may be numbers), set/frozenset -> Array. Persistent ids go
// to `persistentLoad`. The parser is an explicit stack machine (no recursion), bounded by its input.

export class PickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PickleError';
  }
}

/** What an allowed global means: called by REDUCE (f(*args)), NEWOBJ (cls.__new__(cls, *args)), then BUILD. */
export interface PyCallable {
  readonly pyName: string;
  call?(args: unknown[]): unknown;
  /** NEWOBJ: an empty instance (defaults to call). */
  create?(args: unknown[]): unknown;
}

/** A Python object built by an allowed class with only data attributes (argparse.Namespace and the like). */
export class PyObject {
  readonly attrs = new Map<string, unknown>();
  constructor(readonly cls: string) {}
}

export interface UnpickleOptions {
  /** The meaning of `module.name`, or a thrown error refusing it. */
  resolveGlobal(module: string, name: string): unknown;
  /** Persistent ids (torch.save's storages). Without it a persistent id is an error. */
  persistentLoad?(pid: unknown): unknown;
  /** Used in error messages: what is being read (file and entry). */
  source?: string;
}

const MARK = Symbol('mark');

/** The values with Python identity a pickle may memoize; nothing here is ever executed. */
function isCallable(v: unknown): v is PyCallable {
  return typeof v === 'object' && v !== null && 'pyName' in v;
}

const td = new TextDecoder('utf-8', { fatal: true });
const latin1 = (b: Uint8Array) => { let s = ''; for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]!); return s; };

/** Little-endian two's-complement bytes to a number (bigint when outside the safe range). */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * Unpickle one pickle starting at `start`; returns the value and the offset just past its STOP opcode (a legacy
 * torch.save file holds several pickles in a row).
 */
export function unpickle(data: Uint8Array, start: number, opts: UnpickleOptions): { value: unknown; end: number } {
  const src = opts.source ? `${opts.source}: ` : '';
  let pos = start;
  let opPos = start;
  let op = 0;
  const fail = (msg: string): never => { throw new PickleError(`${src}${msg} (opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opPos})`); };
  const need = (n: number) => { if (n < 0 || pos + n > data.length) fail(`truncated pickle: needs ${n} more byte(s) at byte ${pos}, the data ends at ${data.length}`); };
  const u8 = () => { need(1); return data[pos++]!; };
  const u16 = () => { need(2); const v = data[pos]! | (data[pos + 1]! << 8); pos += 2; return v; };
  const u32 = () => { need(4); const v = (data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16)) + data[pos + 3]! * 0x1000000; pos += 4; return v; };
  const i32 = () => { const v = u32(); return v >= 0x80000000 ? v - 0x100000000 : v; };
  const u64 = () => { const lo = u32(), hi = u32(); if (hi >= 0x200000) fail('length over 2^53'); return hi * 0x100000000 + lo; };
  const bytes = (n: number) => { need(n); const b = data.subarray(pos, pos + n); pos += n; return b; };
  const line = () => {
    const e = data.indexOf(0x0a, pos);
    if (e < 0) fail('truncated pickle: a text argument has no end of line');
    const s = latin1(data.subarray(pos, e));
    pos = e + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => { try { return td.decode(b); } catch { return fail('a string is not valid UTF-8'); } };

  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const pop = () => { if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!)) fail('stack underflow (malformed pickle)'); return stack.pop(); };
  const top = () => { if (stack.length === 0) fail('stack underflow (malformed pickle)'); return stack[stack.length - 1]; };
  const popMark = () => {
    const m = marks.pop();
    if (m === undefined) fail('MARK expected (malformed pickle)');
    return stack.splice(m!);
  };
  const setItems = (d: unknown, items: unknown[]) => {
    if (items.length % 2) fail('odd number of items for a dict');
    if (d instanceof Map) { for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]); return; }
    if (d instanceof PyObject) { for (let i = 0; i < items.length; i += 2) d.attrs.set(String(items[i]), items[i + 1]); return; }
    fail(`SETITEM(S) on a ${describe(d)}, not a dict`);
  };
  const call = (f: unknown, args: unknown, how: 'REDUCE' | 'NEWOBJ') => {
    if (!isCallable(f)) fail(`${how} of ${describe(f)}: only allowed globals can be called`);
    if (!Array.isArray(args)) fail(`${how} arguments are a ${describe(args)}, not a tuple`);
    const fn = f as PyCallable;
    const impl = how === 'NEWOBJ' ? fn.create ?? fn.call : fn.call;
    if (!impl) fail(`${fn.pyName} cannot be ${how === 'NEWOBJ' ? 'instantiated' : 'called'} here`);
    try {
      return impl!.call(fn, args as unknown[]);
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail(`${fn.pyName}: ${(e as Error).message}`);
    }
  };
  const global = (module: string, name: string) => {
    try {
      return opts.resolveGlobal(module, name);
    } catch (e) {
      if (e instanceof PickleError) throw new PickleError(`${src}${e.message}`);
      throw e;
    }
  };

  for (;;) {
    opPos = pos;
    op = u8();
    switch (op) {
      case 0x80: { const v = u8(); if (v > 5) fail(`pickle protocol ${v} is newer than 5`); break; } // PROTO
      case 0x95: u64(); break; // FRAME (framing only)
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length) fail(`STOP with ${stack.length} values on the stack (malformed pickle)`);
        return { value: stack[0], end: pos };
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // Constants.
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      // Integers and floats.
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(decodeLong(bytes(u8()))); break; // LONG1
      case 0x8b: { const n = i32(); if (n < 0) fail('negative LONG4 length'); stack.push(decodeLong(bytes(n))); break; } // LONG4
      case 0x49: { // INT (text): also the protocol-0 bools 01/00
        const s = line().trim();
        if (s === '01') stack.push(true); else if (s === '00') stack.push(false);
        else { if (!/^[-+]?\d+$/.test(s)) fail(`INT ${JSON.stringify(s)} is not an integer`); const b = BigInt(s); stack.push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b); }
        break;
      }
      case 0x4c: { // LONG (text)
        const s = line().trim().replace(/L$/, '');
        if (!/^[-+]?\d+$/.test(s)) fail(`LONG ${JSON.stringify(s)} is not an integer`);
        const b = BigInt(s);
        stack.push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
        break;
      }
      case 0x47: { need(8); const v = new DataView(data.buffer, data.byteOffset + pos, 8).getFloat64(0, false); pos += 8; stack.push(v); break; } // BINFLOAT
      case 0x46: { const s = line().trim(); const v = Number(s); if (Number.isNaN(v) && !/nan/i.test(s)) fail(`FLOAT ${JSON.stringify(s)}`); stack.push(v); break; } // FLOAT
      // Strings and bytes.
      case 0x58: stack.push(utf8(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(bytes(u64()))); break; // BINUNICODE8
      case 0x56: stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))); break; // UNICODE (raw-unicode-escape)
      case 0x54: { const n = i32(); if (n < 0) fail('negative BINSTRING length'); stack.push(latin1(bytes(n))); break; } // BINSTRING (Python 2 str)
      case 0x55: stack.push(latin1(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x53: { // STRING (quoted text)
        const s = line();
        const m = /^(['"])(.*)\1\s*$/.exec(s);
        if (!m) fail('STRING argument is not quoted');
        stack.push(m![2]!.replace(/\\x([0-9a-fA-F]{2})|\\(['"\\n])/g, (_, h?: string, c?: string) => (h ? String.fromCharCode(parseInt(h, 16)) : c === 'n' ? '\n' : c!)));
        break;
      }
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x96: stack.push(bytes(u64()).slice()); break; // BYTEARRAY8
      case 0x97: case 0x98: fail('out-of-band buffers (pickle protocol 5) are not supported'); break; // NEXT_BUFFER, READONLY_BUFFER
      // Containers.
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x8f: stack.push([]); break; // EMPTY_SET
      case 0x74: stack.push(popMark()); break; // TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x91: stack.push(popMark()); break; // FROZENSET
      case 0x64: { const items = popMark(); const d = new Map(); setItems(d, items); stack.push(d); break; } // DICT
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) fail(`APPEND to a ${describe(l)}`); (l as unknown[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) fail(`APPENDS to a ${describe(l)}`); for (const v of items) (l as unknown[]).push(v); break; } // APPENDS
      case 0x90: { const items = popMark(); const s = top(); if (!Array.isArray(s)) fail(`ADDITEMS to a ${describe(s)}`); for (const v of items) (s as unknown[]).push(v); break; } // ADDITEMS
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      // Memo.
      case 0x70: memo.set(Number(line()), top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: case 0x68: case 0x6a: { // GET, BINGET, LONG_BINGET
        const i = op === 0x67 ? Number(line()) : op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo entry ${i} is not defined`);
        stack.push(memo.get(i));
        break;
      }
      // Globals and calls: the only way a pickle reaches code, and each goes through resolveGlobal.
      case 0x63: { const module = line(), name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const f = pop(); stack.push(call(f, args, 'REDUCE')); break; } // REDUCE
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args, 'NEWOBJ')); break; } // NEWOBJ
      case 0x92: { const kwargs = pop(); const args = pop(); const cls = pop(); // NEWOBJ_EX
        if (!(kwargs instanceof Map) || kwargs.size) fail('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x62: { // BUILD: setstate with data only (attributes, or a (state, slotstate) pair)
        const state = pop();
        const obj = top();
        build(obj, state, fail);
        break;
      }
      case 0x51: stack.push(persistent(pop())); break; // BINPERSID
      case 0x50: stack.push(persistent(line())); break; // PERSID
      case 0x69: case 0x6f: fail('INST/OBJ (protocol-0 instances) are not allowed'); break;
      case 0x82: case 0x83: case 0x84: fail('EXT1/EXT2/EXT4 (extension registry) are not allowed'); break;
      default: fail(`unknown opcode: not a pickle, or a corrupt one`);
    }
  }

  function persistent(pid: unknown): unknown {
    if (!opts.persistentLoad) return fail('persistent id without a loader');
    try {
      return opts.persistentLoad(pid);
    } catch (e) {
      if (e instanceof PickleError) throw e;
      return fail((e as Error).message);
    }
  }
}

function build(obj: unknown, state: unknown, fail: (m: string) => never): void {
  // A (dict, slots) pair: both are attribute dicts.
  const parts = Array.isArray(state) && state.length === 2 ? state : [state];
  for (const part of parts) {
    if (part === null) continue;
    if (!(part instanceof Map)) fail(`BUILD with a ${describe(part)} state`);
    const m = part as Map<unknown, unknown>;
    if (obj instanceof PyObject) { for (const [k, v] of m) obj.attrs.set(String(k), v); continue; }
    // An OrderedDict's state is its attributes (a state dict's _metadata), not items: not kept.
    if (obj instanceof Map) continue;
    if (typeof obj === 'object' && obj !== null && 'setState' in obj) { (obj as { setState(s: Map<unknown, unknown>): void }).setState(m); continue; }
    fail(`BUILD on a ${describe(obj)}`);
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return `sequence of ${v.length}`;
  if (v instanceof Map) return 'dict';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyObject) return v.cls;
  if (isCallable(v)) return v.pyName;
  return typeof v;
}
