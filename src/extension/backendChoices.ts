// The choices of Select Model Backend: only what can start here is offered, the others listed with why not, and
// the current setting marked. No vscode import, so the unit tests read it as the quick pick shows it.
import { BACKEND_ORDER as ORDER, BackendPresence } from '../engine/compute/presence';

export interface BackendChoice {
  label: string;
  description: string;
  /** Set for a backend that cannot start here: picking it changes nothing and says this. */
  missing?: string;
}

export function backendChoices(current: string, presence: BackendPresence): BackendChoice[] {
  const mark = (label: string, description: string) =>
    (label === current ? `${description} · current`.replace(/^ · /, '') : description);
  const fastest = ORDER.find((b) => presence[b] === null) ?? 'cpu';
  const choice = (label: string, description: string, missing?: string) =>
    ({ label, description: mark(label, description), missing });
  return [
    choice('project', "star.json's model.compute"),
    choice('auto', `the fastest one present: ${fastest} here`),
    ...ORDER.filter((b) => presence[b] === null).map((b) => choice(b, '')),
    ...ORDER.flatMap((b) => {
      const why = presence[b];
      return why === null ? [] : [choice(b, `not available here: ${why}`, why)];
    }),
  ];
}
