// Workspace trust as VS Code enforces it from the manifest: run commands hidden, run settings ignored when untrusted.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { test } from 'node:test';

const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));

test('commands that run the model are offered only in a trusted workspace', () => {
  const palette: { command: string; when?: string }[] = pkg.contributes.menus.commandPalette;
  for (const id of ['starStudio.runIteration', 'starStudio.runIterations', 'starStudio.resume', 'starStudio.selectBackend']) {
    const entry = palette.find((m) => m.command === id);
    assert.ok(entry?.when?.includes('isWorkspaceTrusted'), `${id} needs isWorkspaceTrusted in its when-clause`);
  }
});

test('every setting that changes a run is restricted in an untrusted workspace', () => {
  assert.equal(pkg.capabilities.untrustedWorkspaces.supported, 'limited');
  const restricted = new Set<string>(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations);
  const settings = Object.keys(pkg.contributes.configuration.properties ?? {});
  assert.ok(settings.length > 0);
  for (const key of settings) assert.ok(restricted.has(key), `${key} is not restricted`);
});
