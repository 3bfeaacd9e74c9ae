import { it } from 'node:test';
import { strict as assert } from 'node:assert';
import { isCode } from '../errors/index.js';
import { failpoint } from './failpoint.js';

it('failpoint is a no-op unless named', () => {
  failpoint('a.b', {});
  failpoint('a.b', { LADING_FAILPOINT: 'x.y:error' });
});

it('failpoint throws INTERNAL for an error action', () => {
  assert.throws(
    () => failpoint('a.b', { LADING_FAILPOINT: 'x.y:crash, a.b:error' }),
    (e: unknown) => isCode(e, 'INTERNAL') && (e as Error).message === 'failpoint' && (e as { detail?: { failpoint?: string } }).detail?.failpoint === 'a.b',
  );
  assert.throws(() => failpoint('a.b', { LADING_FAILPOINT: 'a.b:explode' }), (e: unknown) => isCode(e, 'INTERNAL'));
});
