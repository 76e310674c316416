// Command-line options: one table per command gives parsing, validation, defaults, `--help` text and the
// keys a `--config FILE.json` may set (flags on the command line win over the file).
import { readFileSync, existsSync, statSync } from 'node:fs';

export type OptType = 'string' | 'number' | 'int' | 'bool' | 'list';
export interface OptSpec {
  name: string; type: OptType; default?: unknown; help: string; choices?: readonly string[];
  /** Inclusive bounds. */
  min?: number; max?: number;
  /** Exclusive lower bound (a width must be > 0). */
  above?: number;
  /** Exclusive upper bound (a momentum must stay < 1). */
  below?: number;
}
export type Parsed = Record<string, unknown> & { _given: Set<string> };

export class UsageError extends Error {}

/**
 * One option value, from the command line (always a string) or a config file (JSON: its type must be the
 * option's own; true is not a number, [3] is not a number, {"a": 1} is not a path). Ranges are checked for both.
 */
function convert(spec: OptSpec, raw: unknown, where: string): unknown {
  const bad = (why: string) => new UsageError(`${where}: ${why}`);
  const shown = JSON.stringify(raw);
  switch (spec.type) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw bad(`expects true or false, got ${shown}`);
    case 'number': case 'int': {
      if (typeof raw !== 'number' && typeof raw !== 'string') throw bad(`expects ${spec.type === 'int' ? 'an integer' : 'a number'}, got ${shown}`);
      const v = typeof raw === 'number' ? raw : Number(raw);
      if ((typeof raw === 'string' && raw.trim() === '') || !Number.isFinite(v)) throw bad(`expects a number, got ${shown}`);
      if (spec.type === 'int' && !Number.isSafeInteger(v)) throw bad(`expects an integer${Number.isInteger(v) ? ` below 2^53` : ''}, got ${shown}`);
      if (spec.min !== undefined && v < spec.min) throw bad(`must be at least ${spec.min}, got ${v}`);
      if (spec.max !== undefined && v > spec.max) throw bad(`must be at most ${spec.max}, got ${v}`);
      if (spec.above !== undefined && !(v > spec.above)) throw bad(`must be greater than ${spec.above}, got ${v}`);
      if (spec.below !== undefined && !(v < spec.below)) throw bad(`must be less than ${spec.below}, got ${v}`);
      return v;
    }
    case 'list':
      if (Array.isArray(raw)) {
        if (!raw.every((x) => typeof x === 'string' || typeof x === 'number')) throw bad(`expects a list of strings, got ${shown}`);
        return raw.map(String);
      }
      if (typeof raw !== 'string') throw bad(`expects a string or a list of strings, got ${shown}`);
      return raw.split(',').map((x) => x.trim()).filter(Boolean);
    default: {
      if (typeof raw !== 'string') throw bad(`expects a string, got ${shown}`);
      if (raw === '') throw bad('expects a non-empty string');
      if (spec.choices && !spec.choices.includes(raw)) throw bad(`must be one of ${spec.choices.join(', ')}, got ${shown}`);
      return raw;
    }
  }
}

export function parseArgs(cmd: string, argv: string[], specs: OptSpec[]): Parsed {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const out: Parsed = Object.assign(Object.create(null) as Record<string, unknown>, { _given: new Set<string>() });
  const cli: [OptSpec, unknown][] = [];
  let configPath: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new UsageError(`simreg ${cmd}: unexpected argument ${JSON.stringify(a)} (options start with --; see simreg ${cmd} --help)`);
    let name = a.slice(2), value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    if (name === 'config') {
      configPath = value ?? argv[++i] ?? '';
      if (!configPath) throw new UsageError(`simreg ${cmd}: --config needs a file`);
      continue;
    }
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'bool') { spec = byName.get(name.slice(3))!; value = 'false'; }
    if (!spec) throw new UsageError(`simreg ${cmd}: unknown option --${name} (see simreg ${cmd} --help)`);
    if (spec.type === 'bool' && value === undefined) value = 'true';
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`simreg ${cmd}: --${name} needs a value`);
    }
    cli.push([spec, value]);
  }
  for (const s of specs) if (s.default !== undefined) out[s.name] = s.default;
  if (configPath) {
    if (!existsSync(configPath)) throw new UsageError(`simreg ${cmd}: config file ${configPath} does not exist`);
    if (!statSync(configPath).isFile()) throw new UsageError(`simreg ${cmd}: config file ${configPath} is not a regular file`);
    let obj: unknown;
    try { obj = JSON.parse(readFileSync(configPath, 'utf8')); } catch (e) { throw new UsageError(`config file ${configPath}: not valid JSON (${(e as Error).message})`); }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new UsageError(`config file ${configPath}: must hold a JSON object of option names to values`);
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      const spec = byName.get(k);
      if (!spec) throw new UsageError(`config file ${configPath}: unknown option "${k}" for simreg ${cmd}`);
      out[k] = convert(spec, v, `config file ${configPath}, "${k}"`);
      out._given.add(k);
    }
  }
  const cliSeen = new Set<string>();
  for (const [spec, v] of cli) {
    const val = convert(spec, v, `--${spec.name}`);
    // A list option given several times accumulates (--teacher a --teacher b); otherwise the last one wins.
    if (spec.type === 'list' && cliSeen.has(spec.name)) out[spec.name] = [...(out[spec.name] as string[]), ...(val as string[])];
    else out[spec.name] = val;
    cliSeen.add(spec.name);
    out._given.add(spec.name);
  }
  return out;
}

export function helpText(cmd: string, summary: string, specs: OptSpec[]): string {
  const lines = [`usage: simreg ${cmd} [options]`, '', summary, '', 'options:'];
  for (const s of specs) {
    const flag = `--${s.name}${s.type === 'bool' ? '' : ` ${s.choices ? s.choices.join('|') : s.type === 'list' ? 'A,B' : s.type.toUpperCase()}`}`;
    const def = s.default === undefined ? '' : ` (default ${Array.isArray(s.default) ? s.default.join(',') || 'none' : String(s.default)})`;
    lines.push(`  ${flag.padEnd(34)} ${s.help}${def}`);
  }
  lines.push(`  ${'--config FILE.json'.padEnd(34)} read options from a JSON object {"option": value}; flags win`);
  lines.push(`  ${'--help'.padEnd(34)} this text`);
  return lines.join('\n');
}
