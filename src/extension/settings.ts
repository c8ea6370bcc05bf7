// The extension's settings (see package.json's configuration schema) as run options for the worker.
import * as vscode from 'vscode';
import type { BackendChoice } from '../engine/store/format';
import type { WorkerRunOptions } from './workerProtocol';

export function section(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('starStudio');
}

/**
 * Overrides of star.json that the settings make; a setting left at null keeps the project's value. A resumed run
 * keeps its own seed (the engine refuses another), so the seed setting applies to new runs only.
 */
export function runOverrides(resume: boolean): WorkerRunOptions {
  const c = section();
  const backend = c.get<string>('backend', 'project');
  const num = (k: string) => {
    const v = c.get<number | null>(k, null);
    return typeof v === 'number' ? v : undefined;
  };
  const sampling = { k: num('sampling.k'), temperature: num('sampling.temperature'), topK: num('sampling.topK'), maxNewTokens: num('sampling.maxNewTokens') };
  const given = Object.fromEntries(Object.entries(sampling).filter(([, v]) => v !== undefined));
  return {
    compute: backend === 'project' ? undefined : (backend as BackendChoice),
    seed: resume ? undefined : num('seed'),
    sampling: Object.keys(given).length ? given : undefined,
    honourAnnotations: c.get<boolean>('honourAnnotations', false) || undefined,
  };
}

export function defaultIterations(): number | undefined {
  const v = section().get<number | null>('iterations', null);
  return typeof v === 'number' ? v : undefined;
}
