#!/usr/bin/env node
// Writes schemas/star.schema.json, the JSON Schema of star.json that the extension contributes to VS Code, from its
// one definition (src/engine/configSchema.ts). A unit test fails while the file in git differs from the definition.
import { build } from 'esbuild';
import { writeFileSync } from 'fs';

const out = await build({
  entryPoints: ['src/engine/configSchema.ts'], bundle: true, platform: 'node', format: 'esm', write: false,
  logLevel: 'warning',
});
const code = Buffer.from(out.outputFiles[0].text).toString('base64');
const { starSchemaText } = await import(`data:text/javascript;base64,${code}`);
writeFileSync('schemas/star.schema.json', starSchemaText());
console.log('wrote schemas/star.schema.json');
