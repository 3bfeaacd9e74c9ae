import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GoTemplate, TemplateContext, goJson } from './go-template.js';
import { parseFormat, renderTemplate } from './format.js';

const ctx = new TemplateContext('*formatter.imageContext', {
  ID: () => '0d7984e54bfe',
  Repository: 'lab',
  Tag: 'v1',
  Digest: '<none>',
  Size: '1.99MB',
});
const run = (src: string, data: unknown = ctx) => new GoTemplate(src).execute(data);

test('fields, text, tabs and pipes', () => {
  assert.equal(run('{{.ID}}\t{{.Repository}}:{{.Tag}}'), '0d7984e54bfe\tlab:v1');
  assert.equal(run('{{.Repository | upper}}'), 'LAB');
  assert.equal(run('{{ .Tag  }}'), 'v1');
  assert.equal(run('{{printf "%s-%5s|%-4s|" .Repository .Tag .Tag}}'), 'lab-   v1|v1  |');
  assert.equal(run('{{printf "%d items" 3}}'), '3 items');
  assert.equal(run('{{join (split "a,b,c" ",") "+"}}'), 'a+b+c');
  assert.equal(run('{{.Repository | title}} {{lower "ABC"}} {{truncate .ID 4}} [{{pad .Tag 1 2}}]'), 'Lab abc 0d79 [ v1  ]');
  assert.equal(run('{{println .Tag}}'), 'v1\n');
  assert.equal(run('{{len .Tag}}'), '2');
});

test('json of a context has every field, sorted, strings, HTML escaped like Go', () => {
  assert.equal(run('{{json .}}'), '{"Digest":"\\u003cnone\\u003e","ID":"0d7984e54bfe","Repository":"lab","Size":"1.99MB","Tag":"v1"}');
  assert.equal(run('{{json .Tag}}'), '"v1"');
  assert.equal(goJson({ a: '<&>' }), '{"a":"\\u003c\\u0026\\u003e"}');
});

test('if/else if/else, range, with, comparisons, trim markers and comments', () => {
  const data = { Tags: ['a:1', 'b:2'], Labels: { x: '1' }, Empty: [], N: 3, Name: 'n' };
  assert.equal(run('{{range .Tags}}[{{.}}]{{end}}', data), '[a:1][b:2]');
  assert.equal(run('{{range .Empty}}x{{else}}none{{end}}', data), 'none');
  assert.equal(run('{{with .Labels}}{{.x}}{{end}}', data), '1');
  assert.equal(run('{{if eq .N 1}}one{{else if eq .N 3}}three{{else}}many{{end}}', data), 'three');
  assert.equal(run('{{if and .Tags (gt .N 2)}}yes{{end}}', data), 'yes');
  assert.equal(run('{{if not .Empty}}empty{{end}}', data), 'empty');
  assert.equal(run('a {{- /* note */ -}} b', data), 'ab');
  assert.equal(run('{{index .Tags 1}} {{index .Labels "x"}} {{$.Name}}', data), 'b:2 1 n');
  assert.equal(run('{{.Labels.missing}}', data), '<no value>');
  assert.equal(run('{{.Tags}} {{.Labels}}', data), '[a:1 b:2] map[x:1]');
  assert.equal(run('{{(index .Tags 0) | upper}}', data), 'A:1');
});

test('errors read as Docker prints them', () => {
  assert.throws(() => run('{{.Nope}}'), {
    message: 'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.imageContext',
  });
  assert.throws(() => run('x\n  {{.ID}} {{.Bad}}'), { message: /template: :2:12: executing "" at <\.Bad>/ });
  assert.throws(() => new GoTemplate('{{.ID'), { message: /template parsing error: template: :1: unclosed action/ });
  assert.throws(() => new GoTemplate('{{nosuch .ID}}'), { message: /function "nosuch" not defined/ });
  assert.throws(() => new GoTemplate('{{if .ID}}x'), { message: /unexpected EOF/ });
  assert.throws(() => new GoTemplate('{{end}}'), { message: /unexpected \{\{end\}\}/ });
});

test('formats: table with headers aligned like tabwriter, json lines, raw templates with literal \\t', () => {
  const rows = [ctx, new TemplateContext('*formatter.imageContext', { ID: 'ff2abfd35b21', Repository: '127.0.0.1:5001/multi', Tag: '<none>', Digest: '', Size: '1.98MB' })];
  const headers = { ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', Size: 'SIZE' };
  const table = parseFormat('table {{.ID}}\\t{{.Repository}}\\t{{.Size}}');
  assert.equal(
    renderTemplate(table as typeof table & { template: GoTemplate }, rows, headers, '*formatter.imageContext'),
    'IMAGE ID       REPOSITORY             SIZE\n0d7984e54bfe   lab                    1.99MB\nff2abfd35b21   127.0.0.1:5001/multi   1.98MB\n',
  );
  const raw = parseFormat('{{.ID}}\\t{{.Tag}}');
  assert.equal(renderTemplate(raw as typeof raw & { template: GoTemplate }, rows, headers, 't'), '0d7984e54bfe\tv1\nff2abfd35b21\t<none>\n');
  const json = parseFormat('json');
  assert.equal(
    renderTemplate(json as typeof json & { template: GoTemplate }, rows.slice(1), headers, 't'),
    '{"Digest":"","ID":"ff2abfd35b21","Repository":"127.0.0.1:5001/multi","Size":"1.98MB","Tag":"\\u003cnone\\u003e"}\n',
  );
  assert.deepEqual(parseFormat('table'), { kind: 'table' });
  assert.equal(parseFormat('  {{.ID}}  ').template?.source, '{{.ID}}');
});
