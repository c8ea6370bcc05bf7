// The packaged extension (out/star-studio.vsix, made by `npm run package` in pretest) holds only what it runs:
// the bundles, the wasm binaries, media, the native addon's prebuilds, star.json's schema, package.json and the README.
import assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const VSIX = path.resolve('out', 'star-studio.vsix');

/** Entry names of a zip file, from its central directory. */
function zipEntries(file: string): string[] {
  const buf = fs.readFileSync(file);
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'a zip file');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    assert.strictEqual(buf.readUInt32LE(at), 0x02014b50, 'central directory entry');
    const nameLen = buf.readUInt16LE(at + 28);
    const extra = buf.readUInt16LE(at + 30);
    const comment = buf.readUInt16LE(at + 32);
    names.push(buf.toString('utf8', at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extra + comment;
  }
  return names;
}

test('the .vsix holds only the bundles, wasm, media, prebuilds, the star.json schema, package.json and README', () => {
  assert.ok(fs.existsSync(VSIX), `${VSIX} is missing: run \`npm run package\``);
  const names = zipEntries(VSIX);
  const allowed = [
    /^\[Content_Types\]\.xml$/, /^extension\.vsixmanifest$/,
    /^extension\/package\.json$/, /^extension\/readme\.md$/i, /^extension\/LICENSE(\.(md|txt))?$/i,
    /^extension\/dist\/(extension|worker|cli)\.js$/, /^extension\/dist\/webview\/(report|exemplars)\.js$/,
    /^extension\/dist\/tfjs-backend-wasm[a-z-]*\.wasm$/, /^extension\/media\//, /^extension\/prebuilds\/[^/]+\/[^/]+\.node$/,
    /^extension\/schemas\/star\.schema\.json$/,
  ];
  const stray = names.filter((n) => !allowed.some((r) => r.test(n)));
  assert.deepStrictEqual(stray, [], 'nothing else (no sources, maps, node_modules, tests)');
  const needed = ['extension/dist/extension.js', 'extension/dist/worker.js', 'extension/dist/webview/report.js',
    'extension/dist/webview/exemplars.js', 'extension/dist/tfjs-backend-wasm.wasm', 'extension/media/star.svg',
    'extension/schemas/star.schema.json'];
  for (const need of needed)
    assert.ok(names.includes(need), `${need} is packaged`);
  assert.ok(names.some((n) => /^extension\/prebuilds\/linux-x64\/.+\.node$/.test(n)), 'the native addon is packaged');
});
