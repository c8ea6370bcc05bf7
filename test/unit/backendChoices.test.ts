// Select Model Backend offers what can start here, says why the rest cannot, and marks the current setting.
import assert from 'node:assert/strict';
import test from 'node:test';
import { backendPresence } from '../../src/engine/compute/presence';
import { backendChoices } from '../../src/extension/backendChoices';

test('this machine: wasm and cpu offered; tfjs-node and a GPU missing, each with why', () => {
  const presence = backendPresence();
  assert.equal(presence.wasm, null);
  assert.equal(presence.cpu, null);
  // no tfjs-node (its install needs a host this machine cannot reach) and no GPU device node here
  assert.match(presence.tensorflow ?? '', /@tensorflow\/tfjs-node is not installed/);
  assert.match(presence.webgpu ?? '', /no GPU device|no Vulkan loader/);
  const choices = backendChoices('project', presence);
  assert.deepEqual(choices.filter((c) => !c.missing).map((c) => c.label), ['project', 'auto', 'wasm', 'cpu']);
  assert.deepEqual(choices.filter((c) => c.missing).map((c) => c.label), ['tensorflow', 'webgpu']);
  assert.match(choices.find((c) => c.label === 'auto')!.description, /fastest one present: wasm here/);
  assert.match(choices.find((c) => c.label === 'project')!.description, /· current$/);
});

test('the current setting is marked, also when it cannot start here; a GPU makes auto pick webgpu', () => {
  const gpu = { tensorflow: 'not installed', webgpu: null, wasm: null, cpu: null };
  const choices = backendChoices('tensorflow', gpu);
  assert.deepEqual(choices.map((c) => c.label), ['project', 'auto', 'webgpu', 'wasm', 'cpu', 'tensorflow']);
  assert.equal(choices.at(-1)!.description, 'not available here: not installed · current');
  assert.equal(choices.filter((c) => c.description.endsWith('current')).length, 1);
  assert.match(choices[1].description, /webgpu here/);
});
