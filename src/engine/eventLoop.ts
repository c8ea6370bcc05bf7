// A long loop of tfjs work never returns to the event loop by itself (its awaits resolve as microtasks), so signal
// handlers, timers and IPC messages (Ctrl-C, the stop poll, the extension's Stop) would wait until the loop ends.
/** Lets pending events run; call once per training step or decoded token. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
