import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChanges } from './config-changes.js';

test('CMD and ENTRYPOINT take the exec (JSON) and shell forms', () => {
  assert.deepEqual(applyChanges({}, ['CMD ["a", "b c"]']).Cmd, ['a', 'b c']);
  assert.deepEqual(applyChanges({}, ['cmd echo "hi there"']).Cmd, ['/bin/sh', '-c', 'echo "hi there"']);
  assert.deepEqual(applyChanges({}, ['ENTRYPOINT ["/init"]']).Entrypoint, ['/init']);
  // Not valid JSON: Docker falls back to the shell form.
  assert.deepEqual(applyChanges({}, ['CMD [oops']).Cmd, ['/bin/sh', '-c', '[oops']);
});

test('ENV and LABEL take key=value pairs with quotes, or the legacy one-pair form; later values win', () => {
  const c = applyChanges({ Env: ['PATH=/bin', 'A=0'] }, ['ENV A=1 B="two words" C=x\\ y', 'ENV D the rest of it', 'LABEL "k 1"=v k2=\'w x\'']);
  assert.deepEqual(c.Env, ['PATH=/bin', 'A=1', 'B=two words', 'C=x y', 'D=the rest of it']);
  assert.deepEqual(c.Labels, { 'k 1': 'v', k2: 'w x' });
});

test('EXPOSE, WORKDIR, USER, VOLUME, ONBUILD and HEALTHCHECK', () => {
  const c = applyChanges({ WorkingDir: '/app' }, [
    'EXPOSE 80 53/UDP 8000-8001',
    'WORKDIR sub',
    'USER 1000:1000',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /cache',
    'ONBUILD RUN make',
    'HEALTHCHECK --interval=30s --retries=3 CMD curl -f http://localhost/',
  ]);
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
  assert.equal(c.WorkingDir, '/app/sub');
  assert.equal(c.User, '1000:1000');
  assert.deepEqual(c.Volumes, { '/data': {}, '/logs': {}, '/cache': {} });
  assert.deepEqual(c.OnBuild, ['RUN make']);
  assert.deepEqual(c.Healthcheck, { Interval: 30e9, Retries: 3, Test: ['CMD-SHELL', 'curl -f http://localhost/'] });
  assert.deepEqual(applyChanges({}, ['HEALTHCHECK NONE']).Healthcheck, { Test: ['NONE'] });
});

test('other instructions are refused with Docker\'s wording', () => {
  for (const kw of ['RUN x', 'ADD a b', 'COPY a b', 'ARG x', 'SHELL ["sh"]', 'MAINTAINER me', 'STOPSIGNAL 9', 'FROM x']) {
    const word = kw.split(' ')[0]!.toLowerCase();
    assert.throws(() => applyChanges({}, [kw]), { message: `${word} is not a valid change command` });
  }
  assert.throws(() => applyChanges({}, ['EXPOSE eighty']), { message: 'invalid containerPort: eighty' });
});
