import { ClientError } from './output.js';

/**
 * A small evaluator for the Go text/template subset Docker users write in `--format`:
 * text and `{{ }}` actions with `{{-`/`-}}` trimming, comments, field chains (`.A.B`), `.`, `$`,
 * string/raw/number/bool literals, parenthesised pipelines, `|` pipes, `if`/`else if`/`else`,
 * `range`, `with`, and Docker's functions (json, join, split, lower, upper, title, pad,
 * truncate, println) plus Go's (printf, print, len, index, eq, ne, lt, le, gt, ge, and, or, not).
 *
 * Values are plain JS data; a `TemplateContext` stands for Docker's formatter contexts, whose
 * fields are methods (an unknown one fails as Go does, naming the context's Go type).
 */
export class TemplateContext {
  constructor(
    /** Go type in error messages, e.g. `*formatter.imageContext`. */
    readonly typeName: string,
    /** Field name -> value or getter (Docker's contexts compute fields on demand). */
    readonly fields: Readonly<Record<string, unknown>>,
  ) {}

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.fields, name);
  }

  get(name: string): unknown {
    const v = this.fields[name];
    return typeof v === 'function' ? (v as () => unknown)() : v;
  }

  /** What `{{json .}}` prints: every field, keys sorted (Docker marshals contexts this way). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(this.fields).sort()) out[k] = this.get(k);
    return out;
  }
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'action'; pipe: Pipe; pos: number }
  | { t: 'if' | 'with'; pipe: Pipe; then: Node[]; else: Node[] | undefined }
  | { t: 'range'; pipe: Pipe; body: Node[]; else: Node[] | undefined };

type Arg =
  | { t: 'field'; base: 'dot' | 'root' | Arg; names: string[]; pos: number; src: string }
  | { t: 'lit'; value: unknown }
  | { t: 'ident'; name: string; pos: number }
  | { t: 'pipe'; pipe: Pipe; names: string[]; pos: number; src: string };

interface Cmd {
  args: Arg[];
}
type Pipe = Cmd[];

export function templateError(message: string): ClientError {
  return new ClientError('INVALID_ARGUMENT', `template parsing error: ${message}`);
}

/** Go's position text: `:line:col` for the byte offset (col counts from 0 after the newline). */
function where(src: string, pos: number): string {
  const before = src.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - (before.lastIndexOf('\n') + 1);
  return `:${line}:${col}`;
}

// ---------------------------------------------------------------- lexer over one action's text

interface Tok {
  k: 'field' | 'dollar' | 'dot' | 'ident' | 'str' | 'num' | 'pipe' | 'lp' | 'rp';
  v: string;
  pos: number;
}

function lexAction(src: string, start: number, end: number): Tok[] {
  const toks: Tok[] = [];
  let i = start;
  const err = (m: string) => templateError(`template: ${where(src, i).replace(/:\d+$/, '')}: ${m}`);
  while (i < end) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '|') {
      toks.push({ k: 'pipe', v: c, pos: i++ });
    } else if (c === '(') {
      toks.push({ k: 'lp', v: c, pos: i++ });
    } else if (c === ')') {
      toks.push({ k: 'rp', v: c, pos: i++ });
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < end && src[j] !== '"') {
        if (src[j] === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", '0': '\0' };
          if (e === undefined || map[e] === undefined) throw err('unterminated quoted string');
          s += map[e];
          j += 2;
        } else s += src[j++];
      }
      if (j >= end) throw err('unterminated quoted string');
      toks.push({ k: 'str', v: s, pos: i });
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0 || j >= end) throw err('unterminated raw quoted string');
      toks.push({ k: 'str', v: src.slice(i + 1, j), pos: i });
      i = j + 1;
    } else if (c === '.' && !/[0-9]/.test(src[i + 1] ?? '')) {
      const m = /^\.[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, end));
      if (m) {
        toks.push({ k: 'field', v: m[0].slice(1), pos: i });
        i += m[0].length;
      } else {
        toks.push({ k: 'dot', v: '.', pos: i++ });
      }
    } else if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(i, end))!;
      if (m[0] !== '$') throw err(`undefined variable "${m[0]}"`);
      toks.push({ k: 'dollar', v: '$', pos: i });
      i += 1;
    } else if (/[-+0-9.]/.test(c)) {
      const m = /^[-+]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+)/.exec(src.slice(i, end));
      if (!m) throw err(`bad number syntax: "${c}"`);
      toks.push({ k: 'num', v: m[0], pos: i });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, end))!;
      toks.push({ k: 'ident', v: m[0], pos: i });
      i += m[0].length;
    } else {
      throw err(`unexpected "${c}" in command`);
    }
  }
  return toks;
}

// ---------------------------------------------------------------- parser

class Parser {
  private toks: Tok[] = [];
  private i = 0;
  constructor(private readonly src: string) {}

  private err(m: string, pos: number): ClientError {
    return templateError(`template: ${where(this.src, pos).replace(/:\d+$/, '')}: ${m}`);
  }

  parse(): Node[] {
    const actions = this.scan();
    let k = 0;
    const block = (stopAt: Set<string>): { nodes: Node[]; stop?: { word: string; rest: Tok[]; pos: number } } => {
      const nodes: Node[] = [];
      while (k < actions.length) {
        const a = actions[k++]!;
        if (a.kind === 'text') {
          if (a.text) nodes.push({ t: 'text', text: a.text });
          continue;
        }
        const toks = a.toks;
        if (toks.length === 0) continue; // comment
        const head = toks[0]!;
        const word = head.k === 'ident' ? head.v : '';
        if (word === 'end' || word === 'else') {
          if (!stopAt.has(word)) throw this.err(`unexpected {{${word}}}`, head.pos);
          return { nodes, stop: { word, rest: toks.slice(1), pos: head.pos } };
        }
        if (word === 'if' || word === 'with' || word === 'range') {
          const pipe = this.pipeline(toks.slice(1), head.pos);
          const body = block(new Set(['end', 'else']));
          if (!body.stop) throw this.err(`unexpected EOF`, this.src.length);
          let elseNodes: Node[] | undefined;
          if (body.stop.word === 'else') {
            if (body.stop.rest.length > 0 && body.stop.rest[0]!.k === 'ident' && body.stop.rest[0]!.v === 'if' && word === 'if') {
              // {{else if X}}: a nested if sharing our {{end}}.
              const inner = this.pipeline(body.stop.rest.slice(1), body.stop.pos);
              const innerBody = block(new Set(['end', 'else']));
              const innerElse = this.elseChain(innerBody, block);
              elseNodes = [{ t: 'if', pipe: inner, then: innerBody.nodes, else: innerElse }];
            } else {
              const rest = block(new Set(['end']));
              if (!rest.stop) throw this.err(`unexpected EOF`, this.src.length);
              elseNodes = rest.nodes;
            }
          }
          if (word === 'range') nodes.push({ t: 'range', pipe, body: body.nodes, else: elseNodes });
          else nodes.push({ t: word, pipe, then: body.nodes, else: elseNodes });
          continue;
        }
        nodes.push({ t: 'action', pipe: this.pipeline(toks, head.pos), pos: head.pos });
      }
      return { nodes };
    };
    const top = block(new Set());
    return top.nodes;
  }

  /** After an `{{else if}}` body: another else-if, a final else, or the shared end. */
  private elseChain(
    body: { nodes: Node[]; stop?: { word: string; rest: Tok[]; pos: number } },
    block: (s: Set<string>) => { nodes: Node[]; stop?: { word: string; rest: Tok[]; pos: number } },
  ): Node[] | undefined {
    if (!body.stop) throw this.err('unexpected EOF', this.src.length);
    if (body.stop.word === 'end') return undefined;
    const rest = body.stop.rest;
    if (rest.length > 0 && rest[0]!.k === 'ident' && rest[0]!.v === 'if') {
      const pipe = this.pipeline(rest.slice(1), body.stop.pos);
      const inner = block(new Set(['end', 'else']));
      return [{ t: 'if', pipe, then: inner.nodes, else: this.elseChain(inner, block) }];
    }
    const last = block(new Set(['end']));
    if (!last.stop) throw this.err('unexpected EOF', this.src.length);
    return last.nodes;
  }

  /** Split the source into text and action token lists, applying trim markers. */
  private scan(): Array<{ kind: 'text'; text: string } | { kind: 'action'; toks: Tok[] }> {
    const out: Array<{ kind: 'text'; text: string } | { kind: 'action'; toks: Tok[] }> = [];
    const s = this.src;
    let i = 0;
    let trimNext = false;
    while (i <= s.length) {
      const open = s.indexOf('{{', i);
      let text = open < 0 ? s.slice(i) : s.slice(i, open);
      if (trimNext) text = text.replace(/^\s+/, '');
      if (open < 0) {
        out.push({ kind: 'text', text });
        break;
      }
      let start = open + 2;
      if (s[start] === '-' && /\s/.test(s[start + 1] ?? '')) {
        text = text.replace(/\s+$/, '');
        start += 2;
      }
      out.push({ kind: 'text', text });
      let close: number;
      if (s.startsWith('/*', s.slice(start).search(/\S/) + start)) {
        const c = s.indexOf('*/', start);
        close = c < 0 ? -1 : s.indexOf('}}', c);
        if (close < 0) throw this.err('unclosed comment', start);
        trimNext = s[close - 1] === '-' && /\s/.test(s[close - 2] ?? '');
        out.push({ kind: 'action', toks: [] });
        i = close + 2;
        continue;
      }
      close = this.findClose(start);
      let end = close;
      trimNext = false;
      if (s[close - 1] === '-' && /\s/.test(s[close - 2] ?? '')) {
        end = close - 2;
        trimNext = true;
      }
      out.push({ kind: 'action', toks: lexAction(s, start, end) });
      i = close + 2;
    }
    return out;
  }

  /** The `}}` closing the action at `from`, skipping quoted strings. */
  private findClose(from: number): number {
    const s = this.src;
    for (let i = from; i < s.length; i++) {
      const c = s[i];
      if (c === '"') {
        for (i++; i < s.length && s[i] !== '"'; i++) if (s[i] === '\\') i++;
      } else if (c === '`') {
        i = s.indexOf('`', i + 1);
        if (i < 0) break;
      } else if (c === '}' && s[i + 1] === '}') return i;
    }
    throw this.err('unclosed action', from);
  }

  private pipeline(toks: Tok[], pos: number): Pipe {
    this.toks = toks;
    this.i = 0;
    const p = this.pipe(pos);
    if (this.i < this.toks.length) throw this.err(`unexpected "${this.toks[this.i]!.v}" in command`, this.toks[this.i]!.pos);
    return p;
  }

  private pipe(pos: number): Pipe {
    const cmds: Cmd[] = [];
    for (;;) {
      const args: Arg[] = [];
      while (this.i < this.toks.length && this.toks[this.i]!.k !== 'pipe' && this.toks[this.i]!.k !== 'rp') args.push(this.operand());
      if (args.length === 0) throw this.err(cmds.length ? 'missing command' : 'missing value for command', pos);
      cmds.push({ args });
      if (this.toks[this.i]?.k !== 'pipe') return cmds;
      this.i++;
    }
  }

  private operand(): Arg {
    const t = this.toks[this.i++]!;
    const chain = (base: 'dot' | 'root' | Arg, first: string[], pos: number): Arg => {
      const names = [...first];
      while (this.toks[this.i]?.k === 'field' && this.toks[this.i]!.pos === this.endOf(this.toks[this.i - 1]!)) {
        names.push(this.toks[this.i++]!.v);
      }
      return { t: 'field', base, names, pos, src: this.src.slice(pos, this.endOf(this.toks[this.i - 1]!)) };
    };
    switch (t.k) {
      case 'field':
        return chain('dot', [t.v], t.pos);
      case 'dot':
        return { t: 'field', base: 'dot', names: [], pos: t.pos, src: '.' };
      case 'dollar':
        return chain('root', [], t.pos);
      case 'str':
        return { t: 'lit', value: t.v };
      case 'num':
        return { t: 'lit', value: Number(t.v) };
      case 'ident':
        if (t.v === 'true' || t.v === 'false') return { t: 'lit', value: t.v === 'true' };
        if (t.v === 'nil') return { t: 'lit', value: null };
        if (!(t.v in FUNCS)) throw this.err(`function "${t.v}" not defined`, t.pos);
        return { t: 'ident', name: t.v, pos: t.pos };
      case 'lp': {
        const inner = this.pipe(t.pos);
        if (this.toks[this.i]?.k !== 'rp') throw this.err('unclosed left paren', t.pos);
        const rp = this.toks[this.i++]!;
        const names: string[] = [];
        void rp;
        while (this.toks[this.i]?.k === 'field' && this.toks[this.i]!.pos === this.endOf(this.toks[this.i - 1]!)) {
          names.push(this.toks[this.i++]!.v);
        }
        return { t: 'pipe', pipe: inner, names, pos: t.pos, src: this.src.slice(t.pos, this.endOf(this.toks[this.i - 1]!)) };
      }
      default:
        throw this.err(`unexpected "${t.v}" in operand`, t.pos);
    }
  }

  private endOf(t: Tok): number {
    if (t.k === 'field') return t.pos + 1 + t.v.length;
    if (t.k === 'str') {
      // Raw or quoted: find the matching close in the source.
      const q = this.src[t.pos]!;
      let j = t.pos + 1;
      while (j < this.src.length && this.src[j] !== q) j += this.src[j] === '\\' && q === '"' ? 2 : 1;
      return j + 1;
    }
    return t.pos + t.v.length;
  }
}

// ---------------------------------------------------------------- values and functions

/** Go's json.Marshal: HTML characters escaped as \u003c etc. */
/** Fields that are Go maps in Docker's types: json prints their keys sorted. */
const MAP_FIELDS = new Set(['Labels', 'ExposedPorts', 'Volumes', 'Data', 'Options']);

export function goJson(v: unknown): string {
  const sorted = (key: string, val: unknown): unknown => {
    if (!MAP_FIELDS.has(key) || val === null || typeof val !== 'object' || Array.isArray(val)) return val;
    const o = val as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  };
  const top = v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof TemplateContext) && Object.values(v).every((x) => typeof x === 'string') ? sorted('Labels', v) : v;
  const s = JSON.stringify(top === undefined ? null : top, sorted) ?? 'null';
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** How text/template prints a value (fmt's %v). */
export function goPrint(v: unknown): string {
  if (v === null || v === undefined) return '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof TemplateContext) return goPrint(v.toJSON());
  if (Array.isArray(v)) return `[${v.map(goInner).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${goInner(o[k])}`).join(' ')}]`;
  }
  return String(v);
}
function goInner(v: unknown): string {
  return v === null || v === undefined ? '<nil>' : goPrint(v);
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object' && !(v instanceof TemplateContext)) return Object.keys(v).length > 0;
  return true;
}

/** Go's fmt.Sprintf for the verbs templates use: %s %v %d %q %x %f %% with width and `-`. */
function sprintf(format: string, args: unknown[]): string {
  let n = 0;
  return format.replace(/%([-+ 0#]*)(\d+)?(?:\.(\d+))?([svdqxXf%tT])/g, (_m, flags: string, width?: string, prec?: string, verb?: string) => {
    if (verb === '%') return '%';
    if (n >= args.length) return `%!${verb}(MISSING)`;
    const a = args[n++];
    let s: string;
    switch (verb) {
      case 'd':
        s = typeof a === 'number' ? String(Math.trunc(a)) : `%!d(${typeof a}=${goPrint(a)})`;
        break;
      case 'q':
        s = JSON.stringify(goPrint(a));
        break;
      case 'x':
      case 'X':
        s = typeof a === 'number' ? a.toString(16) : Buffer.from(goPrint(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        break;
      case 'f':
        s = typeof a === 'number' ? a.toFixed(prec !== undefined ? Number(prec) : 6) : `%!f(${goPrint(a)})`;
        break;
      case 'T':
        s = typeof a === 'string' ? 'string' : typeof a === 'number' ? 'int' : typeof a;
        break;
      default:
        s = goPrint(a);
        if (verb === 's' && prec !== undefined) s = s.slice(0, Number(prec));
    }
    if (width !== undefined) s = flags.includes('-') ? s.padEnd(Number(width)) : s.padStart(Number(width), flags.includes('0') && verb !== 's' ? '0' : ' ');
    return s;
  });
}

type Fn = (...args: unknown[]) => unknown;
const cmpArgs = (name: string, a: unknown, b: unknown): [number | string, number | string] => {
  if ((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')) return [a, b];
  throw new Error(`error calling ${name}: incompatible types for comparison`);
};

const FUNCS: Record<string, Fn> = {
  json: (v) => goJson(v instanceof TemplateContext ? v.toJSON() : v),
  join: (list, sep) => (Array.isArray(list) ? list.map(goPrint).join(String(sep)) : goPrint(list)),
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => goPrint(s).toLowerCase(),
  upper: (s) => goPrint(s).toUpperCase(),
  title: (s) => goPrint(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, p: string, c: string) => p + c.toUpperCase()),
  pad: (s, before, after) => `${' '.repeat(Number(before))}${goPrint(s)}${' '.repeat(Number(after))}`,
  truncate: (s, n) => {
    const cps = Array.from(goPrint(s));
    return cps.length > Number(n) ? cps.slice(0, Number(n)).join('') : cps.join('');
  },
  println: (...a) => `${a.map(goPrint).join(' ')}\n`,
  print: (...a) => a.map(goPrint).join(''),
  printf: (f, ...a) => sprintf(String(f), a),
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw new Error(`error calling len: len of type ${typeof v}`);
  },
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (Array.isArray(cur)) cur = cur[Number(k)];
      else if (cur instanceof TemplateContext) cur = cur.get(String(k));
      else if (cur && typeof cur === 'object') cur = (cur as Record<string, unknown>)[String(k)];
      else throw new Error(`error calling index: can't index item of type ${typeof cur}`);
    }
    return cur;
  },
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: (a, b) => {
    const [x, y] = cmpArgs('lt', a, b);
    return x < y;
  },
  le: (a, b) => {
    const [x, y] = cmpArgs('le', a, b);
    return x <= y;
  },
  gt: (a, b) => {
    const [x, y] = cmpArgs('gt', a, b);
    return x > y;
  },
  ge: (a, b) => {
    const [x, y] = cmpArgs('ge', a, b);
    return x >= y;
  },
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a.at(-1),
  or: (...a) => a.find((x) => truthy(x)) ?? a.at(-1),
};

// ---------------------------------------------------------------- execution

class ExecError extends Error {
  constructor(
    readonly pos: number,
    readonly at: string,
    message: string,
  ) {
    super(message);
  }
}

function typeOf(v: unknown): string {
  if (v instanceof TemplateContext) return v.typeName;
  if (v === null || v === undefined) return 'interface {}';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'object') return 'map[string]interface {}';
  return typeof v === 'number' ? 'float64' : typeof v;
}

function field(v: unknown, name: string, arg: { pos: number; src: string }): unknown {
  if (v instanceof TemplateContext) {
    if (!v.has(name)) throw new ExecError(arg.pos, arg.src, `can't evaluate field ${name} in type ${v.typeName}`);
    return v.get(name);
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    // A missing map key is "no value", as in Go.
    return Object.prototype.hasOwnProperty.call(o, name) ? o[name] : undefined;
  }
  if (v === null || v === undefined) throw new ExecError(arg.pos, arg.src, `nil pointer evaluating ${typeOf(v)}.${name}`);
  throw new ExecError(arg.pos, arg.src, `can't evaluate field ${name} in type ${typeOf(v)}`);
}

interface Scope {
  dot: unknown;
  root: unknown;
}

function evalArg(a: Arg, s: Scope): unknown {
  switch (a.t) {
    case 'lit':
      return a.value;
    case 'ident':
      return FUNCS[a.name]!();
    case 'field': {
      let v = a.base === 'dot' ? s.dot : a.base === 'root' ? s.root : evalArg(a.base, s);
      for (const n of a.names) v = field(v, n, a);
      return v;
    }
    case 'pipe': {
      let v = evalPipe(a.pipe, s);
      for (const n of a.names) v = field(v, n, a);
      return v;
    }
  }
}

function evalPipe(p: Pipe, s: Scope): unknown {
  let prev: unknown;
  p.forEach((cmd, i) => {
    const [head, ...rest] = cmd.args;
    const piped = i > 0 ? [prev] : [];
    if (head!.t === 'ident') {
      const args = [...rest.map((a) => evalArg(a, s)), ...piped];
      try {
        prev = FUNCS[head!.name]!(...args);
      } catch (e) {
        if (e instanceof ExecError) throw e;
        throw new ExecError(head!.pos, `${head!.name}`, (e as Error).message.startsWith('error calling') ? (e as Error).message : `error calling ${head!.name}: ${(e as Error).message}`);
      }
    } else {
      if (rest.length > 0 || piped.length > 0) {
        const pos = head!.t === 'field' || head!.t === 'pipe' ? head!.pos : 0;
        throw new ExecError(pos, head!.t === 'field' ? head!.src : '', `can't give argument to non-function ${head!.t === 'field' ? head!.src : 'value'}`);
      }
      prev = evalArg(head!, s);
    }
  });
  return prev;
}

function execNodes(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text':
        out.push(n.text);
        break;
      case 'action': {
        const v = evalPipe(n.pipe, s);
        out.push(v === undefined ? '<no value>' : goPrint(v));
        break;
      }
      case 'if': {
        const v = evalPipe(n.pipe, s);
        if (truthy(v)) execNodes(n.then, s, out);
        else if (n.else) execNodes(n.else, s, out);
        break;
      }
      case 'with': {
        const v = evalPipe(n.pipe, s);
        if (truthy(v)) execNodes(n.then, { dot: v, root: s.root }, out);
        else if (n.else) execNodes(n.else, s, out);
        break;
      }
      case 'range': {
        const v = evalPipe(n.pipe, s);
        const items = Array.isArray(v)
          ? v
          : v && typeof v === 'object' && !(v instanceof TemplateContext)
            ? Object.keys(v).sort().map((k) => (v as Record<string, unknown>)[k])
            : typeof v === 'number'
              ? Array.from({ length: v }, (_x, i) => i)
              : v === null || v === undefined
                ? []
                : undefined;
        if (items === undefined) throw new ExecError(0, '', `range can't iterate over ${goPrint(v)}`);
        if (items.length === 0) {
          if (n.else) execNodes(n.else, s, out);
        } else for (const item of items) execNodes(n.body, { dot: item, root: s.root }, out);
        break;
      }
    }
  }
}

/** A parsed template; `execute` may be called once per row. */
export class GoTemplate {
  private readonly nodes: Node[];
  constructor(readonly source: string) {
    this.nodes = new Parser(source).parse();
  }

  execute(data: unknown): string {
    const out: string[] = [];
    try {
      execNodes(this.nodes, { dot: data, root: data }, out);
    } catch (e) {
      if (e instanceof ExecError) {
        throw templateError(`template: ${where(this.source, e.pos)}: executing "" at <${e.at}>: ${e.message}`);
      }
      throw e;
    }
    return out.join('');
  }

  /** Field names used at the top level (`{{.Digest}}` turns on --digests, as Docker's CLI checks). */
  mentions(field: string): boolean {
    return new RegExp(`\\.${field}\\b`).test(this.source);
  }
}
