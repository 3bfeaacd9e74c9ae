import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressRenderer, progressText } from './progress-renderer.js';
import { renderTable } from './table.js';

test('tables align like Go tabwriter: min width 10, padding 3, last column unpadded', () => {
  assert.equal(
    renderTable([
      ['REPOSITORY', 'TAG', 'IMAGE ID'],
      ['127.0.0.1:5001/multi', '<none>', 'dbeffba3a286'],
    ]),
    'REPOSITORY             TAG       IMAGE ID\n127.0.0.1:5001/multi   <none>    dbeffba3a286\n',
  );
});

test('progress text is Docker jsonmessage: bar of 50 cells above 110 columns, sizes in 4 digits', () => {
  assert.equal(progressText(552960, 110134258, true), `[>${' '.repeat(50)}]    553kB/110.1MB`);
  assert.equal(progressText(22770000, 110134258, true), `[${'='.repeat(10)}>${' '.repeat(40)}]  22.77MB/110.1MB`);
  assert.equal(progressText(22770000, 110134258, false), ' 22.77MB/110.1MB');
});

test('without a terminal only lines without progress are printed', () => {
  let out = '';
  const r = new ProgressRenderer({ write: (s) => void (out += s), isTTY: false });
  r.handle({ kind: 'message', id: '1.0', text: 'Pulling from bb' });
  r.handle({ kind: 'layer', id: 'c48e55021c4b', action: 'pulling' });
  r.handle({ kind: 'layer', id: 'c48e55021c4b', action: 'downloading', current: 10, total: 100 });
  r.handle({ kind: 'layer', id: 'c48e55021c4b', action: 'complete' });
  r.handle({ kind: 'message', text: 'Digest: sha256:abc' });
  assert.equal(out, '1.0: Pulling from bb\nc48e55021c4b: Pulling fs layer\nc48e55021c4b: Pull complete\nDigest: sha256:abc\n');
});

test('on a terminal each id owns a line rewritten in place', () => {
  let out = '';
  const r = new ProgressRenderer({ write: (s) => void (out += s), isTTY: true, columns: 80 });
  r.handle({ kind: 'layer', id: 'aaa', action: 'pulling' });
  r.handle({ kind: 'layer', id: 'bbb', action: 'pulling' });
  r.handle({ kind: 'layer', id: 'aaa', action: 'downloading', current: 1000, total: 2000 });
  assert.equal(out, 'aaa: Pulling fs layer\nbbb: Pulling fs layer\n\x1b[2A\x1b[2K\raaa: Downloading      1kB/2kB\r\x1b[2B');
});
