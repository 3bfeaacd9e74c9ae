/** One `WWW-Authenticate` challenge: scheme lowercased, parameter names lowercased. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /[A-Za-z0-9\-._~+/]/;

/**
 * Parse `WWW-Authenticate` values (RFC 9110 §11.6.1): several challenges per header and several
 * headers, quoted strings with commas and backslash escapes, token68 credentials. Malformed input
 * yields the challenges parsed so far rather than throwing: a registry's header is untrusted.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (Array.isArray(header)) return header.flatMap((h) => parseChallenges(h));
  const s = header;
  let i = 0;
  const out: Challenge[] = [];

  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const skipWsCommas = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t' || s[i] === ',')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const readQuoted = (): string | undefined => {
    if (s[i] !== '"') return undefined;
    i++;
    let v = '';
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    if (s[i] !== '"') return undefined; // unterminated
    i++;
    return v;
  };

  while (i < s.length) {
    skipWsCommas();
    const scheme = readToken();
    if (!scheme) break;
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    if (i < s.length && s[i] !== ' ' && s[i] !== '\t' && s[i] !== ',') break; // garbage after the scheme
    skipWs();
    // token68: run of token68 characters, then '='*, then end or comma.
    const t68 = /^[A-Za-z0-9\-._~+/]+=*\s*(?:,|$)/.exec(s.slice(i));
    if (t68 && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*=\s*[^=,\s]/.test(s.slice(i))) {
      let j = i;
      while (j < s.length && TOKEN68.test(s[j]!)) j++;
      while (s[j] === '=') j++;
      ch.token68 = s.slice(i, j);
      i = j;
      continue;
    }
    // auth-params until a token that is not followed by '=' (the next challenge's scheme).
    for (;;) {
      skipWsCommas();
      const save = i;
      const name = readToken();
      if (!name) break;
      skipWs();
      if (s[i] !== '=') {
        i = save; // a new scheme
        break;
      }
      i++;
      skipWs();
      let value: string | undefined;
      if (s[i] === '"') value = readQuoted();
      else value = readToken();
      if (value === undefined) return out;
      ch.params[name.toLowerCase()] = value;
      skipWs();
      if (i < s.length && s[i] !== ',') return out; // malformed separator
    }
  }
  return out;
}
