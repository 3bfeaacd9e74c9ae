import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { LadingError } from '../errors/index.js';
import {
  familiarName,
  familiarString,
  fullString,
  matchesReferencePattern,
  parseReference,
  parseTagTarget,
  withDefaultTag,
  type Reference,
} from './index.js';

const chars = (alphabet: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...alphabet), minLength, maxLength });

const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';
const HOSTCH = `${LOWER}ABCDEFGHIJKLMNOPQRSTUVWXYZ`;
const alnum = chars(LOWER, 1, 5);
const separator = fc.constantFrom('.', '_', '__', '-', '--', '---');
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 2 }))
  .map(([a, rest]) => a + rest.map(([s, b]) => s + b).join(''));
const path = fc.array(pathComponent, { minLength: 1, maxLength: 3 }).map((cs) => cs.join('/'));
const hostComponent = fc.oneof(
  chars(HOSTCH, 1, 1),
  fc.tuple(chars(HOSTCH, 1, 1), chars(`${HOSTCH}-`, 0, 4), chars(HOSTCH, 1, 1)).map(([a, b, c]) => a + b + c),
);
const port = fc.integer({ min: 0, max: 65535 }).map((p) => `:${p}`);
// Only things the split rule treats as a domain: a dot, a colon, localhost, or upper case.
const domain = fc.oneof(
  fc.constantFrom('docker.io', 'index.docker.io', 'localhost', 'localhost:5000', 'Docker.io', '[::1]:5000', '[fe80::1]'),
  fc
    .tuple(hostComponent, fc.array(hostComponent, { minLength: 1, maxLength: 2 }), fc.option(port, { nil: '' }))
    .map(([a, rest, p]) => [a, ...rest].join('.') + p),
  fc.tuple(hostComponent, port).map(([h, p]) => h + p),
  fc.tuple(chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1, 1), chars(HOSTCH, 0, 4)).map(([a, b]) => a + b),
  // Not a valid host, still a valid path: the domain-less quirk.
  fc.tuple(alnum, alnum, alnum).map(([a, b, c]) => `${a}_${b}.${c}`),
);
const tag = fc
  .tuple(chars(`${HOSTCH}_`, 1, 1), chars(`${HOSTCH}_.-`, 0, 12))
  .map(([a, b]) => a + b);
const digest = fc.oneof(
  chars('0123456789abcdef', 64, 64).map((h) => `sha256:${h}`),
  chars('0123456789abcdef', 128, 128).map((h) => `sha512:${h}`),
);
const validInput = fc
  .tuple(fc.option(domain, { nil: undefined }), path, fc.option(tag, { nil: undefined }), fc.option(digest, { nil: undefined }))
  .map(
    ([d, p, t, g]) =>
      (d !== undefined ? `${d}/` : '') + p + (t !== undefined ? `:${t}` : '') + (g !== undefined ? `@${g}` : ''),
  );

test('valid references parse, and fullString parses back to the same reference', () => {
  fc.assert(
    fc.property(validInput, (s) => {
      const r = parseReference(s);
      assert.deepEqual(parseReference(fullString(r)), r);
    }),
  );
});

test('normalisation is idempotent', () => {
  fc.assert(
    fc.property(validInput, (s) => {
      const once = parseReference(s);
      const twice = parseReference(fullString(once));
      assert.deepEqual(parseReference(fullString(twice)), once);
      assert.equal(fullString(twice), fullString(once));
      assert.deepEqual(withDefaultTag(withDefaultTag(once)), withDefaultTag(once));
    }),
  );
});

// Docker's familiar form is ambiguous for a Hub path whose first component reads as a host
// (`docker.io/foo.bar/baz` shows as `foo.bar/baz`); see reference.test.ts.
const hubPathLooksLikeHost = (r: Reference): boolean => {
  if (r.domain !== 'docker.io') return false;
  const first = familiarName(r).split('/');
  return first.length > 1 && (first[0] === 'localhost' || (first[0] ?? '').includes('.'));
};

test('familiarString parses back to the same full reference', () => {
  fc.assert(
    fc.property(validInput, (s) => {
      const r = parseReference(s);
      fc.pre(!hubPathLooksLikeHost(r));
      assert.deepEqual(parseReference(familiarString(r)), r);
    }),
  );
});

test('tag targets always carry a tag and never a digest', () => {
  fc.assert(
    fc.property(validInput, (s) => {
      let r: Reference;
      try {
        r = parseTagTarget(s);
      } catch (e) {
        assert.ok(e instanceof LadingError && e.message === 'refusing to create a tag with a digest reference');
        assert.ok(s.includes('@'));
        return;
      }
      assert.ok(r.tag !== undefined && r.digest === undefined);
    }),
  );
});

const KNOWN_MESSAGES = [
  /^invalid reference format$/,
  /^invalid reference format: repository name \(.*\) must be lowercase$/s,
  /^repository name must be lowercase$/,
  /^repository name must not be more than 255 characters$/,
  /^invalid repository name \([a-f0-9]{64}\), cannot specify 64-byte hexadecimal strings$/,
  /^invalid checksum digest length$/,
  /^invalid checksum digest format$/,
  /^unsupported digest algorithm$/,
];

test('any string either parses to a round-tripping reference or fails with a known message', () => {
  const noise = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.array(fc.constantFrom('a', 'B', '0', '.', '_', '-', '/', ':', '@', '[', ']', 'sha256:', 'localhost', 'x.io'), { maxLength: 10 }).map((a) => a.join('')),
  );
  fc.assert(
    fc.property(noise, (s) => {
      let r: Reference;
      try {
        r = parseReference(s);
      } catch (e) {
        assert.ok(e instanceof LadingError, String(e));
        assert.equal(e.code, 'INVALID_ARGUMENT');
        assert.ok(KNOWN_MESSAGES.some((m) => m.test(e.message)), e.message);
        return;
      }
      assert.deepEqual(parseReference(fullString(r)), r);
    }),
    { numRuns: 500 },
  );
});

const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

test('glob: an escaped string matches itself; * matches exactly the strings without /', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), (s) => {
      assert.equal(matchesReferencePattern(escapeGlob(s), s), true);
      assert.equal(matchesReferencePattern('*', s), !s.includes('/'));
    }),
  );
});

test('glob: ? for any non-slash character, and * for any slash-free run, still match a familiar string', () => {
  fc.assert(
    fc.property(validInput, fc.nat(), fc.nat(), (s, i, j) => {
      const f = familiarString(parseReference(s));
      const k = i % f.length;
      const withQ = f[k] === '/' ? escapeGlob(f) : escapeGlob(f.slice(0, k)) + '?' + escapeGlob(f.slice(k + 1));
      assert.equal(matchesReferencePattern(withQ, f), true, withQ);
      // Replace the segment [k, end of that path component) with *.
      const stop = f.indexOf('/', k);
      const end = stop < 0 ? f.length : stop;
      const cut = Math.min(end, k + (j % 5));
      const withStar = escapeGlob(f.slice(0, k)) + '*' + escapeGlob(f.slice(cut));
      assert.equal(matchesReferencePattern(withStar, f), true, withStar);
    }),
  );
});
