#!/usr/bin/env node
// Writes docs/reference/<operator>-crds.md: a table per kind of every field of the CRDs an
// operator's code defines (`CRDS` of its dist/index.js, so run `./pnpmw build` first), with
// type, default, validation and meaning taken from the schema. Meanings are the schemas'
// `description`s (what `kubectl explain` shows); a description ending in "Default: X."
// gives the default column, as the schemas leave defaulting to the operators.
//
//   node scripts/generate-crd-docs.mjs           # write the files
//   node scripts/generate-crd-docs.mjs --check   # exit 1 when a file is not up to date
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const OPERATORS = ['cert-operator', 'dns-operator'];
// CRDs of @chousei/dns that both operators ship (DomainPolicy): one page of their own, which
// the operators' pages point to.
const SHARED = {
  name: 'domain-policy',
  source: 'packages/dns/src/domain-policy',
  readers:
    'what the operators do with it is in [dns-operator.md](../dns-operator.md#who-may-claim-which-names) and [cert-operator.md](../cert-operator.md#who-may-claim-which-names)',
};
const check = process.argv.includes('--check');

/** A table cell: one line, pipes escaped (also inside code spans, as GFM tables want). */
const cell = (text) =>
  String(text)
    .replace(/\s*\n\s*/g, ' ')
    .replace(/\|/g, '\\|');
const code = (text) => `\`${text}\``;

const DEFAULT = /\s*Default: (.+?)\.?$/;

/** The description without its closing "Default: X." sentence, and X. */
function splitDefault(description = '') {
  const m = DEFAULT.exec(description);
  return m
    ? { meaning: description.slice(0, m.index).trim(), fromText: m[1] }
    : { meaning: description.trim(), fromText: undefined };
}

function typeOf(schema) {
  if (schema.type === 'array') return `[]${typeOf(schema.items ?? {})}`;
  if (schema.type === 'object' && schema.additionalProperties) {
    return `map[string]${typeOf(schema.additionalProperties)}`;
  }
  return schema.type ?? 'any';
}

/** Constraints of a scalar schema, in words. */
function scalarRules(schema) {
  const out = [];
  if (schema.enum) out.push(`one of ${schema.enum.map(code).join(', ')}`);
  if (schema.pattern) out.push(`pattern ${code(schema.pattern)}`);
  if (schema.format) out.push(`format ${schema.format}`);
  const range = (min, max, unit) => {
    if (min !== undefined && max !== undefined) return `${min}–${max} ${unit}`;
    if (min === 1) return 'not empty';
    if (min !== undefined) return `at least ${min} ${unit}`;
    if (max !== undefined) return `at most ${max} ${unit}`;
    return undefined;
  };
  const length = range(schema.minLength, schema.maxLength, 'characters');
  if (length) out.push(length);
  if (schema.minimum !== undefined && schema.maximum !== undefined) {
    out.push(`from ${schema.minimum} to ${schema.maximum}`);
  } else if (schema.minimum !== undefined) out.push(`at least ${schema.minimum}`);
  else if (schema.maximum !== undefined) out.push(`at most ${schema.maximum}`);
  return out;
}

/** Rows for every property under `schema`, depth first, in the order the schema lists them. */
function rows(schema, prefix, inherited = []) {
  const out = [];
  const required = new Set(schema.required ?? []);
  // CEL rules naming a child (fieldPath `.x`) are listed with that child.
  const celFor = new Map();
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    const child = rule.fieldPath?.replace(/^\./, '') ?? '';
    celFor.set(child, [...(celFor.get(child) ?? []), rule.message]);
  }
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    const rules = [];
    if (required.has(name)) rules.push('required');
    if (prop.type === 'array') {
      const range =
        prop.minItems !== undefined && prop.maxItems !== undefined
          ? `${prop.minItems}–${prop.maxItems} items`
          : prop.maxItems !== undefined
            ? `at most ${prop.maxItems} items`
            : prop.minItems !== undefined
              ? prop.minItems === 1
                ? 'not empty'
                : `at least ${prop.minItems} items`
              : undefined;
      if (range) rules.push(range);
      const each = scalarRules(prop.items ?? {});
      if (each.length) rules.push(`each: ${each.join(', ')}`);
      if (prop['x-kubernetes-list-type'] === 'map') {
        rules.push(`one entry per ${(prop['x-kubernetes-list-map-keys'] ?? []).join(', ')}`);
      }
    } else {
      rules.push(...scalarRules(prop));
    }
    rules.push(
      ...(celFor.get(name) ?? []),
      ...inherited.filter((r) => r.field === name).map((r) => r.message),
    );
    rules.push(
      ...(prop['x-kubernetes-validations'] ?? []).filter((r) => !r.fieldPath).map((r) => r.message),
    );
    const { meaning, fromText } = splitDefault(prop.description);
    const def = prop.default !== undefined ? code(JSON.stringify(prop.default)) : (fromText ?? '');
    out.push({ path, type: typeOf(prop), def, rules, meaning });
    if (prop.type === 'object' && prop.properties) out.push(...rows(prop, path));
    if (prop.type === 'array' && prop.items?.properties) {
      // Rules on the item naming one of its fields go with that field.
      const itemRules = (prop.items['x-kubernetes-validations'] ?? [])
        .filter((r) => r.fieldPath)
        .map((r) => ({ field: r.fieldPath.replace(/^\./, ''), message: r.message }));
      const nested = rows(
        { ...prop.items, 'x-kubernetes-validations': [] },
        `${path}[]`,
        itemRules,
      );
      const whole = (prop.items['x-kubernetes-validations'] ?? []).filter((r) => !r.fieldPath);
      if (whole.length) out.at(-1).rules.push(...whole.map((r) => `each: ${r.message}`));
      out.push(...nested);
    }
  }
  return out;
}

function table(list) {
  const lines = [
    '| field | type | default | validation | meaning |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const r of list) {
    lines.push(
      `| ${[code(r.path), code(r.type), r.def, r.rules.join('; '), r.meaning].map(cell).join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

function render({ name, source, readers }, crds, shared = new Set()) {
  const parts = [
    `# ${name} custom resources`,
    '',
    `Generated by \`scripts/generate-crd-docs.mjs\` from the schemas in \`${source}\``,
    '(the same text `kubectl explain` shows); do not edit. "required" and the validation column',
    `are enforced by the API server; ${readers}.`,
  ];
  const seen = new Map();
  for (const crd of crds) {
    if (shared.has(crd.metadata.name)) {
      parts.push('', `## ${crd.spec.names.kind}`, '');
      parts.push(
        `\`${crd.spec.group}/${crd.spec.versions[0].name}\`, shipped by both operators' charts: every field in [${SHARED.name}-crds.md](${SHARED.name}-crds.md).`,
      );
      continue;
    }
    const { spec } = crd;
    const version = spec.versions.find((v) => v.storage) ?? spec.versions[0];
    const schema = version.schema.openAPIV3Schema;
    const kind = spec.names.kind;
    parts.push('', `## ${kind}`, '');
    parts.push(
      `\`${spec.group}/${version.name}\`, ${spec.scope === 'Namespaced' ? 'namespaced' : 'cluster-scoped'}; ` +
        `\`kubectl get ${spec.names.plural}\`${spec.names.shortNames?.length ? ` (short: ${spec.names.shortNames.map(code).join(', ')})` : ''}.`,
    );
    if (version.additionalPrinterColumns?.length) {
      parts.push(`Columns: ${version.additionalPrinterColumns.map((c) => c.name).join(', ')}.`);
    }
    const key = JSON.stringify(schema);
    if (seen.has(key)) {
      parts.push('', `The same fields as ${seen.get(key)}.`);
      continue;
    }
    seen.set(key, kind);
    if (schema.description) parts.push('', schema.description);
    for (const section of ['spec', 'status']) {
      const node = schema.properties?.[section];
      if (!node) continue;
      parts.push('', `### ${kind} ${section}`, '');
      const list = rows({ properties: { [section]: node }, required: schema.required });
      parts.push(table(list));
    }
  }
  return `${parts.join('\n')}\n`;
}

const { CRDS: sharedCRDs } = await import(
  pathToFileURL(join(root, 'packages', 'dns', 'dist', 'index.js')).href
);
const sharedNames = new Set(sharedCRDs.map((crd) => crd.metadata.name));
const pages = [
  ...(await Promise.all(
    OPERATORS.map(async (name) => {
      const { CRDS } = await import(
        pathToFileURL(join(root, 'operators', name, 'dist', 'index.js')).href
      );
      const page = {
        name,
        source: `operators/${name}/src/api`,
        readers: `what the operator does with each field is in [${name}.md](../${name}.md)`,
      };
      return { name, text: render(page, CRDS, sharedNames) };
    }),
  )),
  { name: SHARED.name, text: render(SHARED, sharedCRDs) },
];

let stale = 0;
for (const { name, text } of pages) {
  const path = join(root, 'docs', 'reference', `${name}-crds.md`);
  if (check) {
    const current = await readFile(path, 'utf8').catch(() => '');
    if (current !== text) {
      console.error(
        `${relative(root, path)} is not up to date: run node scripts/generate-crd-docs.mjs`,
      );
      stale++;
    }
    continue;
  }
  await mkdir(join(root, 'docs', 'reference'), { recursive: true });
  await writeFile(path, text);
  console.log(`wrote ${relative(root, path)}`);
}
if (stale) process.exitCode = 1;
