import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { RegistryHosts } from './hosts.js';
import { isInternalHost, isLoopbackHost } from './address.js';

test('docker.io maps to registry-1.docker.io over HTTPS', () => {
  const h = new RegistryHosts();
  assert.deepEqual(h.upstream('docker.io'), { registry: 'docker.io', base: 'https://registry-1.docker.io', host: 'registry-1.docker.io', mirror: false });
  assert.equal(h.upstream('index.docker.io').base, 'https://registry-1.docker.io');
  assert.equal(h.upstream('quay.io').base, 'https://quay.io');
});

test('loopback registries and configured insecure ones use plain HTTP', () => {
  const h = new RegistryHosts({ insecure: ['myreg:5000', '10.0.0.0/8', 'plain.example'] });
  assert.equal(h.upstream('localhost:5000').base, 'http://localhost:5000');
  assert.equal(h.upstream('127.0.0.1:5000').base, 'http://127.0.0.1:5000');
  assert.equal(h.upstream('127.1.2.3').base, 'http://127.1.2.3');
  assert.equal(h.upstream('[::1]:5000').base, 'http://[::1]:5000');
  assert.equal(h.upstream('myreg:5000').base, 'http://myreg:5000');
  assert.equal(h.upstream('myreg:5001').base, 'https://myreg:5001');
  assert.equal(h.upstream('10.1.2.3:5000').base, 'http://10.1.2.3:5000');
  assert.equal(h.upstream('11.1.2.3:5000').base, 'https://11.1.2.3:5000');
  assert.equal(h.upstream('plain.example').base, 'http://plain.example');
  assert.equal(h.upstream('192.168.1.1:5000').base, 'https://192.168.1.1:5000');
});

test('mirrors come first, for pulls only', () => {
  const h = new RegistryHosts({ mirrors: { 'docker.io': ['http://127.0.0.1:5555/', 'https://mirror.example/prefix'] } });
  assert.deepEqual(
    h.endpoints('docker.io', { pull: true }).map((e) => [e.base, e.mirror]),
    [
      ['http://127.0.0.1:5555', true],
      ['https://mirror.example/prefix', true],
      ['https://registry-1.docker.io', false],
    ],
  );
  assert.deepEqual(h.endpoints('docker.io', { pull: false }).map((e) => e.base), ['https://registry-1.docker.io']);
  assert.throws(() => new RegistryHosts({ mirrors: { 'docker.io': ['ftp://x'] } }), { code: 'INVALID_ARGUMENT' });
});

test('internal address classification (SSRF check)', () => {
  for (const h of ['127.0.0.1', 'localhost', 'a.localhost', '10.2.3.4', '172.16.0.1', '192.168.0.1', '169.254.169.254', '0.0.0.0', '::1', '[::1]', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1']) {
    assert.equal(isInternalHost(h), true, h);
  }
  for (const h of ['8.8.8.8', 'registry-1.docker.io', '172.32.0.1', '2001:db8::1', 'example.com']) assert.equal(isInternalHost(h), false, h);
  assert.equal(isLoopbackHost('10.0.0.1'), false);
  assert.equal(isLoopbackHost('127.9.9.9'), true);
});
