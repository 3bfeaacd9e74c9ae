/** What a request needs or a token grants: `repository:NAME:pull,push`, `registry:catalog:*`. */
export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/** Parse one `scope` value (space-separated entries). Malformed entries are dropped. */
export function parseScope(scope: string): Access[] {
  const out: Access[] = [];
  for (const entry of scope.split(' ').filter(Boolean)) {
    // The name itself may hold a colon (a host:port prefix), so split at the first and last.
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    if (first <= 0 || last === first) continue;
    const type = entry.slice(0, first);
    const name = entry.slice(first + 1, last);
    const actions = entry.slice(last + 1).split(',').filter(Boolean);
    if (name && actions.length) out.push({ type, name, actions });
  }
  return out;
}

export const formatScope = (a: Access[]): string => a.map((x) => `${x.type}:${x.name}:${x.actions.join(',')}`).join(' ');

/** One line of the access policy: who (`*` any signed-in user, `anonymous`, or a user), on what (glob), may do what. */
export interface AccessRule {
  account: string;
  /** Repository name glob (`*` matches within one path component, `**` across), or `catalog`. */
  name: string;
  actions: string[];
  /** `repository` (default) or `registry`. */
  type?: string;
}

export interface AccessPolicyOptions {
  rules?: AccessRule[];
  /** Anonymous users may pull every repository and list the catalog. */
  anonymousRead?: boolean;
  /** Users with every action everywhere, repository deletion included. */
  admins?: string[];
}

function globToRegExp(glob: string): RegExp {
  const re = glob
    .split('**')
    .map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*'))
    .join('.*');
  return new RegExp(`^${re}$`);
}

/**
 * Who may do what. Without rules every signed-in user may pull, push and delete everywhere (and
 * list the catalog); `admins` get `*` (repository deletion); anonymous users get pull only with
 * `anonymousRead`. With rules, a signed-in user gets what the rules for `*` and for them grant.
 */
export class AccessPolicy {
  private readonly rules: Array<AccessRule & { re: RegExp }>;
  constructor(private readonly o: AccessPolicyOptions = {}) {
    this.rules = (o.rules ?? []).map((r) => ({ ...r, re: globToRegExp(r.name) }));
  }

  granted(user: string | undefined, type: string, name: string): Set<string> {
    const out = new Set<string>();
    if (user !== undefined && this.o.admins?.includes(user)) return new Set(['*', 'pull', 'push', 'delete']);
    // What anonymous users may do, signed-in users may do too.
    if (this.o.anonymousRead) {
      if (type === 'repository') out.add('pull');
      if (type === 'registry' && name === 'catalog') out.add('*');
    }
    if (user !== undefined && !this.o.rules) {
      if (type === 'repository') for (const a of ['pull', 'push', 'delete']) out.add(a);
      if (type === 'registry' && name === 'catalog') out.add('*');
    }
    for (const r of this.rules) {
      const who = r.account === 'anonymous' || (user !== undefined && (r.account === '*' || r.account === user));
      if (!who || (r.type ?? 'repository') !== type || !r.re.test(name)) continue;
      for (const a of r.actions) out.add(a);
    }
    return out;
  }

  /** The subset of `wanted` this user gets. */
  grant(user: string | undefined, wanted: Access[]): Access[] {
    const out: Access[] = [];
    for (const w of wanted) {
      const g = this.granted(user, w.type, w.name);
      const actions = w.actions.filter((a) => g.has(a) || g.has('*'));
      if (actions.length) out.push({ type: w.type, name: w.name, actions });
    }
    return out;
  }

  allows(user: string | undefined, needed: Access[]): boolean {
    return needed.every((n) => {
      const g = this.granted(user, n.type, n.name);
      return n.actions.every((a) => g.has(a) || g.has('*'));
    });
  }
}

/** Does a token's `access` claim cover everything needed? */
export function accessCovers(granted: Access[], needed: Access[]): boolean {
  return needed.every((n) =>
    n.actions.every((a) => granted.some((g) => g.type === n.type && g.name === n.name && (g.actions.includes(a) || g.actions.includes('*')))),
  );
}
